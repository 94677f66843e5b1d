"""The website snippet's capture of the site's own forms (web/widget/snippet.js) in Chromium, against the fake Lead
Center of test_snippet_tracking.py answering POST /s/<key>/form too: a form that opted in
(``data-leadcenter-form``) is sent as it is submitted, with its fields (labels, types, autocomplete tokens, the
chosen options' text), never its passwords, hidden fields or card fields; the site's own submission still happens;
a form that did not opt in sends nothing. Unit level: the server side is tests/unit/test_site_forms.py."""

from __future__ import annotations

import json

import pytest
from test_snippet_tracking import (
    FakeLeadCenter,
    visitor,  # noqa: F401 (a fixture)
    wait_until,
)
from test_widget_browser import KEY, chromium, pytestmark  # noqa: F401 (a fixture, marks)

QUOTE = """
<form id="quote" data-leadcenter-form="Quote request" action="/thanks" method="get">
  <label for="name">Your name</label><input id="name" name="name" autocomplete="name" value="Ada Lovelace">
  <label>Email <input type="email" name="email" value="ada@example.com"></label>
  <input type="tel" name="phone" aria-label="Phone" value="(404) 555-0142">
  <label>Service <select name="service"><option value="r">Roof repair</option>
    <option value="g" selected>Gutters</option></select></label>
  <label>Message <textarea name="message">Leaks
in the attic</textarea></label>
  <label><input type="checkbox" name="callback" checked> Call me back</label>
  <label><input type="radio" name="when" value="am"> Morning</label>
  <label><input type="radio" name="when" value="pm" checked> Afternoon</label>
  <input type="password" name="account_password" value="hunter2">
  <input name="cardno" autocomplete="cc-number" value="4111 1111 1111 1111">
  <input name="ref" placeholder="Reference" value="4111-1111-1111-1111">
  <input type="hidden" name="csrf" value="t0k3n">
  <input name="old" value="disabled one" disabled>
  <button id="send" type="submit">Send</button>
</form>
<form id="search" action="/results" method="get"><input name="q" value="roofs"><button id="go">Go</button></form>
"""


class FakeWithForms(FakeLeadCenter):
    """The fake Lead Center, taking the site's forms as /s/<key>/form does (CORS for the site)."""

    def request(self, handler, side):
        if side == "lead_center" and handler.command == "POST" and handler.path == f"/s/{KEY}/form":
            raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
            with self.lock:
                self.requests.append(
                    {"method": "POST", "path": handler.path, "headers": dict(handler.headers), "body": raw}
                )
            cors = {"Access-Control-Allow-Origin": handler.headers.get("Origin"), "Vary": "Origin"}
            return handler._answer(200, '{"received": true}', "application/json", cors)
        return super().request(handler, side)

    def forms(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["path"] == f"/s/{KEY}/form"]


@pytest.fixture
def lead_center():
    with FakeWithForms() as server:
        server.pages = {"/": QUOTE, "/thanks": "<p id='thanks'>Thanks</p>", "/results": "<p id='results'>1</p>"}
        yield server


