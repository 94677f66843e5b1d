"""The chat widget: its settings for admins (``/api/v1/chat-widget``, with the snippet to paste), the snippet itself
(``/s/<public key>.js``, on every page of the company's site), what it asks before drawing the launcher
(``/s/<public key>.json``: online, colour, position; CORS for the allowed origins only) and the iframe page it
opens (``/w/<public key>``).

The widget's files are in ``web/widget/``: ``snippet.js``, minified into ``web/vendor/`` at set-up (2.8 KB), is
served with its two placeholders, the JavaScript string
literals ``'__LC_ORIGIN__'`` and ``'__LC_KEY__'`` (either quote), replaced by Lead Center's origin and the company's
public key (each as a JSON string); ``widget.html`` is the iframe's page, served as it is with a
Content-Security-Policy whose ``frame-ancestors`` are the company's allowed origins (no other site may frame it); its
scripts and styles are served from ``/widget/``. The page reads its key from its own path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from leadcenter.audit.services import record
from leadcenter.chats.models import ChatWidget
from leadcenter.chats.schemas import ChatWidgetChanges, ChatWidgetOut, origin_of, origins
from leadcenter.chats.services import new_public_key
from leadcenter.db import database
from leadcenter.errors import ApiError, not_found
from leadcenter.resources import WEB
from leadcenter.teams.models import Team
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.hardening import websocket_source
from leadcenter.web.scoping import scoped

bp = Blueprint("chats", __name__, url_prefix="/api/v1")
public = Blueprint("chat_widget", __name__)

WIDGET = WEB / "widget"
SNIPPET = WEB / "vendor" / "snippet.js"  # widget/snippet.js minified at set-up (make web-bundle): every page loads it
SNIPPET_MAX_AGE = 300  # seconds a browser or proxy may keep the snippet: a new key or widget reaches sites this fast
_KEY = re.compile(r"[A-Za-z0-9_-]{22}")
_PLACEHOLDER = re.compile(r"""(["'])(__LC_ORIGIN__|__LC_KEY__)\1""")  # a JavaScript string literal, either quote
# The iframe's page: its own origin's scripts, styles and websocket only; framed only by the company's site.
FRAME_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'{websocket}; "
    "form-action 'none'; base-uri 'none'; frame-ancestors {ancestors}"
)


def _base_url() -> str:
    return request.host_url.rstrip("/")


@endpoint(
    bp,
    "GET",
    "/chat-widget",
    role="supervisor",
    response=ChatWidgetOut,
    summary="The company's chat widget: its settings and the snippet to paste into every page of the site",
)
def get_chat_widget(principal: Principal):
    return ChatWidgetOut.from_row(ports.controller().chats.widget_of(principal.company), _base_url())


@endpoint(
    bp,
    "PATCH",
    "/chat-widget",
    role="admin",
    body=ChatWidgetChanges,
    response=ChatWidgetOut,
    summary="Change the chat widget (only the fields sent): the site's origins, greeting, colour, position, "
    "pre-chat fields, the team that gets its chats, the response timeout, chat hours; new_key replaces the snippet",
)
def patch_chat_widget(principal: Principal, body: ChatWidgetChanges):
    widget = ports.controller().chats.widget_of(principal.company)
    changes = body.model_dump(exclude_unset=True)
    columns: dict[str, Any] = {}
    for field in ("greeting", "color", "position", "response_timeout_seconds", "enabled"):
        if field in changes:
            columns[field] = changes[field]
    if "allowed_origins" in changes:
        columns["allowed_origins"] = "\n".join(changes["allowed_origins"])
    if "prechat" in changes:
        columns["prechat"] = json.dumps(body.prechat.model_dump() if body.prechat else {})
    if "hours" in changes:
        columns["hours"] = json.dumps(body.hours.model_dump()) if body.hours else None
    if "team_id" in changes:
        columns["team"] = scoped(Team, body.team_id, principal, "team").id if body.team_id is not None else None
    if changes.get("new_key"):
        columns["public_key"] = new_public_key()
    if columns:
        with database.atomic():
            before = ChatWidgetOut.from_row(widget, _base_url()).model_dump(mode="json")
            ChatWidget.update(columns).where(ChatWidget.id == widget.id).execute()
            after = ChatWidgetOut.from_row(ChatWidget.get_by_id(widget.id), _base_url()).model_dump(mode="json")
            record(
                principal,
                "updated",
                "chat_widget",
                widget.id,
                before,
                after,
                "new key" if "public_key" in columns else "",
            )
        ports.controller().chats.widget_changed()
    return ChatWidgetOut.from_row(ChatWidget.get_by_id(widget.id), _base_url())


def public_widget(public_key: str) -> ChatWidget:
    """The enabled widget with this public key (the snippet's URLs name it); 404 otherwise."""
    widget = ports.controller().chats.widget_by_key(public_key) if _KEY.fullmatch(public_key) else None
    if widget is None:
        raise not_found("chat widget")
    return widget


def _file(name: str) -> str:
    path = WIDGET / name
    if not path.is_file():
        raise not_found("widget file")
    return path.read_text()


@public.get("/s/<public_key>.js")
def snippet(public_key: str):
    """The snippet: small, cached; it opens the iframe when the visitor opens the launcher."""
    widget = public_widget(public_key)
    filled = {"__LC_ORIGIN__": _base_url(), "__LC_KEY__": widget.public_key}
    text = _PLACEHOLDER.sub(lambda found: json.dumps(filled[found.group(2)]), SNIPPET.read_text())
    response = Response(text, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={SNIPPET_MAX_AGE}"
    # Loaded by the company's pages from another origin: the script itself is public.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@public.get("/s/<public_key>.json")
def status(public_key: str):
    """What the snippet needs before it draws the launcher: whether anyone answers now, the colour and the side.
    Readable (CORS) only by pages of the company's allowed origins: the snippet on any other site stays hidden."""
    widget = public_widget(public_key)
    origin = site_origin(widget, "use this chat widget")
    return to_site(
        jsonify(online=ports.controller().chats.online(widget), color=widget.color, position=widget.position), origin
    )


def site_origin(widget: ChatWidget, to_do: str) -> str:
    """The Origin of a request from a page of the company's site: one of the widget's allowed origins, else
    origin-not-allowed (a page elsewhere, a sandboxed ``null``, none)."""
    origin = request.headers.get("Origin", "")
    try:
        allowed = origin_of(origin) in origins(widget.allowed_origins)
    except ValueError:
        allowed = False
    if not allowed:
        raise ApiError("origin-not-allowed", f"pages from {origin or 'nowhere'} may not {to_do}")
    return origin


def to_site(response: Response, origin: str) -> Response:
    """``response`` readable (CORS) by that page of the company's site only, never cached."""
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@public.get("/w/<public_key>")
def frame(public_key: str):
    """The iframe's page, which only the company's allowed origins may frame."""
    widget = public_widget(public_key)
    allowed = origins(widget.allowed_origins)
    response = Response(_file("widget.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_POLICY.format(
        websocket=websocket_source(), ancestors=" ".join(allowed) if allowed else "'none'"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
