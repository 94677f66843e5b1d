"""Listen, whisper, barge on a live call, with the audio checked on the wire: a SIPp caller, a SIPp agent desk phone
and a SIPp supervisor desk phone each speak a tone of their own, and what Asterisk sends each of them is captured off
the loopback interface (rtp_capture.py) and searched for the others' tones.

listen: the supervisor hears the lead and the agent, nobody hears the supervisor; whisper: the agent's leg carries
the supervisor's tone, the lead's does not; barge: both do. A supervisor of another company gets 404 for the call,
and their device pointed at the call's channel directly hears nothing of it (Asterisk's spy group)."""

from __future__ import annotations

import contextlib
import re
import time

import httpx
import pytest
from harness import ADS_LINE, wait_for
from rtp_capture import RtpCapture, write_tone_pcap
from sipp import SippPhone, free_udp_port
from test_verbs import carrier, telephony, verb  # noqa: F401  (the fixture: a second Telephony in the test process)

from leadcenter.accounts.models import Membership, User
from leadcenter.agents.models import Agent
from leadcenter.audit.models import AuditEntry
from leadcenter.interactions.models import Interaction
from leadcenter.monitors.models import Monitor
from leadcenter.pbx import names
from leadcenter.tracking_numbers.models import TrackingNumber

ALICE, BOB = 1, 2  # the demo's agents: Alice takes the call, Bob (made a supervisor here) monitors it
BOB_EMAIL = "bob@acme.example"
# Far from each other, from DTMF and from the hold music's notes.
LEAD_HZ, AGENT_HZ, SUPERVISOR_HZ = 700, 1100, 1500
HEARD = 0.2  # share of a window's energy a tone must carry to count as heard: two tones mixed carry ~0.5 each
LISTEN = 3.0  # seconds of audio captured for each check


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    return {hz: write_tone_pcap(str(folder / f"tone{hz}.pcap"), hz, 60) for hz in (LEAD_HZ, AGENT_HZ, SUPERVISOR_HZ)}


@pytest.fixture
def supervisor(running):
    """Bob, a supervisor of Acme with his agent profile (his desk phone): Offline, so that the queue does not ring
    him; back to an agent afterwards."""
    bob = User.get(User.email == BOB_EMAIL)
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        assert admin.patch(f"/api/v1/users/{bob.id}", json={"role": "supervisor"}).status_code == 200
        try:
            with contextlib.closing(running.sign_in(BOB_EMAIL)) as client:
                running.choose_status(BOB_EMAIL, "offline")  # after signing in, which makes an agent Available
                yield client
        finally:
            assert admin.patch(f"/api/v1/users/{bob.id}", json={"role": "agent"}).status_code == 200


def heard(capture: RtpCapture, port: int) -> set[int]:
    """The tones sent to a peer's media port during the capture."""
    return {hz for hz in (LEAD_HZ, AGENT_HZ, SUPERVISOR_HZ) if len(capture.tone_at(hz, port=port, share=HEARD)) >= 3}


def listen(running, ports: dict[str, int]) -> dict[str, set[int]]:
    """What each peer (name -> its media port) hears for LISTEN seconds."""
    asterisk = running.settings.asterisk
    with RtpCapture(asterisk.rtp_start, asterisk.rtp_end) as capture:
        time.sleep(LISTEN)
    return {who: heard(capture, port) for who, port in ports.items()}


def assert_heard(running, ports: dict[str, int], expected: dict[str, set[int]], captures: int = 4) -> None:
    """Each peer hears what ``expected`` says: a capture half a second on, again until it does (the media moves a
    moment after the signalling that moved it, longer on a loaded machine), at most ``captures`` (LISTEN s each)."""
    for _ in range(captures):
        time.sleep(0.5)
        heard_now = listen(running, ports)
        if heard_now == expected:
            return
    assert heard_now == expected


def live_call(running, peers, tones, number: str, alice: SippPhone) -> tuple:
    caller = peers.call(number, duration=55, audio=tones[LEAD_HZ])
    alice.wait_for("ANSWERED", timeout=15)
    call = wait_for(
        lambda: (i := running.interaction(lead_number=number)) and i.answered_at and i.status == "active" and i,
        10,
        what="the call to be answered",
    )
    return caller, call


