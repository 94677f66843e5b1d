"""An agent at home whose network lets no UDP out to the server (test_turn_relay.py, bench/turn.py): the agent's
Chromium in a network namespace of its own behind a veth pair, nftables dropping every UDP packet that leaves it; it
reaches the app (HTTPS) and coturn (TCP 443) at the other end of the pair, in the test's (or the bench's) namespace,
where Asterisk is. Also the TURN settings `leadcenter run` serves the relay with there, and what WebRTC reports of
the candidate pairs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from browser import CHROMIUM
from harness import ADS_LINE, wait_for
from sipp import SippCaller

# The pair between the test's namespace (the server: app, coturn, Asterisk) and the agent's.
SERVER, AGENT = "198.18.96.1", "198.18.96.2"
LINK, AGENT_LINK = "turn0", "turn1"

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


def relay_settings(transport: str) -> dict[str, str]:
    """The settings (LEADCENTER_...) for `leadcenter run` to serve HTTPS and TURN (coturn, over ``transport``: tcp or
    tls, on 443) on the server's end of the pair."""
    return {
        **RELAYS[transport],
        "LEADCENTER_TURN_SERVE": "true",
        "LEADCENTER_TURN_LISTEN_HOST": SERVER,
        "LEADCENTER_TURN_RELAY_PORT_START": "23000",
        "LEADCENTER_TURN_RELAY_PORT_END": "23099",
        "LEADCENTER_HTTP_HTTPS_HOST": SERVER,
    }


def carrier_call(system, workdir: Path, number: str, caller_name: str):
    """A carrier's call to the demo's ads line from ``number``, 30 s of talk, that Alice's app hangs up."""
    return SippCaller(workdir=workdir).start_call(
        ADS_LINE,
        number,
        asterisk_port=system.sip_port,
        local_port=system.trunk_port,
        duration=30,
        caller_name=caller_name,
        expect_remote_bye=True,
    )