def test_an_opted_in_form_is_sent_with_its_fields_and_the_site_still_gets_it(lead_center, visitor):  # noqa: F811
    page = visitor.page
    page.goto(lead_center.site + "/?utm_campaign=spring", referer="https://www.google.com/")
    wait_until(lambda: lead_center.collected("view"), "the view", page)
    wait_until(lambda: page.evaluate(f"localStorage.getItem('lc-chat:{KEY}:visitor')"), "the visitor's key", page)
    key = page.evaluate(f"localStorage.getItem('lc-chat:{KEY}:visitor')")
    page.click("#send")
    page.wait_for_url("**/thanks?*")  # the site's own submission happened, with every field
    assert "account_password=hunter2" in page.url and "csrf=t0k3n" in page.url
    wait_until(lambda: lead_center.forms(), "the form sent to Lead Center", page)
    [sent] = lead_center.forms()
    assert sent["form"] == "Quote request" and sent["visitor"] == key and sent["privacy"] is False
    assert sent["page"] == {
        "url": lead_center.site + "/?utm_campaign=spring",
        "title": "Plumbing",
        "referrer": "https://www.google.com/",
    }
    fields = [(f["name"], f["label"], f["type"], f["autocomplete"], f["value"]) for f in sent["fields"]]
    assert fields == [
        ("name", "Your name", "text", "name", "Ada Lovelace"),
        ("email", "Email", "email", "", "ada@example.com"),
        ("phone", "Phone", "tel", "", "(404) 555-0142"),
        ("service", "Service", "select-one", "", "Gutters"),
        ("message", "Message", "textarea", "", "Leaks\nin the attic"),
        ("callback", "Call me back", "checkbox", "", "yes"),
        ("when", "Afternoon", "radio", "", "pm"),
    ]
    for secret in ("hunter2", "4111", "t0k3n", "disabled one"):
        assert secret not in json.dumps(sent)
    # A request as the collection's: text/plain (no preflight), from the site's origin, without cookies.
    [request] = [r for r in lead_center.requests if r["path"] == f"/s/{KEY}/form"]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["content-type"] == "text/plain;charset=UTF-8" and headers["origin"] == lead_center.site
    assert "cookie" not in headers and {r["method"] for r in lead_center.requests} <= {"GET", "POST"}
    assert visitor.errors == []


def test_a_form_that_did_not_opt_in_sends_nothing(lead_center, visitor):  # noqa: F811
    page = visitor.page
    page.goto(lead_center.site + "/")
    wait_until(lambda: lead_center.collected("view"), "the view", page)
    page.click("#go")
    page.wait_for_url("**/results?q=roofs")
    wait_until(lambda: len(lead_center.collected("view")) == 2, "the results page's view", page)
    page.wait_for_timeout(500)
    assert lead_center.forms() == [] and visitor.errors == []


def test_a_form_the_site_sends_itself_is_sent_too_and_still_reaches_the_site(lead_center, visitor):  # noqa: F811
    """A site that sends its form with JavaScript (preventDefault, then its own fetch): both go."""
    page = visitor.page
    lead_center.pages["/"] = (
        '<form id="f" data-leadcenter-form="Callback"><input name="phone" type="tel" value="404 555 0142">'
        '<button id="b">Call me</button></form><p id="done"></p>'
    )
    page.goto(lead_center.site + "/")
    wait_until(lambda: lead_center.collected("view"), "the view", page)
    page.evaluate(
        "document.getElementById('f').addEventListener('submit', (e) => { e.preventDefault();"
        " document.getElementById('done').textContent = 'sent by the site: ' + new FormData(e.target).get('phone'); })"
    )
    page.click("#b")
    wait_until(lambda: lead_center.forms(), "the form sent to Lead Center", page)
    assert page.text_content("#done") == "sent by the site: 404 555 0142"
    assert [f["value"] for f in lead_center.forms()[0]["fields"]] == ["404 555 0142"]
    assert visitor.errors == []


def test_a_form_the_sites_script_submits_with_form_submit_is_sent_too(lead_center, visitor):  # noqa: F811
    """form.submit() fires no submit event: the snippet sees it all the same, and the site's submission happens."""
    page = visitor.page
    page.goto(lead_center.site + "/")
    wait_until(lambda: lead_center.collected("view"), "the view", page)
    page.evaluate("document.getElementById('quote').submit()")
    page.wait_for_url("**/thanks?*")
    wait_until(lambda: lead_center.forms(), "the form sent to Lead Center", page)
    [sent] = lead_center.forms()
    assert sent["form"] == "Quote request" and sent["fields"][0]["value"] == "Ada Lovelace"
    page.goto(lead_center.site + "/")
    wait_until(lambda: len(lead_center.collected("view")) == 3, "the form's page again", page)
    page.evaluate("document.getElementById('search').submit()")  # a form that did not opt in
    page.wait_for_url("**/results?q=roofs")
    page.wait_for_timeout(500)
    assert len(lead_center.forms()) == 1 and visitor.errors == []
