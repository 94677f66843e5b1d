"""The Debian sid root Asterisk 22 runs in (Debian 12 has no asterisk package): built once, cached, reused.

The build goes to ``<root>.partial`` and is renamed into place only when complete, so an interrupted build is
never mistaken for a good one; a stamp file records what the root holds and is checked at every start.

Asterisk runs as the root's ``asterisk`` user, whose ids are those of a system account of the host made for it
(HOST_ACCOUNT): the files Asterisk writes (recordings, voicemail, logs) then belong to that account on the host and
to nobody else. The package gives the user the next free system id of the root (101), which on the host is often
someone else's (``postgres``, group ``_ssh``). ``provision`` brings an existing root to this, once.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm")
STAMP = "etc/leadcenter-root"
MOUNT = "/srv/leadcenter"  # where the instance directory is mounted inside the root
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_ACCOUNT = "leadcenter-asterisk"  # the host's system user and group Asterisk runs as
ROOT_USER = "asterisk"  # the user the asterisk package created in the root


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
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"},
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = ([*tail, line])[-30:]
        if show(line):
            say("    " + line)
    if proc.wait() != 0:
        raise ProvisionError(f"{' '.join(cmd[:3])}... failed (exit {proc.returncode}):\n" + "\n".join(tail))


def provision(root: Path, say: Callable[[str], None] = print, mirror: str | None = None) -> None:
    """Make sure an Asterisk root is at ``root``, its asterisk user with the host account's ids; build it when
    missing or incomplete (~1 minute, ~600 MB)."""
    if not is_ready(root):
        _build(root, say, mirror)
    adopt_host_account(root, say)
    say(f"Asterisk root ready: {root} (Asterisk {asterisk_version(root)}, runs as {HOST_ACCOUNT})")


def _build(root: Path, say: Callable[[str], None], mirror: str | None) -> None:
    for tool in ("debootstrap", "chroot", "unshare"):
        if shutil.which(tool) is None:
            raise ProvisionError(
                f"{tool} is missing: install it with 'apt-get install debootstrap util-linux' "
                "(make run and make test do this)"
            )
    mirror = mirror or host_mirror()
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"Building the Asterisk root (Debian sid) in {root} from {mirror}; this happens once per machine.")
    say("  [1/3] debootstrap: a minimal Debian sid system (about 30 s)")
    _run(
        ["debootstrap", "--variant=minbase", "--include=ca-certificates", "sid", str(partial), mirror],
        say,
        show=lambda line: line.startswith(("I: Retrieving Release", "I: Validating", "I: Base system", "E:", "W:")),
    )
    hostname = socket.gethostname()
    # Asterisk's SIP stack looks the host name up at boot: answer it locally, never over DNS.
    (partial / "etc/hosts").write_text(f"127.0.0.1 localhost {hostname}\n::1 localhost ip6-localhost {hostname}\n")
    # No services start inside the root while packages install.
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    say(f"  [2/3] apt-get install {' '.join(PACKAGES)} (about 15 s)")
    _run(
        ["chroot", str(partial), "apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
        say,
        show=lambda line: line.startswith(("Setting up asterisk", "E:", "W:")),
    )
    say("  [3/3] finishing")
    _run(["chroot", str(partial), "apt-get", "clean"], say)
    (partial / MOUNT.lstrip("/")).mkdir(parents=True, exist_ok=True)
    version = subprocess.run(
        ["chroot", str(partial), "dpkg-query", "-W", "-f=${Version}", "asterisk"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (partial / STAMP).write_text(_stamp_text() + f"asterisk-version: {version}\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    say(f"  built in {time.monotonic() - started:.0f} s")


def account(root: Path, name: str) -> tuple[int, int]:
    """(uid, gid) of a user inside the root, e.g. the asterisk user its package created."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise ProvisionError(f"no user {name!r} in {root}/etc/passwd")


# -- the host account Asterisk runs as ------------------------------------------------------------------------


def _ids(table: Path) -> set[int]:
    """The ids (third field) of an /etc/passwd or /etc/group file."""
    return {
        int(fields[2])
        for line in table.read_text().splitlines()
        if len(fields := line.split(":")) > 2 and fields[2].isdigit()
    }


def free_system_id(taken: set[int]) -> int:
    """The highest system id (999 down to 100, as useradd --system picks them) in none of ``taken``."""
    for number in range(999, 99, -1):
        if number not in taken:
            return number
    raise ProvisionError("no free system id (100-999) for the Asterisk account")


def host_account(root: Path, say: Callable[[str], None]) -> tuple[int, int]:
    """(uid, gid) of HOST_ACCOUNT, created as a system account when missing, with one id that is free for a user
    and a group both on the host and in the root."""
    try:
        entry = pwd.getpwnam(HOST_ACCOUNT)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    taken = (
        {p.pw_uid for p in pwd.getpwall()}
        | {g.gr_gid for g in grp.getgrall()}
        | _ids(root / "etc/passwd")
        | _ids(root / "etc/group")
    )
    number = free_system_id(taken)
    say(f"  creating the system account {HOST_ACCOUNT} (uid and gid {number}) that Asterisk runs as")
    for command in (
        ["groupadd", "--system", "--gid", str(number), HOST_ACCOUNT],
        [
            "useradd",
            "--system",
            "--uid",
            str(number),
            "--gid",
            str(number),
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "Lead Center's Asterisk",
            HOST_ACCOUNT,
        ],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ProvisionError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return number, number


def with_ids(table: str, name: str, uid: int | None, gid: int) -> str:
    """An /etc/passwd (``uid`` given) or /etc/group text with ``name``'s ids replaced."""
    lines = []
    for line in table.splitlines(keepends=True):
        fields = line.split(":")
        if fields[0] == name and len(fields) > 3:
            if uid is None:
                fields[2] = str(gid)
            else:
                fields[2], fields[3] = str(uid), str(gid)
            line = ":".join(fields)
        lines.append(line)
    return "".join(lines)


def adopt_host_account(root: Path, say: Callable[[str], None]) -> None:
    """Give the root's asterisk user the host account's ids and re-own its files in the root; nothing to do when
    it has them already (every start checks)."""
    uid, gid = host_account(root, say)
    if account(root, ROOT_USER) == (uid, gid):
        return
    with open(root / STAMP) as lock:  # two provisions at once (a test run and `make run`): one adopts
        fcntl.flock(lock, fcntl.LOCK_EX)
        old_uid, old_gid = account(root, ROOT_USER)
        if (old_uid, old_gid) == (uid, gid):
            return
        say(
            f"  Asterisk root: its {ROOT_USER} user takes the ids of {HOST_ACCOUNT} ({uid}:{gid}, was "
            f"{old_uid}:{old_gid})"
        )
        # Files first, the tables last: an interrupted run is done again in full by the next one.
        reown(root, {old_uid: uid}, {old_gid: gid})
        for table, new_uid in (("etc/passwd", uid), ("etc/group", None)):
            path = root / table
            tmp = path.with_name(path.name + ".leadcenter-tmp")
            tmp.write_text(with_ids(path.read_text(), ROOT_USER, new_uid, gid))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)


def reown(top: Path, uids: dict[int, int], gids: dict[int, int]) -> None:
    """Give every file under ``top`` (not following links, not crossing into mounts) owned by a key of ``uids`` or
    ``gids`` the id it maps to."""
    device = top.lstat().st_dev
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(folder, d)).st_dev == device]
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if st.st_uid in uids or st.st_gid in gids:
                os.lchown(path, uids.get(st.st_uid, st.st_uid), gids.get(st.st_gid, st.st_gid))
