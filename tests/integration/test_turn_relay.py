"""An agent at home: the browser's network lets no UDP out to the server, so its calls' media can only go through
the TURN relay (coturn, which `leadcenter run` starts from [turn]) over TCP or TLS. The agent's Chromium runs in a
network namespace of its own behind a veth pair, with nftables dropping every UDP packet that leaves it; it reaches
the app (HTTPS) and coturn (TCP 443) at the other end of the pair, in the test's namespace, where Asterisk is
(turn_network.py)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from audio import record_each_way, rms, trunk_channel
from browser import CHROMIUM, Browser
from harness import wait_for
from playwright.sync_api import expect
from turn_network import PAIRS, RELAYS, SELECTED_PAIR, SERVER, AgentNetwork, carrier_call, relay_settings

from leadcenter.turn import TURNSERVER

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and Path(TURNSERVER).exists() and shutil.which("nft")),
    reason="Debian's chromium, coturn or nftables is not installed (make setup)",
)

CALLER = "4045559601"


@pytest.fixture(params=sorted(RELAYS))
def at_home(request, softphones, running, tmp_path):
    """The system serving HTTPS and TURN (coturn, started by `leadcenter run`, over TCP or TLS on 443) on the
    server's end of the pair, and the agent's network; the controller restarted as it was at the end. Yields the
    system, the agent's network and the relay's transport."""
    network = AgentNetwork(tmp_path)
    turn = relay_settings(request.param)
    pidfile = running.settings.data_dir / "turn" / "leadcenter-turnserver.pid"
    try:
        running.stop_controller()
        running.start_controller(**turn)
        running.all_available()
        coturn = int(pidfile.read_text())
        yield running, network, request.param
        running.stop_controller()
        assert not os.path.exists(f"/proc/{coturn}"), "leadcenter run left its coturn running"
    finally:
        network.close()
        if running.controller is not None:
            running.stop_controller()
        running.start_controller()


def test_an_agent_whose_network_lets_no_udp_out_talks_through_the_turn_relay(at_home, tmp_path):
    system, network, transport = at_home
    with Browser(executable=network.chromium) as browser:
        app = browser.agent(system, "alice@acme.example", url=f"https://{SERVER}:{system.settings.http.https_port}")
        caller = carrier_call(system, tmp_path / "caller", CALLER, "Remy Home")
        expect(app.ringing_row().filter(has_text="Remy Home")).to_be_visible()
        app.row("incoming", "Remy Home").get_by_role("button", name="Answer").click()
        answered = time.monotonic()
        caller.wait_for("ANSWERED", 10)
        heard, said = record_each_way(system, trunk_channel(system), "turn-relay")
        try:
            wait_for(lambda: (app.audio_stats() or {}).get("packetsReceived"), 15, interval=0.05, what="audio")
        except AssertionError:
            raise AssertionError(f"no audio through the relay; ICE tried:\n{app.page.evaluate(PAIRS)}") from None
        first_audio = time.monotonic() - answered
        # The one path there is: a relay candidate, reached over TCP or TLS, with Alice's own short-lived credential
        # (the pair's state reads "succeeded" once Chrome has counted its checks, a moment after media began).
        pair = wait_for(
            lambda: (chosen := app.page.evaluate(SELECTED_PAIR)) and chosen["state"] == "succeeded" and chosen,
            10,
            what="the chosen candidate pair to succeed",
        )
        assert pair["local"] == "relay" and pair["relayProtocol"] == transport, pair
        assert re.fullmatch(r"\d+:webrtc1", pair["username"]), pair
        stats = wait_for(
            lambda: (s := app.audio_stats()) and s["packetsReceived"] > 100 and s["packetsSent"] > 100 and s,
            15,
            what="audio both ways",
        )
        assert stats["receivedEnergy"] > 0 and stats["sentEnergy"] > 0, stats
        app.page.get_by_role("button", name="Hang up").click()
        caller.wait(15).check()
        assert app.errors == []
    # Both ways, as the caller's leg in Asterisk recorded them: the caller's speech, and the browser's microphone.
    assert rms(wait_for(lambda: heard.exists() and heard, 5, what="the caller's side")) > 0.001
    assert rms(said) > 0.001
    assert network.udp_dropped() > 0  # the browser did try UDP (direct and to the relay): none got out
    print(f"\nfigures: TURN over {transport.upper()}, answer to first audio {first_audio:.2f} s; {stats}")
