"""A site's form from end to end, in the unit suite: Chromium on a small "business website" of its own origin with
the real snippet served by the production web server over the real app (/s/<key>.js, /s/<key>/collect,
/s/<key>/form); the visitor arrives from an ad, fills in the site's quote form and submits it; the site gets its
submission, and the form waits in the team's Incoming with its fields (never the password) and the ad's campaign."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_widget_browser import TIMEOUT_MS, VIEWPORT, chromium, pytestmark  # noqa: F401 (a fixture, marks)

from leadcenter.chats.models import ChatSession
from leadcenter.interactions.models import Interaction, Message

FORM = """<form data-leadcenter-form="Quote request" action="/thanks">
<label>Name <input name="name" autocomplete="name"></label><label>Phone <input type="tel" name="phone"></label>
<label>Job <textarea name="job"></textarea></label><label>Password <input type="password" name="pw"></label>
<button id="send">Send</button></form>"""


@pytest.fixture
def database(file_database):
    return file_database


@pytest.fixture
def site(server):
    """The business's site: its pages load the snippet from Lead Center (the production server)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = FORM if self.path.startswith("/quote") else "<p id='thanks'>Thanks</p>"
            page = f'<!doctype html><title>Quote</title><script src="http://{server}/s/{self.server.key}.js" async>'
            data = (page + f"</script>{body}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_visitor_from_an_ad_sends_the_sites_form_and_it_waits_in_incoming(world, controller, site, chromium):  # noqa: F811
    origin = f"http://127.0.0.1:{site.server_address[1]}"
    widget = controller.chats.widget_of(world["a"]["company"])
    widget.allowed_origins = origin
    widget.team = world["a"]["team"]
    widget.save()
    site.key = widget.public_key
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        landing = f"{origin}/quote?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=EAIa"
        page.goto(landing, referer="https://www.google.com/")
        key = f"localStorage.getItem('lc-chat:{widget.public_key}:visitor')"
        for _ in range(200):  # the first view's answer gives the visitor's key: at most 10 s
            if page.evaluate(key):
                break
            page.wait_for_timeout(50)
        assert page.evaluate(key), "the collection never answered"
        page.fill("input[name=name]", "Ada Lovelace")
        page.fill("input[name=phone]", "404 555 0142")
        page.fill("textarea[name=job]", "New gutters <b>asap</b>")
        page.fill("input[name=pw]", "hunter2")
        page.click("#send")
        page.wait_for_url("**/thanks?*")  # the site's own submission
        form = None
        for _ in range(200):
            form = Interaction.get_or_none(Interaction.kind == "form")
            if form is not None:
                break
            page.wait_for_timeout(50)
        assert form is not None, "the form never reached Lead Center"
        assert (form.status, form.team_id, form.lead_number) == ("incoming", world["a"]["team"].id, "+14045550142")
        assert (form.campaign, form.click_id, form.medium, form.landing_page) == ("spring", "EAIa", "cpc", landing)
        assert Message.get(Message.interaction == form).body == (
            "Name: Ada Lovelace\nPhone: 404 555 0142\nJob: New gutters <b>asap</b>"
        )
        assert ChatSession.get(ChatSession.interaction == form).form_name == "Quote request"
        assert errors == []
    finally:
        context.close()