def test_listen_whisper_and_barge_are_heard_by_whom_they_should(running, peers, supervisor, tones):
    with (
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[SUPERVISOR_HZ]) as bob,
    ):
        caller, call = live_call(running, peers, tones, "+14045557501", alice)
        ports = {"lead": caller.sipp.media_port, "agent": alice.uas.media_port, "supervisor": bob.uas.media_port}

        running.wait_reachable(BOB)
        started = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "listen"})
        assert started.status_code == 201, started.text
        monitor = started.json()
        assert (monitor["interaction_id"], monitor["mode"], monitor["state"]) == (call.id, "listen", "active")
        assert monitor["supervisor"] == User.get(User.email == BOB_EMAIL).id and monitor["agent_id"] == ALICE
        bob.wait_for("ANSWERED", timeout=10)  # his desk phone rang and he picked up
        assert_heard(
            running,
            ports,
            {
                "lead": {AGENT_HZ},
                "agent": {LEAD_HZ},
                "supervisor": {LEAD_HZ, AGENT_HZ},  # both sides of the call
            },
        )

        # Mid-call, without hanging up: whisper to the agent, then barge in.
        changed = supervisor.patch(f"/api/v1/monitors/{monitor['id']}", json={"mode": "whisper"})
        assert changed.status_code == 200 and changed.json()["mode"] == "whisper", changed.text
        assert_heard(
            running, ports, {"lead": {AGENT_HZ}, "agent": {LEAD_HZ, SUPERVISOR_HZ}, "supervisor": {LEAD_HZ, AGENT_HZ}}
        )
        changed = supervisor.patch(f"/api/v1/monitors/{monitor['id']}", json={"mode": "barge"})
        assert changed.status_code == 200 and changed.json()["mode"] == "barge", changed.text
        time.sleep(1)
        barged = listen(running, ports)
        assert SUPERVISOR_HZ in barged["lead"] and SUPERVISOR_HZ in barged["agent"], barged
        assert bob.count("ANSWERED") == 1  # one call to his phone throughout

        assert [m["id"] for m in supervisor.get("/api/v1/monitors").json()] == [monitor["id"]]
        assert supervisor.delete(f"/api/v1/monitors/{monitor['id']}").status_code == 204
        bob.wait_for("HANGUP", timeout=5)
        assert supervisor.get("/api/v1/monitors").json() == []
        time.sleep(1)
        after = listen(running, {"lead": ports["lead"], "agent": ports["agent"]})
        assert after == {"lead": {AGENT_HZ}, "agent": {LEAD_HZ}}  # the call goes on without him
        caller.kill()
    ended = Monitor.get_by_id(monitor["id"])
    assert ended.state == "ended" and ended.ended_at is not None
    logged = AuditEntry.select().where(AuditEntry.resource == "monitor", AuditEntry.resource_id == monitor["id"])
    assert [(e.action, e.actor) for e in logged.order_by(AuditEntry.id)] == [
        ("started", BOB_EMAIL),
        ("updated", BOB_EMAIL),
        ("updated", BOB_EMAIL),
        ("ended", BOB_EMAIL),
    ]


def test_an_agent_s_outbound_call_is_monitored_too(running, peers, supervisor, tones, tmp_path):
    """A call Alice places from the app: her channel is the call's own (no bridge peer to look for), in Acme's spy
    group from the originate."""
    with (
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[SUPERVISOR_HZ]) as bob,
        carrier(running, tmp_path, speak=tones[LEAD_HZ]) as lead,
        contextlib.closing(running.sign_in("alice@acme.example")) as app,
    ):
        number = TrackingNumber.get(TrackingNumber.number == ADS_LINE)
        placed = app.post("/api/v1/calls", json={"to": "+14045557508", "tracking_number_id": number.id})
        assert placed.status_code == 201, placed.text
        lead.wait_for("ANSWERED", timeout=15)
        call = wait_for(
            lambda: (i := Interaction.get_by_id(placed.json()["id"])).answered_at and i, 10, what="the lead to answer"
        )
        running.wait_reachable(BOB)
        started = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "whisper"})
        assert started.status_code == 201, started.text
        bob.wait_for("ANSWERED", timeout=10)
        ports = {"lead": lead.uas.media_port, "agent": alice.uas.media_port, "supervisor": bob.uas.media_port}
        assert_heard(
            running, ports, {"lead": {AGENT_HZ}, "agent": {LEAD_HZ, SUPERVISOR_HZ}, "supervisor": {LEAD_HZ, AGENT_HZ}}
        )
        assert supervisor.delete(f"/api/v1/monitors/{started.json()['id']}").status_code == 204
        assert app.post(f"/api/v1/interactions/{call.id}/hangup").status_code in (200, 204)


def test_a_phone_that_is_not_connected_is_said_so_and_no_monitor_is_left(running, peers, supervisor, tones):
    with peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice:  # Bob's desk phone is not registered
        caller, call = live_call(running, peers, tones, "+14045557509", alice)
        refused = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "listen"})
        assert (refused.status_code, refused.json()["error"]) == (502, "monitor-not-started"), refused.text
        assert supervisor.get("/api/v1/monitors").json() == []
        caller.kill()
    assert not Monitor.select().where(Monitor.interaction == call.id).exists()


