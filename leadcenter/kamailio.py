"""Kamailio, the SIP edge in front of several Asterisk nodes (issue 18): its configuration rendered from plain specs,
the process `leadcenter run` supervises, and its live reloads over its RPC socket.

What goes where: ``kamailio/kamailio.cfg`` (the routing script, a template) filled from [kamailio]; the dispatcher
list (one set per Asterisk node, the node first and its standby next); and the tables Kamailio reads into its
htables (db_text files: tracking number -> the set of its company's home node, carrier address -> trunk endpoint,
desk phone -> password and set). The script is fixed while Kamailio runs; the list and the tables are what the
database changes, and Kamailio reloads them (``dispatcher.reload``, ``htable.reload``) without dropping a call.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from leadcenter.config import KamailioNode, KamailioSettings, Settings, kamailio_homes, kamailio_nodes
from leadcenter.pbx import names
from leadcenter.pbx.process import end_process, running_pid
from leadcenter.pbx.render import Snapshot, TrunkSpec, fill
from leadcenter.resources import KAMAILIO_TEMPLATE

# The htables rendered from the database, in the order the script declares them.
TABLES = ("numbers", "carriers", "phones", "phone_sets")
DB_TEXT_COLUMNS = "id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)"
STRING_VALUE, INT_VALUE = 0, 1
HOME_PRIORITY, STANDBY_PRIORITY = 10, 5


class KamailioError(RuntimeError):
    pass


@dataclass(frozen=True)
class EdgeSnapshot:
    """What the edge's tables say: ``edge_snapshot`` of what ``asterisk_config.snapshot`` read from the database."""

    numbers: tuple[tuple[str, int], ...] = ()  # (E.164 number, its company's id)
    carriers: tuple[tuple[str, str], ...] = ()  # (a trunk's address:port, unbracketed, its Asterisk endpoint)
    phones: tuple[tuple[str, str, int], ...] = ()  # (a desk phone's username, its password, its company's id)


def edge_snapshot(snapshot: Snapshot) -> EdgeSnapshot:
    """What the edge needs of what Asterisk's files are rendered from: the tracking numbers' companies, the
    carriers' addresses, the desk phones (browsers reach Asterisk through the app's /sip relay, not the edge)."""
    return EdgeSnapshot(
        numbers=tuple((route.number, route.company_id) for route in snapshot.routes),
        carriers=tuple((_carrier_key(trunk), trunk.name) for trunk in snapshot.trunks),
        phones=tuple((d.name, d.password, d.company_id) for d in snapshot.devices if not d.webrtc),
    )


def _carrier_key(trunk: TrunkSpec) -> str:
    """How the edge knows a carrier's requests, as Asterisk's identify does: by address and port, or over TCP or TLS
    by its address alone (unbracketed, as Kamailio's $si has it)."""
    return trunk.host if trunk.from_any_port else f"{trunk.host}:{trunk.port}"


def node_set(nodes: tuple[KamailioNode, ...], name: str) -> int:
    """The dispatcher set of the node called ``name``: its position in [kamailio] nodes, from 1."""
    return 1 + [node.name for node in nodes].index(name)


def company_set(settings: Settings, nodes: tuple[KamailioNode, ...], company_id: int) -> int:
    """The set a company's calls go to: its home node's ([kamailio] homes; the first node when not listed)."""
    return node_set(nodes, kamailio_homes(settings).get(company_id, nodes[0].name))


def render_dispatcher(nodes: tuple[KamailioNode, ...]) -> str:
    """One set per node: the node first, then its standby (the next node in the list, the first after the last).
    Every destination is probed (flag 0 and ds_probing_mode 1): an inactive one is skipped by ds_select_dst."""
    lines = ["# Rendered by Lead Center from [kamailio] nodes: setid destination flags priority attributes"]
    for index, node in enumerate(nodes):
        set_id = index + 1
        lines.append(f"{set_id} {node.uri} 0 {HOME_PRIORITY} duid={node.name}")
        if len(nodes) > 1:
            standby = nodes[(index + 1) % len(nodes)]
            lines.append(f"{set_id} {standby.uri} 0 {STANDBY_PRIORITY} duid={standby.name}")
    return "\n".join(lines) + "\n"


