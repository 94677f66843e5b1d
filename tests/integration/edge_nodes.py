"""Kamailio in front of two Asterisk nodes (issue 18), for tests/integration/test_kamailio.py,
test_asterisk_follow.py and bench/edge.py, laid out as separate hosts are.

The test's network namespace is the "world": a bridge (edge0, WORLD) where Kamailio listens, the controller runs
and the SIPp carriers and desk phones bind their SIP and RTP. Each Asterisk node is a host of its own: a network
namespace joined to the bridge by a veth pair (NODE_A_HOST, NODE_B_HOST), its Asterisk bound to that address and
started inside it; its AMI lets the controller in from WORLD only. STRANGER, another address on the world's side,
is a peer that is not Kamailio.

Node a is the installation's own Asterisk (SECOND_PORTS), with [kamailio] enabled: the demo company's calls are at
home there, those of a second company (Beta Plumbing, its carrier trunk 2 at WORLD:B_TRUNK_PORT) on node b. Node b
is a second Asterisk on THIRD_PORTS with its own instance directory, its files rendered from the same database with
the installation's AMI and ARI secrets; [kamailio] nodes names both nodes' AMI and HTTP ports, so a controller
drives both (docs/architecture.md, "Kamailio in front of several Asterisk nodes")."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness import LEADCENTER, SECOND_PORTS, THIRD_PORTS, System, wait_for

from leadcenter import asterisk_config, config, credentials
from leadcenter.pbx.process import Instance

WORLD, STRANGER = "198.18.97.1", "198.18.97.5"
BRIDGE = "edge0"
NODE_A_HOST, NODE_B_HOST = "198.18.97.11", "198.18.97.12"
EDGE_PORT = 25090
EDGE_TLS_PORT = 25092
B_TRUNK_PORT = 25071
NODE_A = f"{NODE_A_HOST}:{SECOND_PORTS['LEADCENTER_ASTERISK_SIP_PORT']}"
NODE_B = f"{NODE_B_HOST}:{THIRD_PORTS['LEADCENTER_ASTERISK_SIP_PORT']}"
NODE_B_SIP_PORT = int(THIRD_PORTS["LEADCENTER_ASTERISK_SIP_PORT"])

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


class World:
    """The bridge the hosts are joined to, with the world side's addresses (WORLD, STRANGER)."""

    def __init__(self) -> None:
        try:
            for command in (
                ["ip", "link", "add", BRIDGE, "type", "bridge"],
                ["ip", "addr", "add", f"{WORLD}/24", "dev", BRIDGE],
                ["ip", "addr", "add", f"{STRANGER}/24", "dev", BRIDGE],
                ["ip", "link", "set", BRIDGE, "up"],
            ):
                subprocess.run(command, check=True, capture_output=True)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


class Host:
    """A host of its own at ``address`` on the world's bridge: a network namespace held by a sleeping process
    (tests/integration/turn_network.py's AgentNetwork), joined to the bridge by the veth pair ``link``."""

    def __init__(self, link: str, address: str) -> None:
        self.link, self.address = link, address
        self.holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        self.namespace = f"/proc/{self.holder.pid}/ns/net"
        self.enter = ["nsenter", f"--net={self.namespace}", "--"]
        try:
            wait_for(
                lambda: os.readlink(self.namespace) != os.readlink("/proc/self/ns/net"), 5, what=f"{link}'s namespace"
            )
            inside = f"{link}i"
            for command in (
                ["ip", "link", "add", link, "type", "veth", "peer", "name", inside],
                ["ip", "link", "set", inside, "netns", str(self.holder.pid)],
                ["ip", "link", "set", link, "master", BRIDGE],
                ["ip", "link", "set", link, "up"],
                [*self.enter, "ip", "link", "set", "lo", "up"],
                [*self.enter, "ip", "addr", "add", f"{address}/24", "dev", inside],
                [*self.enter, "ip", "link", "set", inside, "up"],
            ):
                subprocess.run(command, check=True, capture_output=True)
        except BaseException:
            self.close()
            raise

    def run(self, function: Callable[[], T]) -> T:
        """``function()`` called in a thread that joined the host's namespace: what it starts runs there. (Python
        3.11 has no os.setns; libc's setns moves the calling thread only, and its children inherit it.)"""
        outcome: list = []

        def joined() -> None:
            try:
                with open(self.namespace) as namespace:
                    if _libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {self.link}'s namespace")
                outcome.append((True, function()))
            except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
                outcome.append((False, exc))

        thread = threading.Thread(target=joined, name=f"in-{self.link}")
        thread.start()
        thread.join()
        done, value = outcome[0]
        if not done:
            raise value
        return value

    def close(self) -> None:
        self.holder.kill()  # the namespace goes with its last process, and the pair with it
        self.holder.wait(5)
        subprocess.run(["ip", "link", "del", self.link], capture_output=True)


def _controls(ports: dict[str, str]) -> str:
    """A node's AMI and HTTP ports as [kamailio] nodes names them."""
    return f"{ports['LEADCENTER_ASTERISK_AMI_PORT']}/{ports['LEADCENTER_ASTERISK_HTTP_PORT']}"


def _on_host(address: str) -> dict[str, str]:
    """A node's [asterisk] on its own host: SIP, RTP, AMI and HTTP bound to ``address``, where the controller
    reaches them; AMI takes the controller's address (WORLD) only."""
    return {
        "LEADCENTER_ASTERISK_SIP_HOST": address,
        "LEADCENTER_ASTERISK_BIND_HOST": address,
        "LEADCENTER_ASTERISK_HOST": address,
        "LEADCENTER_ASTERISK_AMI_PERMIT": f"{WORLD}/255.255.255.255",
    }