def test_the_monitor_ends_when_the_supervisor_hangs_up(running, peers, supervisor, tones):
    with peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice, peers.phone(BOB, hangup_after=2) as bob:
        caller, call = live_call(running, peers, tones, "+14045557502", alice)
        running.wait_reachable(BOB)
        started = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "listen"})
        assert started.status_code == 201, started.text
        bob.wait_for("HANGUP", timeout=10)
        wait_for(lambda: Monitor.get_by_id(started.json()["id"]).state == "ended", 5, what="the monitor to end")
        assert supervisor.get("/api/v1/monitors").json() == []
        caller.kill()


def _company_b(running) -> tuple[int, int, str]:
    """Company B with a supervisor who has a desk phone: (company id, their agent id, their email)."""
    email, password = "sam@beta.example", "sam's password 1"
    if not User.select().where(User.email == email).exists():
        company = int(re.search(r"company (\d+) created", running.cli("company", "add", "Beta Roofing")).group(1))
        running.cli("user", "add", email, "--name", "Sam Beta", "--company", str(company), "--password", password)
        Membership.update(role="supervisor").where(Membership.company == company).execute()
    agent = Agent.get(Agent.user == User.get(User.email == email))
    return agent.company_id, agent.id, email


def test_a_supervisor_of_another_company_can_neither_list_nor_monitor_the_call(running, peers, tones):
    company_b, sam, email = _company_b(running)
    with peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice:
        caller, call = live_call(running, peers, tones, "+14045557503", alice)
        with httpx.Client(base_url=running.url, timeout=5) as api:
            csrf = api.get("/api/v1/session").json()["csrf_token"]
            signed_in = api.post(
                "/api/v1/session", json={"email": email, "password": "sam's password 1"}, headers={"X-CSRF-Token": csrf}
            )
            api.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
            refused = api.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "barge"})
            assert (refused.status_code, refused.json()["error"]) == (404, "not-found")
            assert api.get("/api/v1/monitors").json() == []
        caller.kill()
    assert not Monitor.select().where(Monitor.interaction == call.id).exists()


def test_asterisk_keeps_a_spy_channel_to_its_own_company(running, peers, tones, telephony):  # noqa: F811
    """Even pointed at another company's call (what a bug in the controller could do), the supervisor's device hears
    nothing of it and nobody on it hears them: lc-monitor's ChanSpy takes only channels of the supervisor's own
    company's spy group. The spy verb itself, from a second Telephony in the test process, with company B's group."""
    company_b, sam, _ = _company_b(running)
    username, password = running.sip_account(sam)
    with (
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        SippPhone(
            username,
            password,
            running.sip_port,
            free_udp_port(4),
            workdir=peers.workdir / username,
            speak=tones[SUPERVISOR_HZ],
        ) as sam_phone,
    ):
        caller, call = live_call(running, peers, tones, "+14045557504", alice)
        spy = names.monitor_channel_id("otherco")
        verb(
            telephony,
            telephony.spy(spy, f"PJSIP/{username}", call.channel_id, "barge", names.spy_group(company_b)),
        )
        sam_phone.wait_for("ANSWERED", timeout=10)
        ports = {"lead": caller.sipp.media_port, "agent": alice.uas.media_port, "supervisor": sam_phone.uas.media_port}
        assert_heard(running, ports, {"lead": {AGENT_HZ}, "agent": {LEAD_HZ}, "supervisor": set()})
        verb(telephony, telephony.hangup(spy))
        caller.kill()


MOUNT = """async (interaction) => {
  const { monitorControls } = await import('/js/admin/monitor.js');
  const session = await (await fetch('/api/v1/session')).json();
  window.toasts = [];
  const ctx = { session, onEvent: () => () => {}, toast: (text) => window.toasts.push(text) };
  document.querySelector('#admin-page').append(monitorControls(ctx, { id: interaction }));
}"""