def _db_text_value(value: str) -> str:
    """A string as db_text stores it: its separator and escape character escaped."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("\n", "\\n")


def render_table(rows: list[tuple[str, str | int]]) -> str:
    """One htable's db_text file: key -> value (an int stays an int), sorted so that the text only changes when the
    data does."""
    lines = [DB_TEXT_COLUMNS]
    for index, (key, value) in enumerate(sorted(rows, key=lambda row: row[0]), start=1):
        kind = INT_VALUE if isinstance(value, int) else STRING_VALUE
        lines.append(f"{index}:{_db_text_value(key)}:0:{kind}:{_db_text_value(str(value))}:0")
    return "\n".join(lines) + "\n"


def render_bans(ends: dict[str, int]) -> str:
    """The ban list's db_text file: each address (a string key, as the script sets it) with when its ban ends."""
    lines = [DB_TEXT_COLUMNS]
    for index, (address, end) in enumerate(sorted(ends.items()), start=1):
        lines.append(f"{index}:{_db_text_value(address)}:0:{INT_VALUE}:1:{end}")
    return "\n".join(lines) + "\n"


def render_tables(settings: Settings, snapshot: EdgeSnapshot) -> dict[str, str]:
    """The db_text files (table name -> text): tracking numbers as carriers send them (digits, no +)."""
    nodes = kamailio_nodes(settings)
    return {
        "numbers": render_table(
            [(number.lstrip("+"), company_set(settings, nodes, c)) for number, c in snapshot.numbers]
        ),
        "carriers": render_table(list(snapshot.carriers)),
        "phones": render_table([(username, password) for username, password, _ in snapshot.phones]),
        "phone_sets": render_table([(username, company_set(settings, nodes, c)) for username, _, c in snapshot.phones]),
    }


def _listen(kamailio: KamailioSettings) -> str:
    host = f"[{kamailio.listen_host}]" if ":" in kamailio.listen_host else kamailio.listen_host
    ports = [("udp", kamailio.port), ("tcp", kamailio.port)] + (
        [("tls", kamailio.tls_port)] if kamailio.tls_port else []
    )
    return "\n".join(f"listen={transport}:{host}:{port}" for transport, port in ports)


def _tls(kamailio: KamailioSettings, folder: Path) -> str:
    """The script's TLS part: the tls module reading tls.cfg, or a word that it is off."""
    if not kamailio.tls_port:
        return "# SIP over TLS is off ([kamailio] tls_port = 0)."
    return f'enable_tls=yes\nloadmodule "tls.so"\nmodparam("tls", "config", "{folder}/tls.cfg")'


def render_tls_cfg(certificate: Path, private_key: Path) -> str:
    """The tls module's profiles: phones connecting get ``certificate``, over TLS 1.2 or later, and are not asked for
    one of theirs (they prove who they are with their digest password, as over UDP and TCP). Kamailio would connect
    out over TLS only to a phone whose connection is gone: its client profile must verify a certificate and trusts
    no authority, so it never does (the phone is reached again once it registers, on its own connection). No
    ca_list: loading the system's bundle into every process's context made Kamailio's start take 7 s instead of
    0.1 s here."""
    return (
        "# Rendered by Lead Center from [kamailio] tls_port and [asterisk] sip_certificate / sip_private_key.\n"
        "[server:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = no\n"
        "require_certificate = no\n"
        f"certificate = {certificate}\n"
        f"private_key = {private_key}\n"
        "\n"
        "[client:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = yes\n"
        "require_certificate = yes\n"
    )


