"""Calls between people, on the real system: an agent in the browser hands a lead's call to a colleague in another
browser (blind transfer); a desk phone's transfer key does it to a colleague's desk phone (REFER). Asserts what the
agents and the phones see and hear, and the one interaction with a leg for each."""

from __future__ import annotations

import re

import pytest
from browser import CHROMIUM, Browser
from harness import ADS_LINE, bridged, channel_variable, wait_for
from pjphone import PjPhone
from playwright.sync_api import expect
from rtp_capture import write_tone_pcap
from sipp import SippCaller, SippPhone, free_udp_port
from test_agent_app import ALICE, BOB, EMAILS, call, concluded, place_call, ringing_agent

from leadcenter.accounts.models import User
from leadcenter.agents.models import Agent
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")


def became_bobs(running, lead: str) -> None:
    """The call is Bob's while it goes on, and Alice, who handed it on, is in wrap-up."""
    live = wait_for(
        lambda: (i := running.interaction(lead_number=lead)) and i.agent_id == BOB and i,
        10,
        what="the call to become Bob's",
    )
    assert live.status == "active"
    wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")


def referred_from_alice_to_bob(lead: str) -> None:
    """Over, the call was Bob's, with a leg for each of them and Alice's REFER on its timeline."""
    row = concluded(lead)
    assert (row.outcome, row.agent_id) == ("answered", BOB)
    legs = list(CallLeg.select().where(CallLeg.interaction == row).order_by(CallLeg.joined_at))
    assert [leg.agent_id for leg in legs] == [ALICE, BOB] and all(leg.left_at for leg in legs)
    moves = CallTransfer.select().where(CallTransfer.interaction == row)
    assert [(t.kind, t.from_agent_id, t.to_agent_id, t.outcome) for t in moves] == [("refer", ALICE, BOB, "completed")]


def test_a_desk_phones_transfer_key_hands_the_call_to_a_colleagues_extension(running, peers):
    # First in the module: the browser tests below make the agents ring on their softphones until it ends.
    with peers.phone(ALICE, transfer_after=3, transfer_to=str(BOB)) as alice:
        caller = peers.call("+14045557303", duration=12)
        alice.wait_for("ANSWERED", timeout=15)
        with peers.phone(BOB) as bob:  # registered once Alice has the call: the queue rang her alone
            alice.wait_for("REFERRED", timeout=10)
            assert alice.transfer_answers == [202]  # Accepted: Asterisk carries the transfer out
            bob.wait_for("ANSWERED", timeout=15)
            assert bob.invites()[-1]["from_user"] == "+14045557303"  # Bob's phone shows the lead
            became_bobs(running, "+14045557303")
            assert caller.wait(25).check().answered
    referred_from_alice_to_bob("+14045557303")


def _rival_agent(running) -> tuple[int, str, str]:
    """An agent of another company whose ring device is a desk phone: (agent id, SIP username, password)."""
    email = "rita@rival.example"
    if not User.select().where(User.email == email).exists():
        company = re.search(r"company (\d+) created", running.cli("company", "add", "Rival Roofing")).group(1)
        running.cli("user", "add", email, "--name", "Rita Rival", "--company", company, "--password", "rita's pw 1")
    agent = Agent.get(Agent.user == User.get(User.email == email)).id
    running.cli("agent", "ring", str(agent), "desk")
    return agent, *running.sip_account(agent)


def test_a_desk_phone_consults_a_colleague_then_its_transfer_key_joins_them_with_the_lead(running, peers):
    """The attended transfer: Alice's desk phone (a real SIP UA) holds the lead, dials Bob's extension (the INVITE
    names the call and its interaction, as every call rung to an agent does: his app shows the lead before he
    answers), and REFERs the lead's call with Replaces of the consult; Asterisk bridges the lead with Bob and hangs up
    both of Alice's calls, and the lead's channel names Bob's device (LC_ANSWERED_BY). Dialling an outside number or
    another company's agent is refused."""
    rival, rival_user, rival_password = _rival_agent(running)
    (alice_user, alice_password), (bob_user, _) = running.sip_account(ALICE), running.sip_account(BOB)
    with (
        PjPhone(alice_user, alice_password, running.sip_port) as alice,
        SippPhone(
            rival_user, rival_password, running.sip_port, free_udp_port(4), workdir=peers.workdir / "rival"
        ) as rita,
    ):
        caller = peers.call("+14045557304", duration=20)
        lead = alice.wait_for_call()
        live = running.wait_interaction(lead_number="+14045557304")
        # The controller tells Asterisk which call Alice's phone is on once her leg joins it (a moment after she
        # answers; her consult call's INVITE names it).
        wait_for(
            lambda: (
                f"LC_CALL_{alice_user}={live.channel_id},{live.id}"
                in (running.instance.rx("dialplan show globals") or "")
            ),
            5,
            what="Asterisk to know which call Alice's phone is on",
        )
        with peers.phone(BOB) as bob:  # registered once Alice has the call: the queue rang her alone
            alice.hold(lead)
            for extension in ("+14045551123", str(rival)):
                refused = alice.dial(extension)
                alice.wait_until(lambda: refused.ended, 10, f"refused {extension}")  # noqa: B023
                assert 400 <= refused.status < 700, (extension, refused.status)
            assert rita.invite_count == 0  # another company's agent is not reached, even ringing a phone that is there
            consult = alice.dial(str(BOB))
            alice.wait_until(lambda: consult.confirmed, 15, "talking with Bob")
            assert bob.invites()[-1]["from_display"] == Agent.get_by_id(ALICE).display_name  # Bob sees who calls
            assert bob.calls_named()[-1] == (live.channel_id, str(live.id))  # and about which lead's call
            assert alice.transfer(lead, consult)[-1] == 200  # the last NOTIFY's sipfrag: done
            assert lead.refer_answers == [202]  # Accepted: Asterisk carries the transfer out
            alice.wait_until(lambda: consult.ended, 10, "hung up by Asterisk")
            assert "BYE" in consult.received  # Asterisk ended the consult call (the phone hung up only the lead's)
            wait_for(lambda: bridged(running, "PJSIP/trunk", f"PJSIP/{bob_user}-"), 5, what="the lead with Bob")
            became_bobs(running, "+14045557304")
            wait_for(
                lambda: channel_variable(running, live.channel_id, "LC_ANSWERED_BY") == bob_user,
                5,
                what="the lead's channel to name Bob's device",
            )
            assert caller.wait(30).check().answered
    referred_from_alice_to_bob("+14045557304")