def test_the_console_s_buttons_follow_the_company_setting_and_listen_whisper_and_stop(
    running, peers, supervisor, tones
):
    """monitor.js's controls, as Team View's call rows hold them, in Bob's console; the company's setting in the
    admin's Company page."""
    from admin_console import AdminConsole
    from browser import Browser
    from playwright.sync_api import expect

    with (
        Browser() as browser,
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[SUPERVISOR_HZ]) as bob,
    ):
        admin = AdminConsole.open(browser, running, "#/company")
        setting = admin.page.locator("#monitoring-form")
        try:
            setting.get_by_label("Who may listen, whisper and barge").select_option(label="Admins only")
            setting.get_by_role("button", name="Save").click()
            expect(admin.toast()).to_have_text("Saved")
            caller, call = live_call(running, peers, tones, "+14045557505", alice)

            console = AdminConsole.open(browser, running, "#/company", email=BOB_EMAIL)
            page = console.page
            page.evaluate(MOUNT, call.id)
            controls = page.locator(f'.monitor-controls[data-interaction="{call.id}"]')
            controls.get_by_role("button", name="Listen").click()
            wait_for(lambda: page.evaluate("window.toasts.length"), 5, what="the refusal")
            assert "does not let a supervisor monitor calls" in page.evaluate("window.toasts[0]")
            assert bob.count("INVITE") == 0

            setting.get_by_label("Who may listen, whisper and barge").select_option(label="Supervisors and admins")
            setting.get_by_role("button", name="Save").click()
            expect(admin.toast()).to_have_text("Saved")
            controls.get_by_role("button", name="Listen").click()
            expect(controls.get_by_role("button", name="Listen")).to_have_attribute("aria-pressed", "true")
            bob.wait_for("ANSWERED", timeout=10)
            controls.get_by_role("button", name="Whisper").click()
            expect(controls.get_by_role("button", name="Whisper")).to_have_attribute("aria-pressed", "true")
            expect(controls.get_by_role("button", name="Listen")).to_have_attribute("aria-pressed", "false")
            time.sleep(1)
            assert SUPERVISOR_HZ in listen(running, {"agent": alice.uas.media_port})["agent"]
            controls.get_by_role("button", name="Stop").click()
            expect(controls.get_by_role("button", name="Stop")).to_have_count(0)
            bob.wait_for("HANGUP", timeout=5)
            assert [m.mode for m in Monitor.select().where(Monitor.interaction == call.id)] == ["whisper"]
            assert console.errors == [] and admin.errors == []
            caller.kill()
        finally:
            with contextlib.closing(running.sign_in("admin@acme.example")) as api:
                api.patch("/api/v1/company", json={"monitor_roles": "supervisor"})


def test_the_agent_is_told_while_their_call_is_monitored_when_the_company_says_so(running, peers, supervisor, tones):
    from browser import Browser
    from playwright.sync_api import expect

    with (
        Browser() as browser,
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[SUPERVISOR_HZ]) as bob,
    ):
        app = browser.agent(running, "alice@acme.example", wait_registered=False)
        caller, call = live_call(running, peers, tones, "+14045557506", alice)
        current = app.page.locator("#panel .call")
        expect(current).to_contain_text("On your desk phone")
        running.wait_reachable(BOB)
        monitor = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "listen"}).json()
        notice = current.locator(".monitored")
        expect(notice).to_have_text("A supervisor is listening to this call.")
        supervisor.patch(f"/api/v1/monitors/{monitor['id']}", json={"mode": "barge"})
        expect(notice).to_contain_text("A supervisor has joined this call")
        bob.wait_for("ANSWERED", timeout=10)
        supervisor.delete(f"/api/v1/monitors/{monitor['id']}")
        expect(notice).to_have_count(0)

        with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
            assert admin.patch("/api/v1/company", json={"monitor_notice": False}).status_code == 200
            try:
                again = supervisor.post(f"/api/v1/interactions/{call.id}/monitor", json={"mode": "whisper"})
                assert again.status_code == 201, again.text
                bob.wait_for("ANSWERED", n=2, timeout=10)
                time.sleep(1)  # what the stream would have said has arrived
                expect(notice).to_have_count(0)
                expect(current).to_contain_text("On your desk phone")
            finally:
                admin.patch("/api/v1/company", json={"monitor_notice": True})
        assert app.errors == []
        caller.kill()


def test_a_supervisor_listens_on_their_browser_softphone(running, peers, supervisor, tones):
    """The softphone of Bob's agent app picks the monitor up by itself (he asked for it): the app is on a call from
    the monitor, and Stop ends it there."""
    from browser import Browser
    from playwright.sync_api import expect

    if not running.browser_media:
        pytest.skip("browser calls need the private network namespace `make test` runs in")
    with Browser() as browser, peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice:
        app = browser.agent(running, BOB_EMAIL)  # his softphone registered (his calls ring his desk phone)
        caller, call = live_call(running, peers, tones, "+14045557507", alice)
        started = supervisor.post(
            f"/api/v1/interactions/{call.id}/monitor", json={"mode": "listen", "device": "webrtc"}
        )
        assert (started.status_code, started.json()["device"]) == (201, "webrtc"), started.text
        on_call = app.page.locator("#panel .call")
        expect(on_call.locator(".timer[role=timer]")).to_be_visible()  # answered by itself, no click
        expect(on_call.locator(".caller-id")).to_have_text("monitor")
        assert supervisor.delete(f"/api/v1/monitors/{started.json()['id']}").status_code == 204
        expect(on_call).to_have_count(0)
        assert Monitor.get_by_id(started.json()["id"]).state == "ended"
        assert app.errors == []
        caller.kill()