def render_cfg(settings: Settings, folder: Path, nobody_password: str) -> str:
    """kamailio.cfg from the template and [kamailio]; ``nobody_password`` is what unknown usernames are challenged
    against (a generated secret nobody is told)."""
    kamailio = settings.kamailio
    return fill(
        KAMAILIO_TEMPLATE.read_text(),
        {
            "listen": _listen(kamailio),
            "tls": _tls(kamailio, folder),
            "children": kamailio.children,
            "folder": folder,
            "invite_timeout_ms": kamailio.invite_timeout_ms,
            "ban_seconds": kamailio.ban_seconds,
            "probe_seconds": kamailio.probe_seconds,
            "probe_threshold": kamailio.probe_threshold,
            "probe_from": kamailio.listen_host,
            "pike_seconds": kamailio.pike_seconds,
            "pike_requests": kamailio.pike_requests,
            "nobody_password": nobody_password,
            "trunk_header": names.EDGE_TRUNK_HEADER,
            "phone_header": names.EDGE_PHONE_HEADER,
        },
    )


def render_files(
    settings: Settings,
    snapshot: EdgeSnapshot,
    folder: Path,
    nobody_password: str,
    certificate: tuple[Path, Path] | None = None,
) -> dict[str, str]:
    """Every file the edge reads, by its name in ``folder``; ``certificate``: SIP over TLS's certificate and key,
    needed when [kamailio] tls_port is set."""
    files = {
        "kamailio.cfg": render_cfg(settings, folder, nobody_password),
        "dispatcher.list": render_dispatcher(kamailio_nodes(settings)),
    }
    if settings.kamailio.tls_port:
        if certificate is None:
            raise KamailioError("[kamailio] tls_port needs SIP over TLS's certificate and key")
        files["tls.cfg"] = render_tls_cfg(*certificate)
    files.update({f"tables/{name}": text for name, text in render_tables(settings, snapshot).items()})
    return files


# What Kamailio must do when a file changed: the script is read at start only (and the certificate when tls.cfg is
# read: at start, or when another certificate's files are named).
RELOADS = {
    "dispatcher.list": ("dispatcher.reload",),
    "tls.cfg": ("tls.reload",),
    **{f"tables/{t}": ("htable.reload", t) for t in TABLES},
}


