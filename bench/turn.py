"""A browser call's setup through the TURN relay against direct ICE (issue 18, "Measure"): from the agent's Answer
click to the first audio each way.

The real system as the integration tests run it, `leadcenter run` serving HTTPS and TURN (coturn) on the server's end
of a veth pair as tests/integration/test_turn_relay.py does (tests/integration/turn_network.py), the demo agents
ringing in the browser. Alice answers carrier calls (SIPp, speaking G.711) to the demo's Ads line in Debian's
Chromium, TRIES calls a path, one path after the other in one run:

- ``direct``: her Chromium in the bench's own namespace: nothing blocked, ICE picks a host pair (checked);
- ``relay_tcp`` and ``relay_tls``: her Chromium in the agent's namespace, whose firewall drops every UDP packet that
  leaves it, so the one path is a relay candidate over TCP (``turn:`` on 443) or TLS (``turns:`` on 443; the
  controller restarted with that relay before its tries): ICE picks it (checked).

Each call: the ringing row seen, then Answer clicked (the page notes when: Date.now(), the machine's wall clock);
- ``browser_hears``: the softphone's RTCPeerConnection first counts a received audio packet (the page polls its stats
  every 5 ms);
- ``asterisk_hears``: the first RTP packet of the browser's audio arrives at Asterisk's side of Alice's leg (seen on
  the wire: to the one Asterisk RTP port ICE checks reached; from coturn's relay port, or from the browser itself).
  Asterisk relays each frame to the caller's leg at once, on loopback. The caller's own first packet of her audio is
  not timed: Asterisk sends the caller RTP before and around the answer too, which the wire cannot tell apart.

Numbers of its own: +1404555 1720 to 1749.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path

from bench.stats import summary
from bench.system import integration_helpers

TRIES = 10  # calls a path
CALLERS = {"direct": "+1404555172", "relay_tcp": "+1404555173", "relay_tls": "+1404555174"}  # + the try's digit
AGENT = "alice@acme.example"
AUDIO_WAIT_MS = 15_000
STUN_COOKIE = bytes.fromhex("2112a442")  # bytes 4-8 of every STUN message (RFC 5389)

# Runs in Alice's page before the app: when she last clicked (the Answer button, before the audio is read).
CLICK_PROBE = "window.addEventListener('click', () => { window.__clickedAt = Date.now(); }, true);"
# Polls the softphone's call until it has received an audio packet: when (Date.now()), or null after the limit.
FIRST_AUDIO = """async (limitMs) => {
  const { audioStats } = await import('/js/softphone.js');
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if ((await audioStats())?.packetsReceived > 0) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return null;
}"""


class FirstIceAudio:
    """Notes when (time.time()) the first RTP packet after ``arm()`` arrives on the loopback at one of Asterisk's
    RTP ``ports`` that ICE checks reached: the WebRTC leg's (the carrier's leg does no ICE). A packet from the
    browser itself, or from coturn's relay port."""

    def __init__(self, ports: range):
        self.ports = ports
        self.checked: set[int] = set()  # Asterisk's ports a STUN message reached
        self.since: float | None = None
        self.at: float | None = None
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))  # IPv4
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._open = True
        self._thread = threading.Thread(target=self._run, name="first-ice-audio", daemon=True)
        self._thread.start()

    def arm(self) -> None:
        self.at, self.since = None, time.time()

    def _run(self) -> None:
        while self._open:
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            header = (data[0] & 0x0F) * 4
            if data[9] != socket.IPPROTO_UDP or int.from_bytes(data[header + 2 : header + 4]) not in self.ports:
                continue
            port, payload = int.from_bytes(data[header + 2 : header + 4]), data[header + 8 :]
            if len(payload) >= 20 and payload[4:8] == STUN_COOKIE:
                self.checked.add(port)
            # RTP (version 2), not RTCP (payload types 72-79 with the marker bit: 200-207)
            elif (
                self.since is not None
                and self.at is None
                and port in self.checked
                and len(payload) >= 12
                and payload[0] >> 6 == 2
                and not 200 <= payload[1] <= 207
            ):
                self.at = time.time()

    def close(self) -> None:
        self._open = False
        self._thread.join(2)
        self._sock.close()


