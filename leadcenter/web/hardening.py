"""What every response carries and what no request may exceed, on both listeners.

- Security headers on every response (a view may set its own, e.g. a page meant to be framed): a strict
  Content-Security-Policy, since the app is static files and ES modules with no inline script or style, fetches and
  opens websockets only to its own origin and plays only its own audio; frame-ancestors 'none' (X-Frame-Options for
  older browsers); nosniff; no Referer; HSTS on the HTTPS listener only (over plain HTTP it means nothing, and the
  loopback listener must stay reachable).
- The session cookie: on the HTTPS listener ``__Host-session``, always Secure (the prefix makes browsers insist on
  Secure, path / and no Domain); on the plain listener ``session``, Secure only with ``http.secure_cookies`` (a
  plain listener behind a TLS proxy). Two names, because browsers share cookies across the ports of a host: a Secure
  ``session`` set over https://127.0.0.1:8443 would hide the loopback listener's own.
- A request target longer than MAX_URI, and what the gateway refused while reading the body (gateway.py: too large,
  too slow), are answered before any view runs, as the API's JSON errors (414, 413, 408).
"""
from __future__ import annotations

import re

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout, RequestURITooLarge

from leadcenter.web.gateway import BODY_REFUSED

MAX_URI = 8 * 1024  # the request target (path and query); nginx's default header buffer
HSTS_SECONDS = 365 * 24 * 3600
SECURE_COOKIE = "__Host-session"

# The app's own origin only: scripts (/js, /vendor), styles (/assets), audio (recordings, voicemail, greetings),
# fetch and its websockets (/api/v1/events, /sip; named with their ws/wss scheme too, for browsers whose 'self'
# does not cover websockets). Nothing else loads, nothing may frame the app, forms post only to it.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
          "connect-src 'self'{websockets}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_HOST = re.compile(r"[a-z0-9.-]+(:[0-9]{1,5})?|\[[0-9a-f:.]+\](:[0-9]{1,5})?", re.IGNORECASE)


def install(app: Flask, secure_cookies: bool) -> None:
    app.session_interface = ListenerSessionInterface()
    app.config["SESSION_COOKIE_SECURE"] = secure_cookies
    app.before_request(_limits)
    app.after_request(_headers)


class ListenerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, named and flagged for the listener the request came in on."""

    def get_cookie_name(self, app: Flask) -> str:
        return SECURE_COOKIE if request.is_secure else super().get_cookie_name(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def _limits() -> None:
    if len(request.environ.get("RAW_URI", "")) > MAX_URI:
        raise RequestURITooLarge(f"the request target is longer than {MAX_URI} bytes")
    refused = request.environ.get(BODY_REFUSED)
    if refused == "too-large":
        raise RequestEntityTooLarge()
    if refused == "too-slow":
        raise RequestTimeout("the request body did not arrive in time")


def websocket_source() -> str:
    """This origin's websockets for a policy's connect-src (" ws://host:port"), or "" for a Host that is no plain
    host[:port] (nothing a client sends reaches the header unchecked)."""
    host = request.host if _HOST.fullmatch(request.host) else None
    return f" {'wss' if request.is_secure else 'ws'}://{host}" if host else ""


def _headers(response: Response) -> Response:
    host = request.host if _HOST.fullmatch(request.host) else None
    policy = response.headers.setdefault("Content-Security-Policy", POLICY.format(websockets=websocket_source()))
    for name, value in HEADERS.items():
        # A page that names who may frame it (the chat widget's) must not be denied to them by the older header.
        if name != "X-Frame-Options" or "frame-ancestors 'none'" in policy:
            response.headers.setdefault(name, value)
    if request.is_secure and host and host.split(":")[0].lower() != "localhost":
        # Not for localhost: browsers apply HSTS to a host name on every port, and would then refuse
        # http://localhost:8080 (the loopback listener). IP addresses they never pin.
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response
