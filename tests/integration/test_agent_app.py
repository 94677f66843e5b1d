"""The agent app in a real browser (Chromium, fake microphone) against the real system: the demo agents ring on
their browser softphones; SIPp callers dial the demo trunk. Each test asserts what the agents see in their tabs and
what the caller (SIPp) and the recordings observe."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import time
import wave

import httpx
import pytest
from audio import record_each_way, rms, trunk_channel
from browser import CHROMIUM, Browser
from harness import ADS_LINE, set_ring_device, wait_for
from playwright.sync_api import expect
from rtp_capture import RtpCapture
from sipp import SippCaller, SippPhone

from leadcenter.agents.models import Agent
from leadcenter.interactions.models import Interaction, Message
from leadcenter.teams.models import Team

ALICE, BOB = 1, 2
HOLD_MUSIC_NOTES = (261.63, 329.63, 392.00, 523.25)
EMAILS = {ALICE: "alice@acme.example", BOB: "bob@acme.example"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")


@pytest.fixture
def agents(softphones, running):
    """Alice and Bob signed in in two browser contexts, softphones registered."""
    with Browser() as browser:
        yield browser, {agent: browser.agent(running, email) for agent, email in EMAILS.items()}


def call(system, tmp_path, number: str, duration: float, **options):
    return SippCaller(workdir=tmp_path / f"caller-{number}").start_call(
        ADS_LINE, number, asterisk_port=system.sip_port, local_port=system.trunk_port, duration=duration, **options
    )


def ringing_agent(apps: dict, number: str, timeout: float = 10):
    """The agent whose softphone rings for the call (the queue offers it to one at a time)."""
    return wait_for(
        lambda: next((agent for agent, app in apps.items() if app.ringing_row().filter(has_text=number).count()), None),
        timeout,
        what=f"an agent's softphone to ring for {number}",
    )


def hang_up_all(system, *callers) -> None:
    """End the calls a test leaves up from Asterisk's side while their SIPp callers are there to answer: a killed
    caller would leave Asterisk retransmitting its BYE for half a minute to the trunk port, where the next test's
    SIP peer listens."""
    system.instance.rx("channel request hangup all")
    for caller in callers:
        caller.wait(10)


def concluded(number: str) -> Interaction:
    """The interaction of the call with this lead number, once it is in Recent."""
    return wait_for(
        lambda: (i := Interaction.get_or_none(Interaction.lead_number == number)) and i.status == "recent" and i,
        10,
        what=f"the call with {number} to conclude",
    )


def test_two_agents_see_a_call_one_answers_in_the_browser_and_audio_flows_both_ways(agents, running, tmp_path):
    browser, apps = agents
    began = time.monotonic()
    caller = call(running, tmp_path, "4045551234", duration=30, caller_name="Lee Caller", expect_remote_bye=True)
    for app in apps.values():
        expect(app.row("incoming", "Lee Caller")).to_be_visible()
    on_screen = time.monotonic() - began
    answering = ringing_agent(apps, "Lee Caller")
    other = BOB if answering == ALICE else ALICE
    app = apps[answering]
    app.row("incoming", "Lee Caller").get_by_role("button", name="Answer").click()
    caller.wait_for("ANSWERED", 10)
    expect(app.row("active", "Lee Caller")).to_be_visible()
    expect(apps[other].section("incoming").locator(".row")).to_have_count(0)
    heard, said = record_each_way(running, trunk_channel(running), f"browser-{answering}")
    expect(app.page.locator(".call .timer")).to_have_text(re.compile(r"0:0[3-9]"), timeout=10_000)
    # The call reads as an inbound call, each fact once; Main line records it, but there is nothing to play yet.
    call_view = app.page.locator("#panel .call")
    expect(call_view.locator(".facts")).to_contain_text(re.compile(r"Caller\s*\+14045551234"))
    expect(call_view.locator(".facts")).to_contain_text(re.compile(r"Called\s*Google Ads line \(\+14045550100\)"))
    assert_each_once(
        app.page.locator("#panel"), "Lee Caller", "+14045551234", "Google Ads line (+14045550100)", "Source"
    )
    expect(app.page.locator("#panel audio")).to_have_count(0)
    app.screenshot("agent-app", tmp_path)
    stats = app.audio_stats()
    app.page.get_by_role("button", name="Hang up").click()
    result = caller.wait(15)
    result.check()
    assert result.hangup == "remote"  # the app hung up: the caller got the BYE
    recent = app.row("recent", "Lee Caller")
    expect(recent).to_be_visible()
    recent.get_by_role("button", name="Lee Caller", exact=True).click()
    talk = app.page.locator(".talk-time")
    expect(talk).to_have_text(re.compile(r"0:0[3-9]"))
    assert stats["packetsSent"] > 100 and stats["packetsReceived"] > 100, stats
    assert stats["receivedEnergy"] > 0 and stats["sentEnergy"] > 0, stats
    assert rms(wait_for(lambda: heard.exists() and heard, 5, what="the caller's side")) > 0.001
    assert rms(said) > 0.001  # the browser's microphone reached the caller
    row = concluded("+14045551234")
    assert row.outcome == "answered" and row.agent_id == answering
    assert app.errors == [] and apps[other].errors == []
    print(
        f"\nfigures: registered after {[round(a.registered_after, 2) for a in apps.values()]} s; "
        f"INVITE to both screens {on_screen:.2f} s"
    )


def assert_each_once(area, *texts: str) -> None:
    shown = area.inner_text()
    assert {text: shown.count(text) for text in texts} == dict.fromkeys(texts, 1), shown


def test_the_inbox_shows_my_queue_live_with_the_longest_wait(agents, running, tmp_path):
    browser, apps = agents
    lines = {agent: app.page.locator("#inbox .queue") for agent, app in apps.items()}
    for line in lines.values():
        expect(line).to_have_text(re.compile(r"Sales: no one waiting"))
    caller = call(running, tmp_path, "4045553131", duration=30, caller_name="Wanda Wait", expect_answer=None)
    ringing = ringing_agent(apps, "Wanda Wait")
    for line in lines.values():  # ringing an agent, the caller is still waiting in the queue
        expect(line).to_contain_text("Sales: 1 waiting")
    expect(lines[BOB].locator(".wait")).to_have_text(re.compile(r"0:0[2-9]"))  # it ticks
    apps[ringing].row("incoming", "Wanda Wait").get_by_role("button", name="Answer").click()
    for line in lines.values():
        expect(line).to_have_text(re.compile(r"Sales: no one waiting"))
    hang_up_all(running, caller)


def test_decline_in_one_browser_rings_the_other_agent_next(agents, running, tmp_path):
    browser, apps = agents
    caller = call(running, tmp_path, "4045552345", duration=30, caller_name="Dee Cline", expect_answer=None)
    first = ringing_agent(apps, "Dee Cline")
    second = BOB if first == ALICE else ALICE
    assert not apps[second].ringing_row().count()
    apps[first].row("incoming", "Dee Cline").get_by_role("button", name="Decline").click()
    expect(apps[first].section("incoming").locator(".row")).to_have_count(0)
    expect(apps[second].ringing_row().filter(has_text="Dee Cline")).to_be_visible(timeout=5_000)
    hang_up_all(running, caller)


def test_after_a_queue_call_the_agent_is_not_offered_calls_until_rejoin(agents, running, tmp_path):
    browser, apps = agents
    first_call = call(running, tmp_path, "4045553456", duration=30, caller_name="Wren Up", expect_remote_bye=True)
    agent = ringing_agent(apps, "Wren Up")
    other = BOB if agent == ALICE else ALICE
    app = apps[agent]
    app.row("incoming", "Wren Up").get_by_role("button", name="Answer").click()
    first_call.wait_for("ANSWERED", 10)
    expect(app.page.get_by_label("Availability")).to_have_value("unavailable")
    app.page.get_by_role("button", name="Hang up").click()
    first_call.wait(15).check()
    rejoin = app.page.get_by_role("button", name="Rejoin the Queue")
    expect(rejoin).to_be_visible()
    expect(app.page.locator("#availability option:checked")).to_have_text("Unavailable (wrap-up)")
    # In wrap-up: the next queue call still shows in the agent's Incoming but rings only the other agent.
    second_call = call(running, tmp_path, "4045554567", duration=30, caller_name="Nye Xt", expect_answer=None)
    expect(apps[other].ringing_row().filter(has_text="Nye Xt")).to_be_visible()
    expect(app.row("incoming", "Nye Xt")).to_be_visible()
    time.sleep(2)  # the queue retries every second: a wrap-up agent would have been offered it by now
    assert not app.ringing_row().count()
    rejoin.click()
    expect(app.page.get_by_label("Availability")).to_have_value("available")
    expect(rejoin).to_be_hidden()
    apps[other].row("incoming", "Nye Xt").get_by_role("button", name="Decline").click()
    expect(app.ringing_row().filter(has_text="Nye Xt")).to_be_visible(timeout=5_000)
    hang_up_all(running, second_call)


def test_an_offline_agent_is_not_rung_and_sees_no_incoming(agents, running, tmp_path):
    browser, apps = agents
    apps[BOB].choose_status("Offline")
    expect(apps[BOB].section("incoming")).to_contain_text("Offline: no incoming calls")
    # Other agents see his status, live.
    team = apps[ALICE].page.get_by_role("region", name="Team")
    expect(team.get_by_role("button")).to_have_text("Team: 0 of 1 available")
    team.get_by_role("button").click()
    expect(team.locator(".colleague", has_text="Bob")).to_contain_text("Offline")
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused in the queue")
    caller = call(running, tmp_path, "4045555678", duration=30, caller_name="Ann Other", expect_answer=None)
    expect(apps[ALICE].ringing_row().filter(has_text="Ann Other")).to_be_visible()
    apps[ALICE].row("incoming", "Ann Other").get_by_role("button", name="Decline").click()
    time.sleep(2)  # declined by the only Available agent: the queue may only come back to her
    assert not apps[BOB].ringing_row().count()
    expect(apps[BOB].section("incoming").locator(".row")).to_have_count(0)
    hang_up_all(running, caller)


@pytest.fixture
def quick_ring(running):
    """The demo team rings each agent 5 s (the least a team may choose) instead of 30 for this test."""
    team = Team.get(Team.name == "Sales")
    before, team.ring_seconds = team.ring_seconds, 5
    team.save()
    running.cli("asterisk", "reload")
    yield team
    team.ring_seconds = before
    team.save()
    running.cli("asterisk", "reload")


def test_an_agent_who_lets_a_call_ring_out_sees_why_calls_stopped_and_rejoins(agents, running, tmp_path, quick_ring):
    browser, apps = agents
    caller = call(running, tmp_path, "4045557890", duration=30, caller_name="Rhea Ring", expect_answer=None)
    first = ringing_agent(apps, "Rhea Ring")
    second = BOB if first == ALICE else ALICE
    app = apps[first]
    # After the team's ring time the call rings the other agent, and the first is out until they say they are back.
    expect(apps[second].ringing_row().filter(has_text="Rhea Ring")).to_be_visible(timeout=10_000)
    expect(app.page.locator("#availability option:checked")).to_have_text("Unavailable (missed a call)")
    expect(app.page.get_by_role("status").filter(has_text="rang out")).to_be_visible()
    team = apps[second].page.get_by_role("region", name="Team")
    expect(team.get_by_role("button")).to_have_text("Team: 0 of 1 available")
    team.get_by_role("button").click()
    expect(team.locator(".colleague", has_text=EMAILS[first].split("@")[0].title())).to_contain_text("Missed a call")
    hang_up_all(running, caller)
    app.page.get_by_role("button", name="Rejoin the Queue").click()
    expect(app.page.get_by_label("Availability")).to_have_value("available")
    expect(team.get_by_role("button")).to_have_text("Team: 1 of 1 available")
    assert not app.errors


def test_the_team_line_counts_only_colleagues_a_call_can_ring(softphones, running):
    """Bob is Available but not signed in: no softphone of his is registered, so he is not counted (it said "1 of 1
    available"); signed in, he is; his tab closed, he is not, live."""
    with Browser() as browser:
        alice = browser.agent(running, EMAILS[ALICE])
        team = alice.page.get_by_role("region", name="Team")
        expect(team.get_by_role("button")).to_have_text("Team: 0 of 1 available")
        team.get_by_role("button").click()
        expect(team.locator(".colleague", has_text="Bob")).to_contain_text("Unreachable")
        bob = browser.agent(running, EMAILS[BOB])
        expect(team.get_by_role("button")).to_have_text("Team: 1 of 1 available")
        expect(team.locator(".colleague", has_text="Bob")).to_contain_text("Available")
        browser.close_agent(bob)
        expect(team.get_by_role("button")).to_have_text("Team: 0 of 1 available")
        assert not alice.errors
    assert Agent.get_by_id(BOB).status == "available"  # his choice stands: what changed is his phone


def test_classification_typed_in_the_app_is_there_after_a_reload_and_in_the_api(agents, running, tmp_path):
    browser, apps = agents
    app = apps[ALICE]
    # A caller who hangs up while waiting: abandoned, in Recent for every agent.
    call(running, tmp_path, "4045556789", duration=1.5, caller_name="Cass Ify", expect_answer=False).wait(20)
    recent = app.row("recent", "Cass Ify")
    expect(recent).to_be_visible()
    recent.get_by_role("button", name="Cass Ify", exact=True).click()
    panel = app.page.locator("#classification")
    panel.get_by_label("Qualified", exact=True).check()
    tag = panel.get_by_label("Add a tag")
    tag.fill("Emergency <b>leak</b>")
    tag.press("Enter")
    expect(panel.locator(".tag")).to_have_text(["Emergency <b>leak</b>"])  # shown as typed, never as markup
    value = panel.get_by_label("Value ($)")
    value.fill("2000000000")  # more than the API takes: said under the form, not silently dropped
    value.press("Tab")
    expect(panel.get_by_role("alert")).to_contain_text("Not saved: ")
    value.fill("250.50")
    value.press("Tab")
    expect(panel.get_by_role("alert")).to_have_count(0)
    notes = panel.get_by_label("Notes")
    notes.press_sequentially("Burst pipe, wants a quote <script>alert(1)</script>", delay=5)
    expect(panel.locator(".saved-marker")).to_have_text("Saved")
    app.page.reload()
    expect(app.page.locator(".softphone")).to_have_text("Softphone: ready")
    app.row("recent", "Cass Ify").get_by_role("button", name="Cass Ify", exact=True).click()
    expect(panel.get_by_label("Qualified", exact=True)).to_be_checked()
    expect(panel.get_by_label("Value ($)")).to_have_value("250.50")
    expect(panel.get_by_label("Notes")).to_have_value("Burst pipe, wants a quote <script>alert(1)</script>")
    interaction = Interaction.get(Interaction.lead_number == "+14045556789")
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        seen = admin.get(f"/api/v1/interactions/{interaction.id}").json()
    assert (seen["qualified"], seen["value_cents"], seen["tags"]) == (True, 25050, ["Emergency <b>leak</b>"])
    assert seen["notes"] == "Burst pipe, wants a quote <script>alert(1)</script>"


def test_an_agent_who_refused_the_microphone_is_told_callers_will_not_hear_them(softphones, running, tmp_path):
    with Browser(microphone=False) as browser:
        app = browser.agent(running, EMAILS[ALICE], wait_registered=False)
        warning = app.page.get_by_role("alert").filter(has_text="Microphone access is blocked")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("Callers will not hear you")
        app.screenshot("microphone-blocked", tmp_path)


def place_call(app, number: str, tracking_line: str, record: bool) -> None:
    page = app.page
    page.get_by_role("button", name="Dialer").click()
    page.get_by_label("Recipient").fill(number)
    page.get_by_label("Tracking Number").select_option(label=tracking_line)
    page.get_by_label("Record call").set_checked(record)
    page.get_by_role("button", name="Place Call").click()


def test_an_outbound_call_reaches_the_trunk_with_the_chosen_tracking_number_and_records_only_if_ticked(
    agents, running, tmp_path
):
    browser, apps = agents
    app = apps[ALICE]
    expect(app.page.get_by_text("make sure one-party recording is legal")).to_be_visible()
    leads = {False: "+14045557710", True: "+14045557720"}  # by whether Record call is ticked
    with SippPhone(
        "carrier", "", running.sip_port, running.trunk_port, registers=False, workdir=tmp_path / "carrier"
    ) as carrier:
        for n, (record, number) in enumerate(leads.items(), 1):
            place_call(app, f"404 555 {number[-4:]}", "Website line (+14045550101)", record)
            invite = carrier.wait_for_invites(n)[-1]
            assert invite["from_user"] == "+14045550101"  # the tracking number chosen in the dropdown
            carrier.wait_for("ANSWERED", n)
            expect(app.row("active", number)).to_be_visible()
            expect(app.page.locator(".call .timer")).to_have_text(re.compile(r"0:0[2-9]"))
            # It reads as the agent's call to the lead, from the tracking number, each fact once; no player yet.
            panel = app.page.locator("#panel")
            expect(panel.locator(".call")).to_contain_text("Outbound call")
            expect(panel.locator(".call .facts")).to_have_text(
                re.compile(r"^\s*Caller ID\s*Website line \(\+14045550101\)\s*Source")
            )
            assert_each_once(panel, number, "Website line")
            expect(panel.locator("audio")).to_have_count(0)
            app.page.get_by_role("button", name="Hang up").click()
            carrier.wait_for("HANGUP", n)
            expect(app.row("recent", number)).to_be_visible()
    calls = {record: concluded(number) for record, number in leads.items()}
    for row in calls.values():
        assert (row.direction, row.outcome, row.agent_id) == ("outbound", "answered", ALICE)
        assert row.tracking_number.number == "+14045550101" and row.talk_seconds >= 2
    assert calls[False].recording is None
    recording = running.settings.data_dir / calls[True].recording
    assert recording.exists() and rms(recording) > 0.001  # the carrier echoes the agent's microphone
    # The recorded call's player in the interaction panel plays the recording.
    app.row("recent", leads[True]).get_by_role("button", name=leads[True], exact=True).click()
    facts = app.page.locator("#panel .facts")
    expect(app.page.locator("#panel h3")).to_have_text(re.compile(r"^\s*\+14045557720\s*Outbound call\s*$"))
    expect(facts).to_contain_text(re.compile(r"^\s*Caller ID\s*Website line \(\+14045550101\)\s*Status"))
    expect(facts).to_contain_text(re.compile(r"Placed by\s*Alice Agent"))
    assert_each_once(app.page.locator("#panel"), "+14045557720", "Website line")
    player = app.page.locator("#panel audio")
    expect(player).to_have_count(1)
    duration = app.page.evaluate("""async () => {
        const audio = document.querySelector('#panel audio');
        audio.preload = 'auto'; audio.load();
        await new Promise((done) => audio.addEventListener('loadedmetadata', done, { once: true }));
        return audio.duration; }""")
    assert duration > 1.5


def test_a_notice_says_what_went_wrong_in_words_and_goes_when_the_agent_moves_on(agents, running):
    browser, apps = agents
    page = apps[ALICE].page
    notice = page.locator("#notice")
    place_call(apps[ALICE], "12", "Website line (+14045550101)", record=False)
    expect(notice).to_contain_text("'12' is too short to be a phone number")
    page.get_by_label("Recipient").fill("404 555 01")  # fixing it in place: the notice stays until acted on
    expect(notice).to_be_visible()
    page.get_by_role("button", name="Texting").click()
    expect(notice).to_be_hidden()
    assert not apps[ALICE].errors


def test_over_https_the_app_and_its_softphone_share_one_origin(softphones, running, tmp_path):
    with Browser() as browser:
        app = browser.agent(running, EMAILS[ALICE], url=running.https_url)  # self-signed: accepted by the test
        assert app.page.evaluate("window.isSecureContext") is True
        caller = call(running, tmp_path, "4045558901", duration=30, caller_name="Tess Ls", expect_remote_bye=True)
        expect(app.ringing_row().filter(has_text="Tess Ls")).to_be_visible()
        app.row("incoming", "Tess Ls").get_by_role("button", name="Answer").click()
        caller.wait_for("ANSWERED", 10)
        expect(app.page.locator(".call .timer")).to_have_text(re.compile(r"0:0[2-9]"))
        assert app.audio_stats()["packetsReceived"] > 50
        controls = app.page.locator(".call")
        controls.get_by_role("button", name="Mute").click()
        expect(controls.locator(".badge")).to_have_text("Muted")
        controls.get_by_role("button", name="Unmute").click()
        media = running.settings.asterisk
        with RtpCapture(media.rtp_start, media.rtp_end) as on_hold:
            controls.get_by_role("button", name="Hold").click()  # a re-INVITE: were it refused, the call would end
            expect(controls.locator(".badge")).to_have_text("On hold")
            time.sleep(3)
        # Meanwhile the caller hears the hold music (pbx/process.py: an arpeggio of these notes).
        heard = [note for note in HOLD_MUSIC_NOTES if on_hold.tone_at(note)]
        assert len(heard) >= 3, f"the caller did not hear the hold music: notes {heard}"
        controls.get_by_role("button", name="Resume").click()
        expect(controls.locator(".badge")).to_have_count(0)
        with RtpCapture(media.rtp_start, media.rtp_end) as keyed:
            controls.get_by_role("button", name="Keypad").click()
            keypad = controls.get_by_role("group", name="Keypad")
            for digit in "5#0":
                keypad.get_by_role("button", name=digit).click()
            # The digits reach the caller as RFC 4733 events, in order (an IVR on the far end would get them).
            wait_for(lambda: keyed.digits == ["5", "#", "0"], 5, what=f"the digits at the caller: {keyed.digits}")
        app.page.get_by_role("button", name="Hang up").click()
        caller.wait(15).check()
        assert app.errors == []
    print(f"\nfigures: registered over wss after {app.registered_after:.2f} s")


def test_closing_the_tab_or_signing_out_unregisters_the_softphone(agents, running):
    browser, apps = agents
    contacts = lambda: running.instance.rx("pjsip show contacts") or ""  # noqa: E731
    assert "webrtc1/" in contacts() and "webrtc2/" in contacts()
    browser.close_agent(apps[BOB])
    wait_for(lambda: "webrtc2/" not in contacts(), 5, what="Bob's softphone to leave Asterisk's contacts")
    assert "webrtc1/" in contacts()
    apps[ALICE].page.get_by_role("button", name="Sign out").click()
    expect(apps[ALICE].page.get_by_role("button", name="Sign in")).to_be_visible()
    wait_for(lambda: "webrtc1/" not in contacts(), 5, what="Alice's softphone to leave Asterisk's contacts")


def test_an_agent_sets_their_chat_name_and_voicemail_greeting_in_their_profile(agents, running, tmp_path):
    browser, apps = agents
    page = apps[ALICE].page
    page.get_by_role("button", name="Profile").click()
    page.get_by_label("Chat display name").fill("Alice at Acme")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#profile .saved-marker")).to_have_text("Saved")
    wait_for(lambda: Agent.get_by_id(ALICE).chat_display_name == "Alice at Acme", 5, what="the name saved")
    # A greeting as agents have them (CD quality, stereo) becomes what Asterisk plays as it is, in her mailbox.
    picked = tmp_path / "my greeting.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(picked), "synth", "2", "sine", "440"], check=True
    )
    section = page.get_by_role("region", name="Voicemail greeting")
    expect(section).to_contain_text("standard greeting")
    section.get_by_label("Upload a greeting").set_input_files(str(picked))
    expect(section.locator(".saved-marker")).to_have_text("Saved")
    stored = running.settings.asterisk_dir / "spool" / "voicemail" / "leadcenter" / f"agent{ALICE}" / "unavail.wav"
    with wave.open(str(stored)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert 1.9 <= audio.getnframes() / 8000 <= 2.1
    assert rms(stored) > 0.1
    expect(section.locator("audio")).to_have_count(1)
    section.get_by_role("button", name="Use the standard greeting").click()
    expect(section).to_contain_text("Callers hear the standard greeting")
    assert not stored.exists()


def test_an_agent_answers_a_call_the_queue_is_offering_to_someone_else(agents, running, tmp_path):
    browser, apps = agents
    # The caller hangs up this time: after the connected-line UPDATEs this path sends, SIPp's caller scenario
    # does not always take a BYE (hanging up from the app is proved by the tests above).
    caller = call(running, tmp_path, "4045559012", duration=12, caller_name="Ott Er")
    ringing = ringing_agent(apps, "Ott Er")
    taker = BOB if ringing == ALICE else ALICE
    assert not apps[taker].ringing_row().count()
    apps[taker].row("incoming", "Ott Er").get_by_role("button", name="Answer").click()
    caller.wait_for("ANSWERED", 10)
    expect(apps[taker].row("active", "Ott Er")).to_be_visible()
    expect(apps[ringing].section("incoming").locator(".row")).to_have_count(0)
    expect(apps[taker].page.locator(".call .timer")).to_have_text(re.compile(r"0:0[2-9]"))
    assert apps[taker].audio_stats()["packetsReceived"] > 50
    assert caller.wait(20).check().hangup == "local"
    expect(apps[taker].row("recent", "Ott Er")).to_be_visible()
    row = concluded("+14045559012")
    assert (row.outcome, row.agent_id) == ("answered", taker)


class HeldInvites:
    """The softphone's websocket, passed through both ways, but for the INVITEs Asterisk sends while ``holding``:
    kept until ``release()`` (as a loaded relay or network delays the ring behind the inbox's event). What Asterisk
    sends is handled while the test is in a Playwright call."""

    def __init__(self):
        self.holding, self.held, self._page = True, [], None

    def __call__(self, route) -> None:
        server = route.connect_to_server()
        self._page = route
        server.on_message(self._from_server)

    def _from_server(self, message) -> None:
        if self.holding and isinstance(message, str) and message.startswith("INVITE "):
            self.held.append(message)
        else:
            self._page.send(message)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self._page.send(message)


def test_answer_pressed_before_the_softphone_rings_answers_the_call_when_it_rings(softphones, running, tmp_path):
    """The inbox shows the call (the event stream) before its INVITE reaches the softphone: Answer pressed then
    answers it as soon as it rings (it once rang on, unanswered, while the queue kept offering it to her)."""
    invites = HeldInvites()
    with Browser() as browser:
        alice = browser.agent(running, EMAILS[ALICE], sip_route=invites)
        bob = browser.agent(running, EMAILS[BOB])
        bob.choose_status("Offline")  # the queue offers the call to Alice only
        wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused in the queue")
        caller = call(running, tmp_path, "4045550187", duration=20, caller_name="Early Bird")
        # Playwright runs the route's handler while the test waits in Playwright: wait in the page.
        wait_for(lambda: alice.page.wait_for_timeout(100) or invites.held, 10, what="the queue to ring Alice's phone")
        assert not alice.ringing_row().count()  # her softphone has not rung yet
        with alice.page.expect_response(re.compile(r"/interactions/\d+/answer$")) as answered:
            alice.row("incoming", "Early Bird").get_by_role("button", name="Answer").click()
        assert answered.value.json()["ringing_already"] is True  # the queue rings her: nothing to move
        invites.release()
        expect(alice.row("active", "Early Bird")).to_be_visible()
        expect(alice.page.locator("#panel .call .caller-id")).to_have_text("Early Bird")
        assert caller.wait(30).check().hangup == "local"
        row = concluded("+14045550187")
        assert (row.outcome, row.agent_id) == ("answered", ALICE)
        assert alice.errors == []


def test_reloading_the_tab_mid_call_asks_first_then_the_call_comes_back_to_the_app(agents, running, tmp_path):
    browser, apps = agents
    app, page = apps[ALICE], apps[ALICE].page
    apps[BOB].choose_status("Offline")  # so that the queue rings only Alice
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused in the queue")
    # The lead speaks again 20 s into the call: after the reload, to the agent's new page.
    caller = call(
        running, tmp_path, "4045550124", duration=60, caller_name="Rhea Load", speak_at=20, expect_remote_bye=True
    )
    expect(app.ringing_row().filter(has_text="Rhea Load")).to_be_visible()
    app.row("incoming", "Rhea Load").get_by_role("button", name="Answer").click()
    expect(page.locator(".call .timer")).to_have_text(re.compile(r"0:0[2-9]"))
    talked = time.monotonic()  # at least 2 s into the call
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    reloaded = time.monotonic()
    page.reload()
    assert asked == ["beforeunload"]  # the browser asked before leaving a page with a call on it
    # Back in the app the call is there with its timer, which kept counting, and its controls: the softphone
    # took it up again by itself (the lead waited on hold).
    current = page.locator("#panel .call")
    expect(current.locator(".caller-id")).to_have_text("Rhea Load")
    expect(current.get_by_role("button", name="Mute")).to_be_visible()
    on_hold = time.monotonic() - reloaded
    minutes, seconds = current.get_by_role("timer").text_content().split(":")
    assert int(minutes) * 60 + int(seconds) >= time.monotonic() - talked + 1  # since the answer, not the reload
    assert not [e for e in caller.events() if e[0] == "HANGUP"]  # the lead was never hung up on
    # Audio flows both ways again: the lead hears the agent's microphone, the agent hears the lead.
    heard, said = record_each_way(running, trunk_channel(running), "reloaded")
    wait_for(
        lambda: (stats := app.audio_stats()) and stats["packetsReceived"] > 50 and stats["receivedEnergy"] > 0,
        30,
        what="the lead's voice in the reloaded app",
    )
    current.get_by_role("button", name="Hang up").click()
    result = caller.wait(15)
    result.check()
    assert result.hangup == "remote"
    assert rms(said) > 0.001 and rms(heard) > 0.001
    row = concluded("+14045550124")  # one call, answered by Alice, timed from the first answer
    assert (row.outcome, row.agent_id) == ("answered", ALICE) and row.talk_seconds >= 15
    assert Interaction.select().where(Interaction.lead_number == "+14045550124").count() == 1
    assert app.errors == []
    print(f"\nfigures: the call back in the reloaded app after {on_hold:.2f} s")


# Before the app loads: no JsSIP, so the softphone cannot start (as when the browser cannot reach /sip).
NO_SOFTPHONE = "Object.defineProperty(window, 'JsSIP', { get: () => undefined, set: () => {} });"


def test_a_call_the_reloaded_softphone_cannot_take_up_is_shown_then_goes_back_to_the_queue(agents, running, tmp_path):
    browser, apps = agents
    app, page = apps[ALICE], apps[ALICE].page
    apps[BOB].choose_status("Offline")
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused in the queue")
    caller = call(running, tmp_path, "4045550125", duration=60, caller_name="Gus Tab", expect_remote_bye=True)
    expect(app.ringing_row().filter(has_text="Gus Tab")).to_be_visible()
    app.row("incoming", "Gus Tab").get_by_role("button", name="Answer").click()
    expect(page.locator(".call .timer")).to_have_text(re.compile(r"0:0[1-9]"))
    page.on("dialog", lambda dialog: dialog.accept())
    page.context.add_init_script(NO_SOFTPHONE)
    page.reload()
    # No ghost: the call is shown with its timer and a Hang up that works, while the lead waits on hold.
    current = page.locator("#panel .call")
    expect(current.locator(".caller-id")).to_have_text("Gus Tab")
    expect(current).to_contain_text("Reconnecting your softphone")
    expect(current.get_by_role("timer")).to_have_text(re.compile(r"0:\d\d"))
    left = time.monotonic()
    media = running.settings.asterisk
    with RtpCapture(media.rtp_start, media.rtp_end) as waiting:
        time.sleep(3)
    heard = [note for note in HOLD_MUSIC_NOTES if waiting.tone_at(note)]
    assert len(heard) >= 3, f"the lead waits in silence: notes {heard}"  # never silence: the hold music
    # The agent's softphone does not come back: after LC_REJOIN_SECONDS the call goes back to its queue, where
    # Bob, Available again, is offered it.
    apps[BOB].choose_status("Available")
    wait_for(
        lambda: "PJSIP/webrtc2-" in (running.instance.rx("core show channels concise") or ""),
        30,
        what="the call back in the queue, ringing Bob",
    )
    back_in_queue = time.monotonic() - left
    assert not [e for e in caller.events() if e[0] == "HANGUP"]
    current.get_by_role("button", name="Hang up").click()
    assert caller.wait(15).check().hangup == "remote"
    print(f"\nfigures: the call back in the queue {back_in_queue:.1f} s after the agent's leg was lost")


def test_after_the_connection_drops_the_app_reconnects_and_the_softphone_registers_again(agents, running, tmp_path):
    browser, apps = agents
    app = apps[ALICE]
    running.stop_controller()  # the event stream and the SIP relay both drop
    expect(app.page.locator(".connection")).to_have_text("Reconnecting…")
    expect(app.page.locator(".softphone")).not_to_have_text("Softphone: ready")
    running.start_controller()
    expect(app.page.locator(".connection")).to_have_text("Live", timeout=15_000)
    expect(app.page.locator(".softphone")).to_have_text("Softphone: ready", timeout=15_000)
    apps[BOB].choose_status("Offline")  # so that the queue can only ring Alice
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused in the queue")
    caller = call(running, tmp_path, "4045550123", duration=30, caller_name="Ree Gister", expect_answer=None)
    expect(app.ringing_row().filter(has_text="Ree Gister")).to_be_visible()
    hang_up_all(running, caller)


# Before the app loads: the tab is in the background, and desktop notifications are recorded.
BACKGROUND_TAB = """
Object.defineProperty(document, 'hidden', { get: () => true });
Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
window.shown = [];
window.Notification = class extends window.Notification {
  constructor(title, options) { super(title, options); window.shown.push([title, options.body]); }
};
window.rings = 0;
window.AudioContext = class extends window.AudioContext {
  constructor() { super(); window.rings += 1; }
};
"""


def test_a_call_ringing_in_a_background_tab_shows_a_notification_and_rings(softphones, running, tmp_path):
    with Browser() as browser:
        context_options = {"permissions": ["notifications"]}
        app = browser.agent(running, EMAILS[ALICE], init_script=BACKGROUND_TAB, **context_options)
        caller = call(running, tmp_path, "4045550987", duration=30, caller_name="Bea Ground", expect_answer=None)
        expect(app.ringing_row().filter(has_text="Bea Ground")).to_be_visible()
        wait_for(lambda: app.page.evaluate("window.shown.length"), 5, what="a desktop notification")
        assert app.page.evaluate("window.shown") == [["Incoming call", "Bea Ground — Google Ads line"]]
        assert app.page.evaluate("window.rings") == 1
        hang_up_all(running, caller)


def test_a_text_in_a_background_tab_shows_a_notification(softphones, texting, smsc):
    with Browser() as browser:
        app = browser.agent(texting, EMAILS[BOB], init_script=BACKGROUND_TAB, permissions=["notifications"])
        smsc.command(cmd="mo", to=ADS_LINE, text="Are you open on Sunday?", **{"from": "+14045557272"})
        expect(app.row("incoming", "+14045557272")).to_be_visible()
        wait_for(lambda: app.page.evaluate("window.shown.length"), 5, what="a desktop notification")
        assert app.page.evaluate("window.shown") == [["New text", "+14045557272: Are you open on Sunday?"]]
        assert app.page.evaluate("window.rings") == 0  # a text does not ring


def test_a_recent_lead_timeline_contact_details_in_place_and_quick_call(agents, running, tmp_path):
    browser, apps = agents
    app, page = apps[BOB], apps[BOB].page
    call(running, tmp_path, "4045554321", duration=1.5, caller_name="Tim Line", expect_answer=False).wait(20)
    recent = app.row("recent", "Tim Line")
    recent.get_by_role("button", name="Tim Line", exact=True).click()
    # The lead's timeline, an entry's details, and back.
    page.get_by_role("button", name="more interactions").click()
    entries = page.locator(".timeline li")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("abandoned")
    entries.first.get_by_role("button").click()
    expect(page.locator("#panel .facts")).to_contain_text("+14045554321")
    page.get_by_role("button", name="All interactions").click()
    expect(entries).to_have_count(1)
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#panel h2")).to_have_text("Interaction")
    # Contact details, edited in place: Enter saves; what was typed is shown as text, never as markup.
    contact = page.locator("#contact")
    contact.get_by_role("button", name="Tim Line").click()
    field = contact.get_by_label("Name")
    field.fill("Tim <i>Line</i> Jr")
    field.press("Enter")
    expect(contact.get_by_role("button", name="Tim <i>Line</i> Jr")).to_be_visible()
    lead = Interaction.get(Interaction.lead_number == "+14045554321").lead
    wait_for(lambda: type(lead).get_by_id(lead.id).name == "Tim <i>Line</i> Jr", 5, what="the new name saved")
    recent = app.row("recent", "Tim <i>Line</i> Jr")
    expect(recent).to_be_visible()  # the inbox follows live
    # Quick actions on the Recent row: the icon turns into a plus that opens call and text.
    recent.get_by_role("button", name=re.compile("Quick actions")).click()
    recent.get_by_role("button", name="Call", exact=True).click()
    expect(page.get_by_label("Recipient")).to_have_value("+14045554321")


@pytest.fixture
def alice_on_her_desk_phone(softphones, running):
    """Alice takes queue calls on her desk phone for one test; Bob is Offline, so the queue rings only her."""
    set_ring_device(running, "desk", agents=(ALICE,))
    running.choose_status(EMAILS[BOB], "offline")
    yield running
    set_ring_device(running, "webrtc", agents=(ALICE,))


def test_an_agent_on_a_desk_phone_sees_the_call_in_the_app_and_hangs_up_from_there(alice_on_her_desk_phone, peers):
    with Browser() as browser, peers.phone(ALICE) as desk:
        app = browser.agent(alice_on_her_desk_phone, EMAILS[ALICE])
        caller = peers.call("+14045557171", duration=60)
        desk.wait_for("ANSWERED", timeout=15)
        current = app.page.locator("#panel .call")
        expect(current.locator(".caller-id")).to_have_text("+14045557171")
        expect(current).to_contain_text("On your desk phone")
        expect(current.get_by_role("timer")).to_have_text(re.compile(r"0:0[0-9]"))
        time.sleep(2)
        current.get_by_role("button", name="Hang up").click()
        result = caller.wait(15)  # long before the caller's own 60 s
        assert result.answered and result.hangup == "remote"
        desk.wait_for("HANGUP", timeout=5)
        expect(current).to_have_count(0)
        expect(app.row("recent", "+14045557171")).to_contain_text("answered")
        assert not app.errors
    row = concluded("+14045557171")
    assert (row.agent_id, row.outcome) == (ALICE, "answered") and 2 <= row.talk_seconds <= 8


def test_an_agent_finds_a_lead_by_name_or_last_digits_and_opens_their_timeline(agents, running, tmp_path):
    browser, apps = agents
    app, page = apps[ALICE], apps[ALICE].page
    call(running, tmp_path, "4045554999", duration=1.5, caller_name="Quinn Searchable", expect_answer=False).wait(20)
    expect(app.row("recent", "Quinn Searchable")).to_be_visible()
    box = page.get_by_role("searchbox", name="Search leads")
    for query in ("quinn", "4999"):  # a name word, any case; the number's last digits
        box.fill(query)
        results = app.section("search")
        expect(results.locator(".lead-result")).to_have_count(1)
        expect(results).to_contain_text("+14045554999")
        expect(app.section("recent")).to_have_count(0)  # the results take the sections' place
    results.get_by_role("button", name="Quinn Searchable").click()
    # The panel shows the lead's timeline; the contact details show the lead.
    expect(page.locator("#panel h2")).to_have_text("Quinn Searchable")
    expect(page.locator("#panel .timeline li")).to_have_count(1)
    expect(page.locator("#panel .timeline li")).to_contain_text("abandoned")
    expect(page.locator("#contact")).to_contain_text("+14045554999")
    # The phone icon starts a call to them: the dialer is filled in.
    page.get_by_role("button", name="Dialer").click()
    expect(page.get_by_label("Recipient")).to_have_value("+14045554999")
    # Escape in the box clears the search: the inbox is back.
    box.fill("nobody-like-this")
    expect(app.section("search")).to_contain_text("No lead matches")
    box.press("Escape")
    expect(app.section("recent")).to_be_visible()
    assert not app.errors


def test_a_long_timeline_comes_a_page_at_a_time_newest_first(agents, running):
    from leadcenter import clock
    from leadcenter.accounts.models import Company
    from leadcenter.leads.services import find_or_create_by_number

    browser, apps = agents
    app, page = apps[BOB], apps[BOB].page
    company = Company.get(Company.name == "Acme Plumbing")
    now = clock.system()
    lead = find_or_create_by_number(company, "+14045554888", now, "Rita Regular")
    for days in range(23):  # a lead who has called every day for weeks
        started = now - dt.timedelta(days=days)
        Interaction.create(
            company=company,
            lead=lead,
            kind="call",
            direction="inbound",
            status="recent",
            outcome="missed",
            lead_number="+14045554888",
            started_at=started,
            status_changed_at=started,
        )
    page.get_by_role("searchbox", name="Search leads").fill("Rita")
    app.section("search").get_by_role("button", name="Rita Regular").click()
    entries = page.locator("#panel .timeline li")
    expect(entries).to_have_count(20)
    page.get_by_role("button", name="Older interactions").click()
    expect(entries).to_have_count(23)
    expect(page.get_by_role("button", name="Older interactions")).to_have_count(0)
    assert not app.errors


def test_a_text_sent_from_the_interaction_panel_goes_out_as_the_chosen_tracking_number(agents, texting, second_smsc):
    browser, apps = agents
    page = apps[ALICE].page
    page.get_by_role("button", name="Texting").click()
    page.get_by_label("To:").fill("404 555 6060")
    page.get_by_label("Message").fill("Your quote is ready <b>today</b>")
    page.get_by_label("Tracking Number").select_option(label="Website line (+14045550101)")
    page.get_by_role("button", name="Send Text").click()
    expect(page.locator("#panel h3")).to_have_text(re.compile(r"^\s*\+14045556060\s*Outbound text\s*$"))
    expect(page.locator("#panel .facts")).to_contain_text(re.compile(r"^\s*Sent from\s*Website line"))
    # The Website line's texts go out through the second SMSC (harness.CONFIG), from that number.
    sent = second_smsc.wait(lambda e: e["event"] == "text" and e["to"] == "+14045556060", 10, "the text")
    assert (sent["from"], sent["text"]) == ("+14045550101", "Your quote is ready <b>today</b>")
    # The conversation is open in the panel; its message follows the SMSC's receipt.
    expect(page.locator("#panel .message.outbound")).to_contain_text("delivered")
    expect(page.locator("#panel .message.outbound .body")).to_have_text("Your quote is ready <b>today</b>")
    expect(page.locator("#notice")).to_be_hidden()  # the thread says how the text fares: no banner to outlive it
    assert not apps[ALICE].errors


def test_an_incoming_text_waits_in_incoming_then_the_agent_responds_in_the_thread_and_closes_it(
    agents, texting, smsc, tmp_path
):
    browser, apps = agents
    alice, bob, lead = apps[ALICE], apps[BOB], "+14045557070"
    smsc.command(cmd="mo", to=ADS_LINE, text="Do you fix tankless heaters?", **{"from": lead})
    # Both agents the flow offers it to see it in Incoming, with the text under the lead's number.
    for app in (alice, bob):
        expect(app.row("incoming", lead)).to_contain_text("Do you fix tankless heaters?")
    page = alice.page
    # Clicking the lead's number shows the conversation before accepting it.
    alice.row("incoming", lead).get_by_role("button", name=lead).click()
    expect(page.locator("#panel .message.inbound .body")).to_have_text("Do you fix tankless heaters?")
    alice.row("incoming", lead).get_by_role("button", name="Respond").click()
    expect(alice.row("active", lead)).to_be_visible()
    expect(bob.row("incoming", lead)).to_have_count(0)
    # Bob's Respond a moment too late (as from a tab that had not heard yet): told who has it, shown the thread.
    thread_id = Interaction.get(Interaction.lead_number == lead).id
    bob.page.evaluate(f"async () => (await import('/js/conversations.js')).respond({{id: {thread_id}}})")
    bob_notice = bob.page.locator("#notice")
    expect(bob_notice).to_contain_text("Alice Agent responded first")
    expect(bob.page.locator("#panel .thread")).to_contain_text("Alice Agent is texting with this lead")
    # The reply box under the thread: what is typed goes out exactly, from the tracking number texted.
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_focused()
    box.fill("Yes — we fix all brands ✓ Tomorrow at 9?")
    expect(page.locator("#reply-hint")).to_contain_text("1 text · ")
    page.get_by_role("button", name="Send", exact=True).click()
    sent = smsc.wait(lambda e: e["event"] == "text" and e["to"] == lead, 10, "Alice's reply")
    assert (sent["from"], sent["text"]) == (ADS_LINE, "Yes — we fix all brands ✓ Tomorrow at 9?")
    expect(page.locator("#panel .message.outbound")).to_contain_text("delivered")
    expect(box).to_have_value("")
    # The lead writes back: it appears in the open thread and the inbox row, live.
    smsc.command(cmd="mo", to=ADS_LINE, text="9 works", **{"from": lead})
    expect(page.locator("#panel .message.inbound .body").last).to_have_text("9 works")
    expect(alice.row("active", lead).locator(".snippet")).to_have_text("9 works")
    box.fill("See you then")
    box.press("Control+Enter")
    smsc.wait(lambda e: e["event"] == "text" and e["to"] == lead and e["text"] == "See you then", 10, "Ctrl+Enter")
    expect(page.locator("#panel .message.outbound").last).to_contain_text("delivered")
    expect(box).to_have_value("")
    alice.screenshot("text-conversation", tmp_path)
    # Close text: the conversation moves to Recent, answered by Alice.
    page.get_by_role("button", name="Close text").click()
    expect(alice.row("recent", lead)).to_contain_text("See you then")
    # Bob's notice was about who had the conversation: it goes now that the conversation moved on.
    expect(bob_notice).to_be_hidden()
    # In Recent it reads as the lead's text to the tracking number: no talk time, which a text does not have.
    alice.row("recent", lead).get_by_role("button", name=lead, exact=True).click()
    expect(page.locator("#panel h3")).to_have_text(re.compile(r"^\s*\+14045557070\s*Inbound text\s*$"))
    facts = page.locator("#panel .facts")
    expect(facts).to_contain_text(re.compile(r"^\s*Texted\s*Google Ads line"))
    expect(facts).not_to_contain_text("Talk time")
    row = Interaction.get(Interaction.lead_number == lead)
    assert (row.kind, row.status, row.outcome, row.agent_id) == ("text", "recent", "answered", ALICE)
    assert row.talk_seconds is not None  # the API has it; the app does not show it for a text
    assert [m.body for m in row.messages.order_by(Message.id)] == [
        "Do you fix tankless heaters?",
        "Yes — we fix all brands ✓ Tomorrow at 9?",
        "9 works",
        "See you then",
    ]
    assert not alice.errors and not bob.errors


def create_lead(system, name: str, number: str) -> int:
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        answer = admin.post("/api/v1/leads", json={"name": name, "numbers": [number]})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def open_from_search(app, query: str, name: str) -> None:
    app.page.get_by_role("searchbox", name="Search leads").fill(query)
    app.section("search").get_by_role("button", name=name).click()
    expect(app.page.locator("#panel h2")).to_have_text(name)


def test_contact_details_save_to_the_lead_on_screen_and_refusals_stay_with_their_lead_and_field(agents, running):
    from leadcenter.leads.models import Lead

    browser, apps = agents
    app, page = apps[ALICE], apps[ALICE].page
    contact = page.locator("#contact")
    sal = create_lead(running, "Sal Search", "+14045554601")
    create_lead(running, "Ola Other", "+14045554602")
    # A lead opened from a search (no interaction selected): the edit is saved to that lead.
    open_from_search(app, "Sal Search", "Sal Search")
    contact.get_by_role("button", name="Sal Search").click()
    contact.get_by_label("Name").fill("Sal Searched")
    contact.get_by_label("Name").press("Enter")
    expect(contact.get_by_role("button", name="Sal Searched")).to_be_visible()
    wait_for(lambda: Lead.get_by_id(sal).name == "Sal Searched", 5, what="the name saved to the lead")
    expect(page.locator("#panel h2")).to_have_text("Sal Searched")  # the panel names the lead as saved
    # A value the server refuses: said under its field in words, with what was typed kept to fix it.
    contact.get_by_role("button", name="add email").click()
    contact.get_by_label("Email").fill("sal-at-example")
    contact.get_by_label("Email").press("Enter")
    problem = contact.get_by_role("alert")
    expect(problem).to_have_text("Not saved: not an email address")
    expect(contact.get_by_label("Email")).to_have_value("sal-at-example")
    expect(contact.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    # Another lead shown: nothing of Sal's refusal is under it; back to Sal, it is gone too.
    open_from_search(app, "Ola", "Ola Other")
    expect(contact).to_contain_text("+14045554602")
    expect(contact.get_by_role("alert")).to_have_count(0)
    expect(contact.get_by_label("Email")).to_have_count(0)
    open_from_search(app, "Sal", "Sal Searched")
    expect(contact.get_by_role("alert")).to_have_count(0)
    # Refused, then fixed: the problem goes with the save.
    contact.get_by_role("button", name="add email").click()
    contact.get_by_label("Email").fill("sal@example")
    contact.get_by_label("Email").press("Enter")
    expect(contact.get_by_role("alert")).to_have_count(0)
    # Saved: shown as a field again (while the save is on its way the email is still being edited, and a click on
    # another field edits nothing).
    expect(contact.get_by_role("button", name="sal@example")).to_be_visible()
    # A number another lead has: refused for this lead, saying so; Escape gives it up, and the problem with it.
    contact.get_by_role("button", name="+14045554601").click()
    contact.get_by_label("Phone numbers").fill("+14045554602")
    contact.get_by_label("Phone numbers").press("Enter")
    expect(contact.get_by_role("alert")).to_have_text("Not saved: +14045554602 belongs to another lead")
    contact.get_by_label("Phone numbers").press("Escape")
    expect(contact.get_by_role("alert")).to_have_count(0)
    expect(contact.get_by_role("button", name="+14045554601")).to_be_visible()
    saved = Lead.get_by_id(sal)
    assert (saved.name, saved.email) == ("Sal Searched", "sal@example")
    assert not app.errors


def test_every_icon_on_the_agents_screens_is_drawn(agents, running, tmp_path):
    """Icons are SVG that ships with the app (tests/unit/test_web_app.py keeps characters out): each one on
    screen draws something, whatever fonts the machine has."""
    browser, apps = agents
    app, page = apps[BOB], apps[BOB].page
    call(running, tmp_path, "4045554777", duration=1.5, caller_name="Ike Con", expect_answer=False).wait(20)
    recent = app.row("recent", "Ike Con")
    seen = set()

    def all_drawn() -> None:
        wait_for(lambda: not app.undrawn_icons(), 5, what=f"every icon drawn: {app.undrawn_icons()}")
        seen.update(app.icons_shown())

    all_drawn()  # the inbox and the panel's bar
    recent.get_by_role("button", name=re.compile("Quick actions")).click()
    all_drawn()  # the quick actions' plus, call and text
    recent.get_by_role("button", name="Ike Con", exact=True).click()
    classification = page.locator("#classification")
    classification.get_by_label("Add a tag").fill("Icons")
    classification.get_by_label("Add a tag").press("Enter")
    all_drawn()  # the interaction, its close button, the tag's remove button
    page.get_by_role("button", name="more interactions").click()
    page.locator(".timeline li").first.get_by_role("button").click()
    all_drawn()  # back to all interactions
    page.get_by_role("searchbox", name="Search leads").fill("Ike")
    expect(app.section("search").locator(".lead-result")).to_have_count(1)
    all_drawn()  # a lead found
    place_call(app, "12", "Website line (+14045550101)", record=False)
    expect(page.locator("#notice")).to_be_visible()
    all_drawn()  # the notice's dismiss button
    assert {"call", "text", "plus", "close", "back", "lead"} <= seen
    assert not app.errors


READINGS = [  # kind, direction, voicemail: how the panel reads it
    ("call", "inbound", False, "Inbound call", ["Caller", "Called", "Status", "Started", "Talk time", "Answered by"]),
    (
        "call",
        "outbound",
        False,
        "Outbound call",
        ["Called", "Caller ID", "Status", "Started", "Talk time", "Placed by"],
    ),
    ("call", "inbound", True, "Voicemail", ["Caller", "Called", "Status", "Started", "Message"]),
    ("text", "inbound", False, "Inbound text", ["From", "Texted", "Status", "Started", "Agent"]),
    ("text", "outbound", False, "Outbound text", ["To", "Sent from", "Status", "Started", "Agent"]),
    ("chat", "inbound", False, "Chat", ["Phone", "Line", "Status", "Started", "Agent"]),
    ("form", "inbound", False, "Form submission", ["Phone", "Line", "Status", "Started", "Agent"]),
    ("visit", "inbound", False, "Website visit", ["Phone", "Number shown", "Started"]),  # no status: its pages say
]


def test_each_kind_of_interaction_reads_right_for_its_direction(agents):
    """facts.js, as the app loads it: what each kind and direction is called and which facts it lists (every kind
    with a talk time and a message length in hand, so that only those that mean something show them)."""
    browser, apps = agents
    for kind, direction, voicemail, name, labels in READINGS:
        read = apps[ALICE].page.evaluate(
            """async ([kind, direction, voicemail]) => {
            const facts = await import('/js/facts.js');
            const interaction = { kind, direction, voicemail_url: voicemail ? '/vm' : null, status: 'recent',
              outcome: 'answered', lead: { name: '' }, lead_number: '+14045550123',
              started_at: new Date().toISOString(),
              tracking_number: { name: 'Website line', number: '+14045550101' }, talk_seconds: 60,
              voicemail_seconds: 20, agent: { display_name: 'Alice Agent' }, source: '', campaign: '', keywords: '',
              landing_page: '', referrer: '' };
            return [facts.readingOf(interaction).name, facts.facts(interaction).map(([label]) => label)];
        }""",
            [kind, direction, voicemail],
        )
        assert read == [name, labels], (kind, direction, voicemail)


def test_a_user_of_two_companies_switches_company_in_the_app(softphones, running):
    """Dana is an agent of one company and a supervisor of another (added with `leadcenter user join`): she picks
    one at sign-in and switches in the status bar; the inbox, the event stream and the softphone are then the
    other company's."""
    from leadcenter import clock
    from leadcenter.accounts.models import Company
    from leadcenter.agents.models import Agent
    from leadcenter.leads.services import find_or_create_by_number

    password, email = "two companies", "dana@two.example"
    companies, leads = {}, {}
    for name, lead_name, number, status in (
        ("Bayside Dental", "Bea Bayside", "+14045556101", "recent"),
        ("Cedar Roofing", "Cid Cedar", "+14045556102", "incoming"),
    ):
        companies[name] = int(re.search(r"company (\d+) created", running.cli("company", "add", name)).group(1))
        now = clock.system()
        leads[name] = find_or_create_by_number(Company.get_by_id(companies[name]), number, now, lead_name)
        Interaction.create(
            company=companies[name],
            lead=leads[name],
            kind="call",
            direction="inbound",
            status=status,
            outcome="missed" if status == "recent" else None,
            lead_number=number,
            started_at=now,
            status_changed_at=now,
        )
    running.cli(
        "user",
        "add",
        email,
        "--name",
        "Dana Two",
        "--company",
        str(companies["Bayside Dental"]),
        "--password",
        password,
    )
    running.cli("user", "join", email, "--company", str(companies["Cedar Roofing"]), "--role", "supervisor")
    softphone = f"webrtc{Agent.get(Agent.company == companies['Bayside Dental']).id}/"
    contacts = lambda: running.instance.rx("pjsip show contacts") or ""  # noqa: E731
    with Browser() as browser:
        app = browser.agent(running, email, password=password, wait_registered=False)
        page = app.page
        page.get_by_role("button", name="Bayside Dental").click()
        app.wait_softphone_ready()  # an agent there
        choice = page.get_by_label("Company")
        expect(choice.locator("option:checked")).to_have_text("Bayside Dental")
        expect(app.row("recent", "Bea Bayside")).to_be_visible()
        wait_for(lambda: softphone in contacts(), 5, what="her softphone registered for Bayside")
        choice.select_option(label="Cedar Roofing")
        expect(choice.locator("option:checked")).to_have_text("Cedar Roofing")
        # A supervisor there: the calls waiting in Cedar, nothing of Bayside's, and no softphone.
        expect(app.row("incoming", "Cid Cedar")).to_be_visible()
        expect(page.get_by_text("Bea Bayside")).to_have_count(0)
        expect(page.locator(".softphone")).to_have_text("Softphone: off")
        wait_for(lambda: softphone not in contacts(), 5, what="her Bayside softphone to unregister")
        # The event stream is Cedar's: a change to Cid there shows live.
        with httpx.Client(base_url=running.url, timeout=5) as api:
            csrf = api.get("/api/v1/session").json()["csrf_token"]
            signed_in = api.post(
                "/api/v1/session",
                headers={"X-CSRF-Token": csrf},
                json={"email": email, "password": password, "company_id": companies["Cedar Roofing"]},
            )
            renamed = api.patch(
                f"/api/v1/leads/{leads['Cedar Roofing'].id}",
                json={"name": "Cid Cedars"},
                headers={"X-CSRF-Token": signed_in.json()["csrf_token"]},
            )
            assert renamed.status_code == 200, renamed.text
        expect(app.row("incoming", "Cid Cedars")).to_be_visible()
        assert not app.errors


def test_an_invitation_of_an_existing_account_waits_for_its_owner_to_say_yes_in_the_app(running):
    """An admin's invitation changes nothing for an existing account until its owner accepts it in the app (issue
    10, 4.6): Erin, of Elm Plumbing, sees Acme's invitation and Fir's; she joins Acme (it is in her switcher) and
    declines Fir (she is not Fir's, and the invitation is gone)."""
    from leadcenter.accounts.models import Membership, User

    password, email = "erin's password", "erin@elm.example"
    elm = int(re.search(r"company (\d+) created", running.cli("company", "add", "Elm Plumbing")).group(1))
    fir = int(re.search(r"company (\d+) created", running.cli("company", "add", "Fir Heating")).group(1))
    running.cli(
        "user",
        "add",
        email,
        "--name",
        "Erin Elm",
        "--company",
        str(elm),
        "--password",
        password,
        "--role",
        "supervisor",
    )
    running.cli(
        "user",
        "add",
        "boss@fir.example",
        "--name",
        "Fir Boss",
        "--company",
        str(fir),
        "--role",
        "admin",
        "--password",
        "fir boss password",
    )
    with contextlib.closing(running.sign_in("admin@acme.example")) as acme:
        invited = acme.post(
            "/api/v1/users", json={"email": email, "name": "Someone", "password": "whatever 123", "role": "supervisor"}
        )
    assert invited.status_code == 202, invited.text
    with httpx.Client(base_url=running.url, timeout=5) as fir_admin:
        csrf = fir_admin.get("/api/v1/session").json()["csrf_token"]
        signed_in = fir_admin.post(
            "/api/v1/session",
            headers={"X-CSRF-Token": csrf},
            json={"email": "boss@fir.example", "password": "fir boss password"},
        )
        invited = fir_admin.post(
            "/api/v1/users",
            headers={"X-CSRF-Token": signed_in.json()["csrf_token"]},
            json={"email": email, "name": "Someone", "password": "whatever 123", "role": "supervisor"},
        )
        assert invited.status_code == 202, invited.text
    erin = User.get(User.email == email)
    assert {m.company_id for m in Membership.select().where(Membership.user == erin)} == {elm}
    with Browser() as browser:
        app = browser.agent(running, email, password=password, wait_registered=False)
        page = app.page
        invitations = page.get_by_role("list", name="Invitations")
        expect(invitations).to_contain_text("Acme Plumbing invited you to join as a supervisor.")
        expect(invitations).to_contain_text("Fir Heating invited you to join as a supervisor.")
        page.get_by_role("button", name="Join Acme Plumbing").click()
        expect(invitations).not_to_contain_text("Acme Plumbing")
        page.get_by_role("listitem").filter(has_text="Fir Heating").get_by_role("button", name="Decline").click()
        expect(page.locator("#invitations")).to_be_hidden()
        expect(page.get_by_label("Company").locator("option")).to_have_text(["Acme Plumbing", "Elm Plumbing"])
        assert not app.errors
    assert {m.company_id for m in Membership.select().where(Membership.user == erin)} == {elm, 1}
    with httpx.Client(base_url=running.url, timeout=5) as erin_api:
        csrf = erin_api.get("/api/v1/session").json()["csrf_token"]
        session = erin_api.post(
            "/api/v1/session",
            headers={"X-CSRF-Token": csrf},
            json={"email": email, "password": password, "company_id": elm},
        ).json()
    assert session["invitations"] == []