def _call(system, app, wire: FirstIceAudio, folder: Path, number: str, local: str) -> dict:
    """One carrier call answered by Alice: the two delays after her click (ms), or why the try failed."""
    from harness import wait_for
    from playwright.sync_api import expect
    from turn_network import SELECTED_PAIR, carrier_call

    system.all_available()
    caller = carrier_call(system, folder / number, number, "Remy Bench")
    try:
        expect(app.ringing_row().filter(has_text="Remy Bench")).to_be_visible()
        wire.arm()
        app.row("incoming", "Remy Bench").get_by_role("button", name="Answer").click()
        heard = app.page.evaluate(FIRST_AUDIO, AUDIO_WAIT_MS)
        clicked = app.page.evaluate("window.__clickedAt")
        if heard is None:
            return {"error": "the browser received no audio"}
        wait_for(lambda: wire.at, 5, interval=0.05, what="the browser's audio at Asterisk")
        pair = wait_for(
            lambda: (chosen := app.page.evaluate(SELECTED_PAIR)) and chosen["state"] == "succeeded" and chosen,
            10,
            what="the chosen candidate pair to succeed",
        )
        if pair["local"] != local:
            return {"error": f"ICE chose a {pair['local']} candidate, not {local}: {pair}"}
        app.page.get_by_role("button", name="Hang up").click()
        caller.wait(15).check()
        return {"browser_hears": heard - clicked, "asterisk_hears": round(1000 * wire.at - clicked, 1), "error": ""}
    finally:
        if caller.sipp.proc.poll() is None:  # the try failed midway: its call goes
            caller.kill()
        system.instance.rx("channel request hangup all")


def _path(system, browser_executable: Path, path: str, folder: Path) -> dict:
    """TRIES calls answered by Alice in a browser run by ``browser_executable``."""
    from browser import Browser
    from playwright.sync_api import Error as PlaywrightError
    from turn_network import SERVER

    local = "host" if path == "direct" else "relay"
    wire = FirstIceAudio(range(system.settings.asterisk.rtp_start, system.settings.asterisk.rtp_end + 1))
    tries: list[dict] = []
    try:
        with Browser(executable=browser_executable) as browser:
            url = f"https://{SERVER}:{system.settings.http.https_port}"
            app = browser.agent(system, AGENT, url=url, init_script=CLICK_PROBE)
            for n in range(TRIES):
                try:
                    tries.append(_call(system, app, wire, folder, f"{CALLERS[path]}{n}", local))
                except (
                    AssertionError,
                    TimeoutError,
                    PlaywrightError,
                ) as exc:  # a failed try says why; the next goes on
                    tries.append({"error": str(exc).splitlines()[0]})
                shown = ", ".join(f"{k} {v:.0f} ms" for k, v in tries[-1].items() if k != "error")
                print(
                    f"  {path} try {n + 1}: {shown}" + (f"; failed: {tries[-1]['error']}" if tries[-1]["error"] else "")
                )
    finally:
        wire.close()
    result = {way: summary([t[way] for t in tries if way in t], "ms") for way in ("browser_hears", "asterisk_hears")}
    return {
        **result,
        "tries": [{k: v for k, v in t.items() if k != "error"} for t in tries if not t["error"]],
        "failures": [t["error"] for t in tries if t["error"]],
    }


def run() -> dict:
    integration_helpers()
    from browser import CHROMIUM
    from harness import System, add_ice_interface, set_ring_device
    from turn_network import AgentNetwork, relay_settings

    from leadcenter import db

    if not add_ice_interface():
        raise SystemExit("the turn bench needs the private network namespace `make bench` runs in")
    with tempfile.TemporaryDirectory(prefix="lc-bench-turn-") as data, contextlib.ExitStack() as stack:
        folder = Path(data)
        system = System(folder)
        system.cli("demo")
        network = AgentNetwork(folder)  # before the controller: coturn and HTTPS listen on its address
        stack.callback(network.close)
        handle = system.open_database()
        stack.callback(handle.close)
        db.bind(handle)
        system.start_asterisk()
        stack.callback(system.stop_asterisk)
        stack.callback(system.stop_controller)
        paths = {}
        for path, transport, executable in (
            ("direct", "tcp", CHROMIUM),
            ("relay_tcp", "tcp", network.chromium),
            ("relay_tls", "tls", network.chromium),
        ):
            if path != "relay_tcp":  # the relay's transport changes: `leadcenter run` again with its settings
                system.stop_controller()
                system.start_controller(**relay_settings(transport))
                set_ring_device(system, "webrtc")
            paths[path] = _path(system, executable, path, folder)
    result: dict = {"tries": TRIES, **paths}
    for path in ("relay_tcp", "relay_tls"):
        result[f"{path}_extra_p50_ms"] = {
            way: round(paths[path][way]["p50"] - paths["direct"][way]["p50"], 1)
            if paths[path][way]["n"] and paths["direct"][way]["n"]
            else None
            for way in ("browser_hears", "asterisk_hears")
        }
    for path, figures in paths.items():
        print(
            f"  {path}: Answer -> the browser hears p50 {figures['browser_hears'].get('p50')} ms, max "
            f"{figures['browser_hears'].get('max')} ms; -> Asterisk hears the browser p50 "
            f"{figures['asterisk_hears'].get('p50')} ms, max {figures['asterisk_hears'].get('max')} ms "
            f"(n={figures['browser_hears']['n']}, {len(figures['failures'])} failed)"
        )
    extra = result["relay_tcp_extra_p50_ms"], result["relay_tls_extra_p50_ms"]
    print(f"  the relay's extra (p50): over TCP {extra[0]}, over TLS {extra[1]}")
    return result
