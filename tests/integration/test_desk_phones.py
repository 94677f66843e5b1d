"""Desk phones as they are in offices: behind a NAT, on UDP or TCP, with a transfer key. SIPp phones register
from the port they answer on, as real phones do; the lead calls through the demo trunk."""

from __future__ import annotations

import subprocess
import time

import pytest
from harness import wait_for
from sipp import free_udp_port

from leadcenter.interactions.models import Interaction

ALICE = 1  # the demo's agent; with only her phone registered, the queue rings her alone


def sip_connections(system) -> list[str]:
    """Established TCP connections to Asterisk's SIP port (its side: local address:port)."""
    shown = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{system.sip_port} )"], capture_output=True, text=True
    ).stdout
    return [line.split()[-1] for line in shown.splitlines() if line.strip()]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_phone_behind_a_nat_rings_where_its_register_came_from(running, peers, transport):
    # Behind a NAT the phone's Contact names its private port; the office router maps it to another. Asterisk
    # must send the INVITE back where the REGISTER came from (over TCP: on that connection), not to the Contact.
    private_port = free_udp_port()  # nothing listens there: a call sent to the Contact is never heard
    with peers.phone(ALICE, contact_port=private_port, transport=transport) as alice:
        connections = sip_connections(running)
        caller = peers.call("+14045557311", duration=6)
        alice.wait_for("ANSWERED", timeout=15)
        if transport == "tcp":
            assert connections == [f"127.0.0.1:{alice.port}"]  # the phone's one connection...
            assert sip_connections(running) == connections  # ...carried the INVITE: no new one was opened
        assert caller.wait(20).check().answered
    row = wait_for(
        lambda: (
            (i := Interaction.get_or_none(Interaction.lead_number == "+14045557311")) and i.status == "recent" and i
        ),
        10,
        what="the call to conclude",
    )
    assert (row.outcome, row.agent_id) == ("answered", ALICE)


def test_the_transfer_key_to_an_outside_number_is_declined_and_the_call_goes_on(running, peers):
    # A desk phone's transfer key reaches colleagues' extensions only (lc-refer), never the trunk: a blind REFER to
    # a number fails (Asterisk accepts the REFER, then finds no such extension in lc-refer and tells the phone in its
    # NOTIFY) and the agent stays with the lead; the interaction stays active until someone hangs up. (A transfer to
    # a colleague: test_transfers.py.)
    with peers.phone(ALICE, transfer_after=1, transfer_to="+14045552199") as alice:
        caller = peers.call("+14045557312", duration=8)
        alice.wait_for("REFERRED", timeout=15)
        assert len(alice.transfer_answers) == 1
        time.sleep(2)
        assert caller.events()[-1][0] == "ANSWERED" and alice.hangups == []  # both legs still up
        live = running.interaction(lead_number="+14045557312")
        assert live.status == "active" and live.agent_id == ALICE
        result = caller.wait(20).check()
        assert result.hangup == "local"  # the lead hung up at the end of the call, nobody before
    row = wait_for(
        lambda: (i := Interaction.get_by_id(live.id)).status == "recent" and i, 10, what="the call to conclude"
    )
    assert row.outcome == "answered" and row.talk_seconds >= 6