class Edge:
    """The Kamailio `leadcenter run` starts when [kamailio] enabled: its private folder (``<data_dir>/kamailio``),
    its files, its process and its RPC socket. It runs as the account `leadcenter run` runs as: its tables and lists
    are in the private data directory, which no other account may enter."""

    def __init__(self, settings: Settings, nobody_password: str, certificate: tuple[Path, Path] | None = None):
        self.settings = settings
        self.nobody_password = nobody_password
        self.certificate = certificate  # SIP over TLS's certificate and key files, for [kamailio] tls_port
        self.folder = settings.data_dir / "kamailio"

    @property
    def pidfile(self) -> Path:
        return self.folder / "kamailio.pid"

    @property
    def log(self) -> Path:
        return self.folder / "kamailio.log"

    @property
    def socket(self) -> Path:
        return self.folder / "kamailio.ctl"

    def write(self, snapshot: EdgeSnapshot) -> set[str]:
        """Render every file and write those whose text changed (atomically, 0600 in a 0700 folder: they hold the
        phones' passwords); returns their names."""
        (self.folder / "tables").mkdir(parents=True, exist_ok=True)
        for folder in (self.folder, self.folder / "tables"):
            folder.chmod(0o700)
        if not self.bans.exists():  # the ban list is Kamailio's (kept by ``stop``), never rendered
            self._write_private(self.bans, render_bans({}))
        changed = set()
        for name, text in render_files(
            self.settings, snapshot, self.folder, self.nobody_password, self.certificate
        ).items():
            path = self.folder / name
            if path.exists() and path.read_text() == text:
                continue
            self._write_private(path, text)
            changed.add(name)
        return changed

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        """``path`` replaced atomically by ``text``, 0600."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        if path.exists():
            # db_text compares whole seconds: a table rewritten within the second must still look newer.
            newer = max(os.stat(tmp).st_mtime, os.stat(path).st_mtime + 1)
            os.utime(tmp, (newer, newer))
        os.replace(tmp, path)

    @property
    def bans(self) -> Path:
        return self.folder / "tables" / "ban"

    def banned(self) -> dict[str, int] | None:
        """The running Kamailio's ban list: address -> when its ban ends (Unix time); None when it cannot be asked."""
        listing = self.rpc("htable.dump", "ban")
        if listing is None:
            return None
        ends = {}
        for address in re.findall(r"^\s*name: (\S+)$", listing, re.M):
            item = self.rpc("htable.get", "ban", f"s:{address}") or ""
            shown = re.search(r"^\s*expire: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$", item, re.M)
            if shown:  # in Kamailio's local time
                ends[address] = int(time.mktime(time.strptime(shown.group(1), "%Y-%m-%d %H:%M:%S")))
        return ends

    def pid(self) -> int | None:
        return running_pid(self.pidfile, b"kamailio", str(self.folder).encode())

    def command(self) -> list[str]:
        # -DD: in the foreground (its children forked), so that `leadcenter run` is its parent; -E: log to stderr.
        shared_memory = str(self.settings.kamailio.memory_mb)
        return ["kamailio", "-DD", "-E", "-m", shared_memory, "-f", str(self.folder / "kamailio.cfg")]

    def start(self, snapshot: EdgeSnapshot, wait: float = 10.0) -> int:
        """Write the files, start Kamailio and wait until its RPC socket answers; returns its pid. One already
        running for this data directory is kept, and reloads what changed."""
        changed = self.write(snapshot)
        if (pid := self.pid()) is not None:
            self.reload(changed)
            return pid
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KamailioError(f"Kamailio exited at start (code {proc.returncode}); see {self.log}")
            if self.socket.exists() and self.rpc("core.version", timeout=1.0) is not None:
                return proc.pid
            time.sleep(0.05)
        self.stop()
        raise KamailioError(f"Kamailio did not answer on {self.socket} in {wait:.0f} s; see {self.log}")

    def rpc(self, *command: str, timeout: float = 5.0) -> str | None:
        """One RPC command over the control socket (kamcmd); its output, or None when Kamailio cannot be reached
        or refuses it."""
        try:
            done = subprocess.run(
                ["kamcmd", "-s", f"unix:{self.socket}", *command], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return None
        return done.stdout if done.returncode == 0 and not done.stdout.startswith("error") else None

    def reload(self, changed: set[str]) -> None:
        """Have the running Kamailio read the lists and tables that changed; KamailioError when it does not (the
        script itself is read at start: a change to [kamailio] needs a restart)."""
        for name in sorted(changed):
            command = RELOADS.get(name)
            if command is not None and self.rpc(*command) is None:
                raise KamailioError(f"Kamailio did not reload {name} ({' '.join(command)}); see {self.log}")

    def status(self) -> dict:
        """What /healthz says of the edge: ``running`` (and each node's URI with whether the dispatcher has it active:
        answering its probes) or ``down``."""
        listing = self.rpc("dispatcher.list") if self.pid() is not None else None
        if listing is None:
            return {"state": "down"}
        nodes: dict[str, bool] = {}
        uri = None
        for line in (line.strip() for line in listing.splitlines()):
            if line.startswith("URI:"):
                uri = line.removeprefix("URI:").strip()
            elif line.startswith("FLAGS:") and uri is not None:
                # A node is in several sets (home and standby): it has one state.
                nodes[uri] = line.removeprefix("FLAGS:").strip().startswith("A")
        return {"state": "running", "nodes": [{"uri": uri, "active": active} for uri, active in sorted(nodes.items())]}

    def ban(self, address: str) -> None:
        """Refuse ``address`` for [kamailio] ban_seconds (what fail2ban's action does with kamcmd)."""
        if self.rpc("htable.seti", "ban", f"s:{address}", "1") is None:  # s: an address is never read as a number
            raise KamailioError(f"Kamailio did not ban {address}")

    def stop(self, wait: float = 5.0) -> bool:
        """Keep its ban list for the next start, then stop Kamailio (SIGTERM, then SIGKILL); True when one was
        running. (A Kamailio that died loses the bans made since the last stop.)"""
        pid = self.pid()
        if pid is None:
            return False
        if (bans := self.banned()) is not None:
            self._write_private(self.bans, render_bans(bans))
        end_process(pid, self.pidfile, wait, group=True)
        return True
