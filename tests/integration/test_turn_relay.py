"""An agent at home: the browser's network lets no UDP out to the server, so its calls' media can only go through
the TURN relay (coturn, which `leadcenter run` starts from [turn]) over TCP or TLS. The agent's Chromium runs in a
network namespace of its own behind a veth pair, with nftables dropping every UDP packet that leaves it; it reaches
the app (HTTPS) and coturn (TCP 443) at the other end of the pair, in the test's namespace, where Asterisk is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from audio import record_each_way, rms, trunk_channel
from browser import CHROMIUM, Browser
from harness import ADS_LINE, wait_for
from playwright.sync_api import expect
from sipp import SippCaller

from leadcenter.turn import TURNSERVER

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and Path(TURNSERVER).exists() and shutil.which("nft")),
    reason="Debian's chromium, coturn or nftables is not installed (make setup)",
)

# The pair between the test's namespace (the server: app, coturn, Asterisk) and the agent's.
SERVER, AGENT = "198.18.96.1", "198.18.96.2"
LINK, AGENT_LINK = "turn0", "turn1"
CALLER = "4045559601"

# The agent's side of the pair drops every UDP packet it would send out: STUN, RTP, TURN over UDP.
FIREWALL = [
    "add table inet agent",
    "add chain inet agent out { type filter hook output priority 0 ; policy accept ; }",
    'add rule inet agent out oifname != "lo" meta l4proto udp counter drop',
]

# The candidate pair ICE chose for the softphone's call, as WebRTC reports it.
SELECTED_PAIR = """async () => {
  const { state } = await import('/js/store.js');
  const session = [...state.phone.sessions.values()].find((candidate) => candidate.isEstablished());
  if (!session?.connection) return null;
  const reports = new Map();
  (await session.connection.getStats()).forEach((report) => reports.set(report.id, report));
  const transport = [...reports.values()].find((report) => report.selectedCandidatePairId);
  if (!transport) return null;
  const pair = reports.get(transport.selectedCandidatePairId);
  const local = reports.get(pair.localCandidateId);
  return { state: pair.state, local: local.candidateType, relayProtocol: local.relayProtocol, url: local.url,
           username: session.connection.getConfiguration().iceServers[0]?.username };
}"""


# Every candidate pair ICE tried, for a failure's message.
PAIRS = """async () => {
  const { state } = await import('/js/store.js');
  const session = [...state.phone.sessions.values()].find((candidate) => candidate.connection);
  if (!session) return 'no call';
  const reports = new Map();
  (await session.connection.getStats()).forEach((report) => reports.set(report.id, report));
  const end = (id) => { const c = reports.get(id); return `${c.candidateType}:${c.protocol}:${c.address}:${c.port}`; };
  return [...reports.values()].filter((report) => report.type === 'candidate-pair')
    .map((pair) => `${end(pair.localCandidateId)} -> ${end(pair.remoteCandidateId)} ${pair.state}`).join('\\n');
}"""


class AgentNetwork:
    """A network namespace for the agent's browser, held by a sleeping process, joined to ours by a veth pair."""

    def __init__(self, folder):
        self.holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        self.enter = ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--"]
        try:
            wait_for(
                lambda: os.readlink(f"/proc/{self.holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"),
                5,
                what="the agent's namespace",
            )
            for command in (
                ["ip", "link", "add", LINK, "type", "veth", "peer", "name", AGENT_LINK],
                ["ip", "link", "set", AGENT_LINK, "netns", str(self.holder.pid)],
                ["ip", "addr", "add", f"{SERVER}/30", "dev", LINK],
                ["ip", "link", "set", LINK, "up"],
                [*self.enter, "ip", "link", "set", "lo", "up"],
                [*self.enter, "ip", "addr", "add", f"{AGENT}/30", "dev", AGENT_LINK],
                [*self.enter, "ip", "link", "set", AGENT_LINK, "up"],
                *([*self.enter, "nft", *rule.split()] for rule in FIREWALL),
            ):
                subprocess.run(command, check=True, capture_output=True)
        except BaseException:
            self.close()
            raise
        # Playwright starts this instead of Chromium: the same browser, in the agent's namespace, trusting the
        # server's self-signed certificate for TURN over TLS as an agent's machine trusts an installed one
        # (Chromium checks a TURN server's certificate; Playwright's ignore_https_errors covers pages only).
        self.chromium = folder / "chromium-at-home"
        self.chromium.write_text(
            f'#!/bin/sh\nexec {" ".join(self.enter)} {CHROMIUM} --ignore-certificate-errors "$@"\n'
        )
        self.chromium.chmod(0o755)

    def udp_dropped(self) -> int:
        rules = subprocess.run(
            [*self.enter, "nft", "list", "chain", "inet", "agent", "out"], capture_output=True, text=True, check=True
        ).stdout
        return int(re.search(r"udp counter packets (\d+)", rules).group(1))

    def close(self) -> None:
        self.holder.kill()  # the namespace goes with its last process, and the pair with it
        self.holder.wait(5)
        subprocess.run(["ip", "link", "del", LINK], capture_output=True)


# The relay as firewalls let it through: TURN over TCP on 443, or over TLS on 443 (`turns:`); UDP offered as well,
# where the agent's firewall drops it.
RELAYS = {
    "tcp": {
        "LEADCENTER_TURN_URLS": f"turn:{SERVER}:443?transport=udp, turn:{SERVER}:443?transport=tcp",
        "LEADCENTER_TURN_PORT": "443",
    },
    "tls": {
        "LEADCENTER_TURN_URLS": f"turn:{SERVER}:3478?transport=udp, turns:{SERVER}:443?transport=tcp",
        "LEADCENTER_TURN_PORT": "3478",
        "LEADCENTER_TURN_TLS_PORT": "443",
    },
}


@pytest.fixture(params=sorted(RELAYS))
def at_home(request, softphones, running, tmp_path):
    """The system serving HTTPS and TURN (coturn, started by `leadcenter run`, over TCP or TLS on 443) on the
    server's end of the pair, and the agent's network; the controller restarted as it was at the end. Yields the
    system, the agent's network and the relay's transport."""
    network = AgentNetwork(tmp_path)
    turn = {
        **RELAYS[request.param],
        "LEADCENTER_TURN_SERVE": "true",
        "LEADCENTER_TURN_LISTEN_HOST": SERVER,
        "LEADCENTER_TURN_RELAY_PORT_START": "23000",
        "LEADCENTER_TURN_RELAY_PORT_END": "23099",
        "LEADCENTER_HTTP_HTTPS_HOST": SERVER,
    }
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
        caller = SippCaller(workdir=tmp_path / "caller").start_call(
            ADS_LINE,
            CALLER,
            asterisk_port=system.sip_port,
            local_port=system.trunk_port,
            duration=30,
            caller_name="Remy Home",
            expect_remote_bye=True,
        )
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