@pytest.fixture
def agents(softphones, running):
    with Browser() as browser:
        yield {agent: browser.agent(running, email) for agent, email in EMAILS.items()}


def test_a_blind_transfer_to_a_colleague_in_another_browser(agents, running, tmp_path):
    apps = agents
    caller = call(running, tmp_path, "4045556601", duration=25, caller_name="Tran Sfer")
    first = ringing_agent(apps, "Tran Sfer")
    colleague = BOB if first == ALICE else ALICE
    apps[first].row("incoming", "Tran Sfer").get_by_role("button", name="Answer").click()
    caller.wait_for("ANSWERED", 10)
    expect(apps[first].row("active", "Tran Sfer")).to_be_visible()
    # The Transfer dialog lists the colleague with their live availability; one click hands the call on.
    page = apps[first].page
    page.get_by_role("button", name="Transfer").click()
    dialog = page.get_by_role("group", name="Transfer the call")
    name = Agent.get_by_id(colleague).display_name
    expect(dialog.locator(".colleague", has_text=name)).to_contain_text("Available")
    apps[first].screenshot("transfer", tmp_path)
    dialog.get_by_role("button", name=name).click()
    # The colleague's app rings with the lead and who handed it on; they answer.
    ringing = apps[colleague].page.get_by_role("region", name="Call transferred to you")
    expect(ringing).to_contain_text("Tran Sfer")
    expect(ringing).to_contain_text(f"Transferred by {Agent.get_by_id(first).display_name}")
    ringing.get_by_role("button", name="Answer").click()
    expect(apps[colleague].row("active", "Tran Sfer")).to_be_visible()
    # The first agent is free of it and in wrap-up; the colleague hears the lead.
    expect(apps[first].row("active", "Tran Sfer")).to_have_count(0)  # (other modules' texts may be Active)
    expect(apps[first].page.get_by_role("button", name="Rejoin the Queue")).to_be_visible()
    wait_for(
        lambda: (
            (stats := apps[colleague].audio_stats()) and stats["packetsReceived"] > 50 and stats["receivedEnergy"] > 0
        ),
        10,
        what="the lead's audio to reach the colleague's browser",
    )
    expect(apps[colleague].page.locator(".call .timer")).to_have_text(re.compile(r"0:0[1-9]"))
    assert caller.wait(30).check().answered
    row = concluded("+14045556601")
    assert (row.outcome, row.agent_id) == ("answered", colleague)
    assert Interaction.select().where(Interaction.lead_number == "+14045556601").count() == 1
    legs = list(CallLeg.select().where(CallLeg.interaction == row).order_by(CallLeg.joined_at))
    assert [leg.agent_id for leg in legs] == [first, colleague]
    assert all(leg.left_at is not None for leg in legs) and legs[0].left_at <= legs[1].joined_at
    moves = CallTransfer.select().where(CallTransfer.interaction == row)
    assert [(t.kind, t.from_agent_id, t.to_agent_id, t.outcome) for t in moves] == [
        ("blind", first, colleague, "completed")
    ]
    # The call's own page says who was on it, each for how long, and how it moved between them.
    recent = apps[colleague].row("recent", "Tran Sfer")
    recent.get_by_role("button", name="Tran Sfer", exact=True).click()
    people = apps[colleague].page.get_by_role("region", name="On the call")
    expect(people.locator(".leg-party")).to_have_text([Agent.get_by_id(first).display_name, name])
    expect(people.locator(".leg-talk")).to_have_count(2)
    expect(people.locator(".move-blind")).to_contain_text(
        f"Transfer by {Agent.get_by_id(first).display_name} to {name}: completed"
    )
    assert apps[first].errors == [] and apps[colleague].errors == []


