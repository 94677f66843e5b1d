"""Kamailio in front of two Asterisk nodes (issue 18), for tests/integration/test_kamailio.py and bench/edge.py.

Node a is the installation's own Asterisk (on SECOND_PORTS, beside the suite's installation), with [kamailio]
enabled: the demo company's calls are at home there, those of a second company (Beta Plumbing, its carrier trunk 2
at 127.0.0.1:B_TRUNK_PORT) on node b. Node b is a second Asterisk on THIRD_PORTS with its own instance directory,
its files rendered from the same database with the installation's AMI and ARI secrets; [kamailio] nodes names both
nodes' AMI and HTTP ports, so a controller drives both (docs/architecture.md, "Kamailio in front of several Asterisk
nodes")."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from harness import LEADCENTER, SECOND_PORTS, THIRD_PORTS, System

from leadcenter import asterisk_config, config, credentials
from leadcenter.pbx.process import Instance

EDGE_PORT = 25090
EDGE_TLS_PORT = 25092
B_TRUNK_PORT = 25071
NODE_A = f"127.0.0.1:{SECOND_PORTS['LEADCENTER_ASTERISK_SIP_PORT']}"
NODE_B = f"127.0.0.1:{THIRD_PORTS['LEADCENTER_ASTERISK_SIP_PORT']}"
NODE_B_SIP_PORT = int(THIRD_PORTS["LEADCENTER_ASTERISK_SIP_PORT"])


def _controls(ports: dict[str, str]) -> str:
    """A node's AMI and HTTP ports as [kamailio] nodes names them."""
    return f"{ports['LEADCENTER_ASTERISK_AMI_PORT']}/{ports['LEADCENTER_ASTERISK_HTTP_PORT']}"


EDGE = {
    "LEADCENTER_KAMAILIO_ENABLED": "true",
    "LEADCENTER_KAMAILIO_PORT": str(EDGE_PORT),
    "LEADCENTER_KAMAILIO_TLS_PORT": str(EDGE_TLS_PORT),
    "LEADCENTER_KAMAILIO_NODES": f"a={NODE_A}/{_controls(SECOND_PORTS)}, b={NODE_B}/{_controls(THIRD_PORTS)}",
    "LEADCENTER_KAMAILIO_HOMES": "1=a, 2=b",
    "LEADCENTER_KAMAILIO_PROBE_SECONDS": "1",
}


def edge_system(folder: Path, ports: dict[str, str] | None = None, database_url: str = "") -> System:
    """The installation in ``folder``/a (``ports`` over SECOND_PORTS and EDGE; its database SQLite, or the
    PostgreSQL one ``database_url`` names), the demo company seeded, Beta Plumbing and its carrier added; nothing
    started."""
    (folder / "a").mkdir()
    system = System(folder / "a", ports={**SECOND_PORTS, **EDGE, **(ports or {})}, database_url=database_url)
    system.cli("demo")
    system.cli("company", "add", "Beta Plumbing")
    system.cli("trunk", "add", "--company", "2", "Beta carrier", "127.0.0.1", "--port", str(B_TRUNK_PORT))
    return system


def start_node_b(
    system: System, folder: Path, stack: contextlib.ExitStack, ports: dict[str, str] | None = None
) -> Instance:
    """Node b in ``folder``/b (``ports`` over THIRD_PORTS), its files rendered now from ``system``'s database
    (bound in this process), started; ``stack`` stops it."""
    env = {**system.env, **THIRD_PORTS, **(ports or {}), "LEADCENTER_PATHS_DATA_DIR": str(folder / "b")}
    settings_b = config.load(env=env)
    node_b = Instance.from_settings(settings_b)
    node_b.prepare()
    # Node b takes the controller's AMI and ARI logins: the installation's secrets.
    asterisk_config.write(settings_b, credentials.load_or_create(system.settings.data_dir), node_b)
    node_b.start()
    stack.callback(node_b.stop)
    return node_b


class NodeFollower:
    """`leadcenter asterisk follow` for node b in ``folder``/b (its data directory, THIRD_PORTS, ``system``'s
    database and [kamailio], the installation's secrets.toml copied): node b's files are rendered by it only."""

    def __init__(self, system: System, folder: Path):
        data_dir = folder / "b"
        data_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(system.settings.data_dir / "secrets.toml", data_dir / "secrets.toml")
        self.env = {**system.env, **THIRD_PORTS, "LEADCENTER_PATHS_DATA_DIR": str(data_dir)}
        self.instance = Instance.from_settings(config.load(env=self.env))
        self.log = data_dir / "follower.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*LEADCENTER, "asterisk", "follow"],
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
            self.process.wait(20)
            self.process = None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


class Edge:
    """The installation (node a, Kamailio) and node b."""

    def __init__(self, system: System, node_b: Instance):
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