EDGE = {
    **_on_host(NODE_A_HOST),
    "LEADCENTER_DEMO_TRUNK_HOST": WORLD,
    "LEADCENTER_KAMAILIO_LISTEN_HOST": WORLD,
    "LEADCENTER_KAMAILIO_ENABLED": "true",
    "LEADCENTER_KAMAILIO_PORT": str(EDGE_PORT),
    "LEADCENTER_KAMAILIO_TLS_PORT": str(EDGE_TLS_PORT),
    "LEADCENTER_KAMAILIO_NODES": f"a={NODE_A}/{_controls(SECOND_PORTS)}, b={NODE_B}/{_controls(THIRD_PORTS)}",
    "LEADCENTER_KAMAILIO_HOMES": "1=a, 2=b",
    "LEADCENTER_KAMAILIO_PROBE_SECONDS": "1",
}


class EdgeSystem(System):
    """The installation: the controller and Kamailio in the world, its own Asterisk (node a) on host a."""

    def __init__(self, data_dir: Path, hosts: dict[str, Host], ports: dict[str, str], database_url: str):
        super().__init__(data_dir, ports=ports, database_url=database_url)
        self.hosts = hosts

    def start_asterisk(self) -> None:
        # `leadcenter run` finds it running there and drives it (AMI and ARI at NODE_A_HOST).
        self.hosts["a"].run(super().start_asterisk)


def edge_system(
    folder: Path, stack: contextlib.ExitStack, ports: dict[str, str] | None = None, database_url: str = ""
) -> EdgeSystem:
    """The world's bridge and the nodes' hosts (``stack`` removes them), and the installation in ``folder``/a
    (``ports`` over SECOND_PORTS and EDGE; its database SQLite, or the PostgreSQL one ``database_url`` names), the
    demo company seeded, Beta Plumbing and its carrier added; nothing started."""
    stack.callback(World().close)
    hosts = {}
    for name, address in (("a", NODE_A_HOST), ("b", NODE_B_HOST)):
        hosts[name] = Host(f"{BRIDGE}-{name}", address)
        stack.callback(hosts[name].close)
    (folder / "a").mkdir()
    ports = {**SECOND_PORTS, **EDGE, **(ports or {})}
    system = EdgeSystem(folder / "a", hosts, ports=ports, database_url=database_url)
    system.cli("demo")
    system.cli("company", "add", "Beta Plumbing")
    system.cli("trunk", "add", "--company", "2", "Beta carrier", WORLD, "--port", str(B_TRUNK_PORT))
    return system


def start_node_b(
    system: EdgeSystem, folder: Path, stack: contextlib.ExitStack, ports: dict[str, str] | None = None
) -> Instance:
    """Node b in ``folder``/b (``ports`` over THIRD_PORTS), its files rendered now from ``system``'s database
    (bound in this process), started on host b; ``stack`` stops it."""
    env = {
        **system.env,
        **THIRD_PORTS,
        **_on_host(NODE_B_HOST),
        **(ports or {}),
        "LEADCENTER_PATHS_DATA_DIR": str(folder / "b"),
    }
    settings_b = config.load(env=env)
    node_b = Instance.from_settings(settings_b)
    node_b.prepare()
    # Node b takes the controller's AMI and ARI logins: the installation's secrets.
    asterisk_config.write(settings_b, credentials.load_or_create(system.settings.data_dir), node_b)
    system.hosts["b"].run(node_b.start)
    stack.callback(node_b.stop)
    return node_b


class NodeFollower:
    """`leadcenter asterisk follow` for node b in ``folder``/b (its data directory, THIRD_PORTS, ``system``'s
    database and [kamailio], the installation's secrets.toml copied), run on host b: node b's files are rendered by it
    only, and the Asterisk it starts runs there."""

    def __init__(self, system: EdgeSystem, folder: Path):
        data_dir = folder / "b"
        data_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(system.settings.data_dir / "secrets.toml", data_dir / "secrets.toml")
        self.env = {**system.env, **THIRD_PORTS, **_on_host(NODE_B_HOST), "LEADCENTER_PATHS_DATA_DIR": str(data_dir)}
        self.enter = system.hosts["b"].enter
        self.instance = Instance.from_settings(config.load(env=self.env))
        self.log = data_dir / "follower.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*self.enter, *LEADCENTER, "asterisk", "follow"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Stop it (SIGINT: as Ctrl-C, stopping the Asterisk it started; SIGKILL: no chance to)."""
        if self.process is not None:
            os.killpg(self.process.pid, sig)
            # Stopping its Asterisk alone may take 18 s (`core stop now` asked 5 s, then 10 s and 3 s for the
            # process to end): a loaded machine once took the follower past 20.
            self.process.wait(60)
            self.process = None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


class Edge:
    """The installation (node a, Kamailio) and node b."""

    def __init__(self, system: EdgeSystem, node_b: Instance):
        self.system, self.node_b = system, node_b
        self.kamailio = asterisk_config.edge(system.settings, credentials.load_or_create(system.settings.data_dir))

    def table(self, name: str, key: str) -> str | None:
        """An htable's value for ``key`` as Kamailio has it (kamcmd's s: keeps a number's digits a string)."""
        answer = self.kamailio.rpc("htable.get", name, f"s:{key}") or ""
        return next((line.split("value:")[1].strip() for line in answer.splitlines() if "value:" in line), None)

    def destinations(self) -> dict[str, str]:
        """Each node's URI -> its dispatcher flags (AP: active and probed, IP: inactive)."""
        listing = self.kamailio.rpc("dispatcher.list") or ""
        uris = [line.split("URI:")[1].strip() for line in listing.splitlines() if "URI:" in line]
        flags = [line.split("FLAGS:")[1].strip() for line in listing.splitlines() if "FLAGS:" in line]
        return dict(zip(uris, flags, strict=True))
