"""The Debian sid root Asterisk 22 runs in (Debian 12 has no asterisk package): built once, cached, reused.

The build goes to ``<root>.partial`` and is renamed into place only when complete, so an interrupted build is
never mistaken for a good one; a stamp file records what the root holds and is checked at every start.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm")
STAMP = "etc/leadcenter-root"
MOUNT = "/srv/leadcenter"  # where the instance directory is mounted inside the root
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class ProvisionError(RuntimeError):
    pass


def _stamp_text() -> str:
    return "packages: " + " ".join(PACKAGES) + "\n"


def is_ready(root: Path) -> bool:
    stamp = root / STAMP
    return stamp.exists() and stamp.read_text().startswith(_stamp_text())


def asterisk_version(root: Path) -> str:
    match = re.search(r"asterisk-version: (.+)", (root / STAMP).read_text())
    return match.group(1) if match else "unknown"


def host_mirror(sources: tuple[Path, ...] = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))) -> str:
    """The Debian mirror this machine already uses (not the security archive), or deb.debian.org."""
    if env := os.environ.get("LEADCENTER_DEBIAN_MIRROR"):
        return env
    files = []
    for source in sources:
        if source.is_dir():
            files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources"))
        elif source.exists():
            files.append(source)
    for path in files:
        for match in re.finditer(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", path.read_text(), re.M):
            uri = match.group(1)
            if uri.startswith("http") and "security" not in uri and uri.rstrip("/").endswith("/debian"):
                return uri
    return DEFAULT_MIRROR


def _run(cmd: list[str], say: Callable[[str], None], show: Callable[[str], bool] = lambda line: True) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"})
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-30:]
        if show(line):
            say("    " + line)
    if proc.wait() != 0:
        raise ProvisionError(f"{' '.join(cmd[:3])}... failed (exit {proc.returncode}):\n" + "\n".join(tail))


def provision(root: Path, say: Callable[[str], None] = print, mirror: str | None = None) -> None:
    """Make sure an Asterisk root is at ``root``; build it when missing or incomplete (~1 minute, ~600 MB)."""
    if is_ready(root):
        say(f"Asterisk root ready: {root} (Asterisk {asterisk_version(root)})")
        return
    for tool in ("debootstrap", "chroot", "unshare"):
        if shutil.which(tool) is None:
            raise ProvisionError(f"{tool} is missing: install it with 'apt-get install debootstrap util-linux' "
                                 "(make run and make test do this)")
    mirror = mirror or host_mirror()
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"Building the Asterisk root (Debian sid) in {root} from {mirror}; this happens once per machine.")
    say("  [1/3] debootstrap: a minimal Debian sid system (about 30 s)")
    _run(["debootstrap", "--variant=minbase", "--include=ca-certificates", "sid", str(partial), mirror], say,
         show=lambda line: line.startswith(("I: Retrieving Release", "I: Validating", "I: Base system", "E:", "W:")))
    hostname = socket.gethostname()
    # Asterisk's SIP stack looks the host name up at boot: answer it locally, never over DNS.
    (partial / "etc/hosts").write_text(f"127.0.0.1 localhost {hostname}\n::1 localhost ip6-localhost {hostname}\n")
    # No services start inside the root while packages install.
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    say(f"  [2/3] apt-get install {' '.join(PACKAGES)} (about 15 s)")
    _run(["chroot", str(partial), "apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES], say,
         show=lambda line: line.startswith(("Setting up asterisk", "E:", "W:")))
    say("  [3/3] finishing")
    _run(["chroot", str(partial), "apt-get", "clean"], say)
    (partial / MOUNT.lstrip("/")).mkdir(parents=True, exist_ok=True)
    version = subprocess.run(["chroot", str(partial), "dpkg-query", "-W", "-f=${Version}", "asterisk"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (partial / STAMP).write_text(_stamp_text() + f"asterisk-version: {version}\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    say(f"Asterisk root ready: {root} (Asterisk {version}, built in {time.monotonic() - started:.0f} s)")


def account(root: Path, name: str) -> tuple[int, int]:
    """(uid, gid) of a user inside the root, e.g. the asterisk user its package created."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise ProvisionError(f"no user {name!r} in {root}/etc/passwd")
