"""Custom dialplan contexts on the real Asterisk: the installation owner (the demo's admin, whom the demo seeds as
the owner) writes a context, a call flow step sends a SIPp caller into it and it answers; a save with a syntax error
is refused with Asterisk's own words and the context that was there keeps answering calls."""

from __future__ import annotations

import contextlib

import pytest
from harness import wait_for
from sipp import SippPhone

from leadcenter.tracking_numbers.models import TrackingNumber

WEBSITE_LINE = "+14045550101"
ALICE, BOB = 1, 2
# v1 rings Alice's desk phone; the version with a syntax error would ring Bob's.
RINGS_ALICE = (
    "; the website line after hours: Alice's desk phone\n"
    "exten => s,1,NoOp(custom v1)\n same => n,Dial(PJSIP/desk1,20)\n same => n,Hangup()\n"
)
BROKEN = "exten => s,1,NoOp(custom v2)\n same => n,Dial(PJSIP/desk2,20\n same => n,Hangup()\n"


@pytest.fixture
def owner(running):
    with contextlib.closing(running.sign_in("admin@acme.example")) as client:
        yield client


@pytest.fixture
def custom_line(running, owner):
    """The Website line's calls go through a flow whose one step is the custom context ``website-night``; put back
    as it was afterwards."""
    number = TrackingNumber.get(TrackingNumber.number == WEBSITE_LINE)
    answer = owner.post("/api/v1/dialplans", json={"name": "website-night", "text": RINGS_ALICE})
    assert answer.status_code == 201, answer.text
    flow = owner.post(
        "/api/v1/flows", json={"name": "Night", "steps": [{"type": "custom", "context": "website-night"}]}
    )
    assert flow.status_code == 201, flow.text
    moved = owner.patch(f"/api/v1/tracking-numbers/{number.id}", json={"flow": flow.json()["id"]})
    assert moved.status_code == 200, moved.text
    yield number
    owner.patch(f"/api/v1/tracking-numbers/{number.id}", json={"flow": number.flow_id})
    owner.delete(f"/api/v1/flows/{flow.json()['id']}")
    owner.delete("/api/v1/dialplans/website-night")


def _rings(peers, alice: SippPhone, bob: SippPhone, caller: str) -> str:
    """Call the Website line; whose desk phone the custom context rang."""
    before = (len(alice.invites()), len(bob.invites()))
    handle = peers.call(caller, duration=3, did=WEBSITE_LINE)
    rung = wait_for(
        lambda: "alice" if len(alice.invites()) > before[0] else "bob" if len(bob.invites()) > before[1] else None,
        15,
        what="a desk phone to ring from the custom context",
    )
    handle.wait(30)
    return rung


def test_a_custom_context_answers_calls_and_a_save_asterisk_refuses_changes_nothing(running, peers, owner, custom_line):
    shown = running.instance.rx("dialplan show custom-website-night") or ""
    assert "Dial(PJSIP/desk1,20)" in shown, shown
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        assert _rings(peers, alice, bob, "+14045550361") == "alice"

        refused = owner.patch("/api/v1/dialplans/website-night", json={"text": BROKEN})
        assert refused.status_code == 422, refused.text
        error = refused.json()
        assert error["error"] == "asterisk-refused"
        # Asterisk's own words, the line numbered as the owner wrote it.
        assert "No closing parenthesis found? 'Dial(PJSIP/desk2,20' at line 2" in error["message"], error
        assert "No closing parenthesis" in error["fields"]["text"]

        # The running dialplan never saw the text: the context that was there keeps answering.
        shown = running.instance.rx("dialplan show custom-website-night") or ""
        assert "Dial(PJSIP/desk1,20)" in shown and "desk2" not in shown, shown
        assert _rings(peers, alice, bob, "+14045550362") == "alice"

    stored = owner.get("/api/v1/dialplans/website-night").json()
    assert (stored["version"], stored["text"]) == (1, RINGS_ALICE)
    assert [v["number"] for v in owner.get("/api/v1/dialplans/website-night/versions").json()] == [1]


def test_asterisks_complaints_about_priorities_and_our_checks_about_applications(running, owner, custom_line):
    refused = owner.patch(
        "/api/v1/dialplans/website-night", json={"text": "exten => s,1,NoOp()\n same => x,Hangup()\n"}
    )
    assert refused.status_code == 422 and refused.json()["error"] == "asterisk-refused", refused.text
    assert "Invalid priority/label 'x' at line 2" in refused.json()["message"]
    ours = owner.patch("/api/v1/dialplans/website-night", json={"text": "exten => s,1,System(id)\n"})
    assert ours.status_code == 422 and ours.json()["error"] == "invalid-fields", ours.text
    # A good save is live at once, and a restore brings the first version back.
    saved = owner.patch(
        "/api/v1/dialplans/website-night", json={"text": "exten => s,1,NoOp(v2)\n same => n,Hangup()\n"}
    )
    assert saved.status_code == 200 and saved.json()["version"] == 2, saved.text
    assert "NoOp(v2)" in (running.instance.rx("dialplan show custom-website-night") or "")
    restored = owner.post("/api/v1/dialplans/website-night/versions/1/restore")
    assert restored.status_code == 200 and restored.json()["version"] == 3, restored.text
    assert "Dial(PJSIP/desk1,20)" in (running.instance.rx("dialplan show custom-website-night") or "")
    # Nothing of a check stays loaded.
    assert (
        "lc-dialplan-check"
        not in (running.instance.rx("dialplan show lc-dialplan-check") or "").split("There is no")[0]
    )


def test_a_company_admin_gets_no_dialplan(running):
    from leadcenter.accounts.models import User

    admin = User.get(User.email == "admin@acme.example")
    User.update(owner=False).where(User.id == admin.id).execute()
    try:
        with contextlib.closing(running.sign_in("admin@acme.example")) as client:
            for path in ("/api/v1/dialplans", "/api/v1/generated-dialplan"):
                answer = client.get(path)
                assert (answer.status_code, answer.json()["error"]) == (403, "owner-only"), path
    finally:
        User.update(owner=True).where(User.id == admin.id).execute()
