"""TURN for browser agents: the short-lived credentials the app hands each agent, and the coturn (Debian's
turnserver) that `leadcenter run` may run beside Asterisk.

Credentials follow coturn's shared-secret REST scheme (use-auth-secret): the username is ``<expiry>:<who>`` (the
expiry in Unix seconds), the password base64(HMAC-SHA1(secret, username)). coturn checks them with the same secret
when a browser allocates a relay, so nothing is stored per agent and a leaked credential dies by itself.

The relay forwards media to Asterisk only: every other address is a denied peer (a TURN server that relays anywhere
lets anyone with a credential reach the server's network).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from leadcenter.config import Settings, turn_peers
from leadcenter.pbx.process import end_process, running_pid

EPOCH = dt.datetime(1970, 1, 1)
EVERY_ADDRESS = ("0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


class TurnError(RuntimeError):
    pass


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: dt.datetime  # naive UTC


def credential(secret: str, who: str, now: dt.datetime, lifetime: dt.timedelta) -> TurnCredential:
    """A credential for ``who`` good until ``now`` + ``lifetime`` (``now`` from the caller's clock)."""
    expires_at = now + lifetime
    username = f"{int((expires_at - EPOCH).total_seconds())}:{who}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expires_at)


@dataclass(frozen=True)
class TurnFiles:
    """Where the coturn Lead Center runs keeps its files (``<data_dir>/turn``, private: the config holds the
    secret), and the TLS certificate it serves on [turn] tls_port."""

    folder: Path
    certificate: Path | None = None
    private_key: Path | None = None

    @property
    def conf(self) -> Path:
        return self.folder / "turnserver.conf"

    @property
    def pidfile(self) -> Path:
        return self.folder / "turnserver.pid"

    @property
    def log(self) -> Path:
        return self.folder / "turnserver.log"


def render_conf(settings: Settings, secret: str, files: TurnFiles) -> str:
    """coturn's turnserver.conf for [turn]: shared-secret credentials only, no CLI, media relayed to Asterisk's
    addresses (``config.turn_peers``) and nowhere else."""
    turn = settings.turn
    peers = turn_peers(settings)
    lines = [
        "# Rendered by Lead Center from [turn] at each start: edit leadcenter.toml, not this file.",
        f"realm={turn.realm}",
        "use-auth-secret",
        f"static-auth-secret={secret}",
        "fingerprint",
    ]
    if turn.listen_host:
        lines.append(f"listening-ip={turn.listen_host}")
    lines.append(f"listening-port={turn.port}")
    if turn.tls_port:
        lines += [f"tls-listening-port={turn.tls_port}", f"cert={files.certificate}", f"pkey={files.private_key}"]
        lines += ["no-tlsv1", "no-tlsv1_1"]
    else:
        lines.append("no-tls")
    lines += [
        "no-dtls",
        f"min-port={turn.relay_port_start}",
        f"max-port={turn.relay_port_end}",
        "no-cli",
        "no-multicast-peers",
        *(f"denied-peer-ip={every}" for every in EVERY_ADDRESS),
        # An allowed address wins over a denied range.
        *(f"allowed-peer-ip={peer}" for peer in peers),
    ]
    if any(ipaddress.ip_address(peer).is_loopback for peer in peers):
        lines.append("allow-loopback-peers")  # Asterisk on this machine's loopback (a one-box test setup)
    lines += [
        f"proc-user={turn.run_as}",
        f"proc-group={turn.run_as}",
        f"pidfile={files.pidfile}",
        "log-file=stdout",
        "simple-log",
    ]
    return "\n".join(lines) + "\n"


TURNSERVER = "/usr/bin/turnserver"


class TurnServer:
    """The coturn process `leadcenter run` starts beside Asterisk when [turn] serve is true."""

    def __init__(self, settings: Settings, secret: str, certificate: tuple[Path, Path] | None = None):
        self.settings = settings
        self.secret = secret
        folder = settings.data_dir / "turn"
        self.files = TurnFiles(folder, *(certificate or (None, None)))
        self._pidfile = folder / "leadcenter-turnserver.pid"

    def write_conf(self) -> None:
        """The rendered configuration, readable by root only (it holds the secret; coturn reads it before it drops
        to its own user)."""
        self.files.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.files.conf.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(render_conf(self.settings, self.secret, self.files))
        os.replace(tmp, self.files.conf)

    def pid(self) -> int | None:
        return running_pid(self._pidfile, b"turnserver", str(self.files.conf).encode())

    def start(self, wait: float = 10.0) -> int:
        """Start coturn and wait until it accepts TURN over TCP; returns its pid."""
        if (pid := self.pid()) is not None:
            return pid
        self.write_conf()
        with open(self.files.log, "ab") as log:
            proc = subprocess.Popen(
                [TURNSERVER, "-c", str(self.files.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pidfile.write_text(str(proc.pid))
        address = (self.settings.turn.listen_host or "127.0.0.1", self.settings.turn.port)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise TurnError(f"coturn exited at start (code {proc.returncode}); see {self.files.log}")
            try:
                socket.create_connection(address, timeout=0.5).close()
                return proc.pid
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TurnError(f"coturn did not listen on {address[0]}:{address[1]} in {wait:.0f} s; see {self.files.log}")

    def stop(self, wait: float = 5.0) -> bool:
        """Stop coturn (SIGTERM, then SIGKILL); True when one was running."""
        pid = self.pid()
        if pid is None:
            return False
        end_process(pid, self._pidfile, wait)
        return True