def test_an_outbound_call_placed_in_the_app_is_transferred_to_a_colleague_in_another_browser(agents, running, tmp_path):
    """Alice calls a lead from the dialer and hands the call to Bob as she would an inbound one: his app rings with
    the lead and who handed it on, he hears the lead (who speaks a steady tone all along), she is free."""
    apps, lead = agents, "+14045559321"
    tone = write_tone_pcap(str(tmp_path / "lead.pcap"), 440, 60)
    with SippPhone(
        "carrier", "", running.sip_port, running.trunk_port, registers=False, workdir=tmp_path / "carrier", speak=tone
    ) as carrier:
        place_call(apps[ALICE], "404 555 9321", "Website line (+14045550101)", record=False)
        carrier.wait_for("ANSWERED", timeout=15)
        page = apps[ALICE].page
        expect(apps[ALICE].row("active", lead)).to_be_visible()
        page.get_by_role("button", name="Transfer").click()  # offered once the lead answered, as on an inbound call
        dialog = page.get_by_role("group", name="Transfer the call")
        dialog.get_by_role("button", name=Agent.get_by_id(BOB).display_name).click()
        ringing = apps[BOB].page.get_by_role("region", name="Call transferred to you")
        expect(ringing).to_contain_text(f"Transferred by {Agent.get_by_id(ALICE).display_name}")
        ringing.get_by_role("button", name="Answer").click()
        expect(apps[BOB].row("active", lead)).to_be_visible()
        # Bob's call view is the lead's call (his INVITE named the call's id): he may transfer it on in turn.
        expect(apps[BOB].page.get_by_role("button", name="Transfer")).to_be_visible()
        expect(apps[ALICE].row("active", lead)).to_have_count(0)
        expect(page.get_by_role("button", name="Rejoin the Queue")).to_be_visible()
        wait_for(
            lambda: (
                (stats := apps[BOB].audio_stats()) and stats["packetsReceived"] > 50 and stats["receivedEnergy"] > 0
            ),
            10,
            what="the lead's audio to reach Bob's browser",
        )
        apps[BOB].page.get_by_role("button", name="Hang up").click()
        row = concluded(lead)
    assert (row.direction, row.outcome, row.agent_id) == ("outbound", "answered", BOB)
    assert Interaction.select().where(Interaction.lead_number == lead).count() == 1
    legs = list(CallLeg.select().where(CallLeg.interaction == row).order_by(CallLeg.joined_at))
    assert [leg.agent_id for leg in legs] == [ALICE, BOB] and all(leg.left_at for leg in legs)
    moves = CallTransfer.select().where(CallTransfer.interaction == row)
    assert [(t.kind, t.from_agent_id, t.to_agent_id, t.outcome) for t in moves] == [("blind", ALICE, BOB, "completed")]
    expect(apps[BOB].page.get_by_role("button", name="Rejoin the Queue")).to_be_visible()
    assert apps[ALICE].errors == [] and apps[BOB].errors == []


def test_a_transfer_to_an_outside_number_reaches_the_carrier_showing_the_tracking_number(agents, running, tmp_path):
    apps = agents
    # The trunk's peer is both the lead's carrier and the one the outside number is dialled through: one process.
    caller = SippCaller(workdir=tmp_path / "carrier").start_call(
        ADS_LINE,
        "4045556602",
        asterisk_port=running.sip_port,
        local_port=running.trunk_port,
        duration=20,
        caller_name="Out Side",
        answers=True,
    )
    agent = ringing_agent(apps, "Out Side")
    apps[agent].row("incoming", "Out Side").get_by_role("button", name="Answer").click()
    caller.wait_for("ANSWERED", 10)
    page = apps[agent].page
    page.get_by_role("button", name="Transfer").click()
    page.get_by_label("Number").fill("404 555 0199")
    page.get_by_role("group", name="Transfer the call").get_by_role("button", name="Transfer").click()
    invite = wait_for(lambda: caller.carrier_invites(), 10, what="the carrier to get the transfer's INVITE")[-1]
    assert invite["from_user"] == ADS_LINE  # the tracking number the lead called, not the lead's own
    expect(apps[agent].row("active", "Out Side")).to_have_count(0)
    expect(page.get_by_role("button", name="Rejoin the Queue")).to_be_visible()
    live = running.interaction(lead_number="+14045556602")
    wait_for(
        lambda: CallLeg.select().where(CallLeg.interaction == live, CallLeg.number == "+14045550199").exists(),
        10,
        what="the outside number's leg",
    )
    assert caller.wait(30).check().answered
    row = concluded("+14045556602")
    legs = list(CallLeg.select().where(CallLeg.interaction == row).order_by(CallLeg.joined_at))
    assert [(leg.agent_id, leg.number) for leg in legs] == [(agent, ""), (None, "+14045550199")]
    moves = CallTransfer.select().where(CallTransfer.interaction == row)
    assert [(t.to_number, t.outcome) for t in moves] == [("+14045550199", "completed")]
