"""This installation's Asterisk directory (config, astdb, spool, logs, hold music) and the Asterisk process.

Asterisk runs chrooted in the shared sid root, as the root's ``asterisk`` user, with the instance directory
bind-mounted at MOUNT inside a private mount namespace: the mount vanishes with the process, so nothing is left
behind, and several instances (a test run beside ``make run``) share one root.
"""

from __future__ import annotations

import math
import os
import signal
import stat
import struct
import subprocess
import time
import wave
from pathlib import Path

from leadcenter.pbx import provision as asterisk_root
from leadcenter.pbx.provision import MOUNT
from leadcenter.resources import SOUNDS

WRITABLE = (
    "lib",
    "lib/keys",
    "run",
    "log",
    "spool",
    "spool/monitor",
    "spool/voicemail",
    "spool/tmp",
    "spool/recording",
    "spool/outgoing",
)


class AsteriskError(RuntimeError):
    pass


class Instance:
    def __init__(self, directory: Path, root: Path, run_as: str = "asterisk", external: bool = False):
        self.dir = directory
        self.root = root
        self.run_as = run_as
        # External: another container runs Asterisk (as its own root) from this directory on a shared volume.
        self.external = external
        self.etc = directory / "etc"
        self.pidfile = directory / "run" / "leadcenter-asterisk.pid"
        self.console_log = directory / "log" / "console.log"

    @classmethod
    def from_settings(cls, settings) -> Instance:
        a = settings.asterisk
        return cls(settings.asterisk_dir, settings.asterisk_root, a.run_as, a.external)

    def _owner(self) -> tuple[int, int]:
        """Who Asterisk runs as: the root's asterisk user, or root when Asterisk is external."""
        return (0, 0) if self.external else asterisk_root.account(self.root, self.run_as)

    # -- files -------------------------------------------------------------------------------------------------
    def host_path(self, inside: str) -> Path:
        """Where a path Asterisk names (inside the root) is on this machine, e.g. a recording."""
        relative = Path(inside).relative_to(MOUNT)
        return self.dir / relative

    def prepare(self) -> None:
        """Create the directories; generate hold music once; give everything the owner and modes it must have,
        also what an older installation left (another owner, files readable by every local user): the config
        (secrets: AMI, SIP passwords) is root's and readable by Asterisk's group, what Asterisk writes is its own,
        nothing is anyone else's."""
        uid, gid = self._owner()
        for name in (*WRITABLE, "etc/generated", "etc/dialplans", "moh"):
            (self.dir / name).mkdir(parents=True, exist_ok=True)
        self.install_file("sounds/recording-notice.wav", (SOUNDS / "recording-notice.wav").read_bytes())
        moh = self.dir / "moh"
        if not any(moh.iterdir()):
            write_hold_music(moh / "leadcenter-hold.wav")
        _own(self.dir, 0, gid, exact=True)
        for child in self.dir.iterdir():
            if child.name == "etc":
                _own_tree(child, 0, gid, exact=True)
            elif child.is_dir() and not child.is_symlink():
                _own_tree(child, uid, gid)

    def write_files(self, files: dict[str, str]) -> set[str]:
        """Write config files under etc/ atomically; returns the names whose content changed."""
        gid = self._owner()[1]
        changed = set()
        for name, text in files.items():
            path = self.etc / name
            if path.exists() and path.read_text() == text:
                continue
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            os.chown(tmp, 0, gid)
            tmp.chmod(0o640)
            os.replace(tmp, path)
            changed.add(name)
        return changed

    def install_file(self, relative: str, data: bytes, mode: int = 0o640) -> Path:
        """Write a file Asterisk reads and may replace (a greeting) under the instance directory, atomically,
        creating its directories with the owner Asterisk runs as (it writes messages beside greetings); ``mode``
        0600 for a file only Asterisk may read (a private key)."""
        uid, gid = self._owner()
        path = self.dir / relative
        missing = [
            parent for parent in reversed(path.parents) if parent.is_relative_to(self.dir) and not parent.exists()
        ]
        for directory in missing:
            directory.mkdir()
            os.chown(directory, uid, gid)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.chown(tmp, uid, gid)
        tmp.chmod(mode)
        os.replace(tmp, path)
        return path

    # -- process -----------------------------------------------------------------------------------------------
    def _chrooted(self, *command: str) -> list[str]:
        script = 'mount --bind "$1" "$2"' + MOUNT + ' && root="$2" && shift 2 && exec chroot "$root" "$@"'
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            str(self.dir),
            str(self.root),
            *command,
        ]

    def _conf(self) -> str:
        return f"{MOUNT}/etc/asterisk.conf"

    def pid(self) -> int | None:
        """The running Asterisk's pid, or None."""
        return running_pid(self.pidfile, b"asterisk", self._conf().encode())

    def start(self, wait: float = 30.0) -> int:
        """Start Asterisk in the background and wait until it is fully booted; returns its pid."""
        if self.external:
            raise AsteriskError("Asterisk is external (asterisk.external = true): start it where it runs")
        if (pid := self.pid()) is not None:
            return pid
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "ab") as log:
            proc = subprocess.Popen(
                self._chrooted(
                    "/usr/sbin/asterisk", "-f", "-n", "-U", self.run_as, "-G", self.run_as, "-C", self._conf()
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # unshare, sh and chroot each exec the next: the pid we started is Asterisk's.
        self.pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AsteriskError(
                    f"Asterisk exited at start (code {proc.returncode}); see {self.console_log}:\n"
                    + self.console_tail()
                )
            if (self.dir / "run" / "asterisk.ctl").exists():
                done = self.rx("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                if done is not None:
                    return proc.pid
            time.sleep(0.05)
        self.stop()
        raise AsteriskError(
            f"Asterisk did not finish booting in {wait:.0f} s; see {self.console_log}:\n" + self.console_tail()
        )

    def rx(self, command: str, timeout: float = 10.0) -> str | None:
        """Run one CLI command on the running Asterisk; None when it cannot be reached."""
        try:
            done = subprocess.run(
                self._chrooted("/usr/sbin/asterisk", "-C", self._conf(), "-rx", command),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0 or "Unable to connect" in done.stdout:
            return None
        return done.stdout

    def stop(self, wait: float = 10.0) -> bool:
        """Stop Asterisk (gracefully, then by signal); True when one was running."""
        pid = self.pid()
        if pid is None:
            return False
        self.rx("core stop now", timeout=wait / 2)
        end_process(pid, self.pidfile, 3, first_wait=wait)
        return True

    def cli(self) -> None:
        """Replace this process with an interactive Asterisk console."""
        command = self._chrooted("/usr/sbin/asterisk", "-C", self._conf(), "-r")
        os.execvp(command[0], command)

    def console_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


PRIVATE_DIR, PRIVATE_FILE = 0o750, 0o640  # the owner's, readable by its group (Asterisk's), nobody else's


def _own(path: Path, uid: int, gid: int, exact: bool = False) -> None:
    """``path`` owned by uid:gid with at most PRIVATE_DIR / PRIVATE_FILE's rights (``exact``: those rights, for
    what root writes and Asterisk reads through its group); never following a link."""
    st = path.lstat()
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.lchown(path, uid, gid)
    if stat.S_ISLNK(st.st_mode):
        return
    allowed = PRIVATE_DIR if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE
    mode = allowed if exact else stat.S_IMODE(st.st_mode) & allowed
    if mode != stat.S_IMODE(st.st_mode):
        path.chmod(mode)


def _own_tree(top: Path, uid: int, gid: int, exact: bool = False) -> None:
    _own(top, uid, gid, exact)
    for folder, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            _own(Path(folder) / name, uid, gid, exact)


def running_pid(pidfile: Path, *marks: bytes) -> int | None:
    """The pid ``pidfile`` names when that process runs with every mark in its command line: a stale file, or a pid
    the kernel has since given another program, gives None."""
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return None
    return pid if all(mark in cmdline for mark in marks) else None


def end_process(pid: int, pidfile: Path, wait: float, *, group: bool = False, first_wait: float | None = None) -> None:
    """Wait ``first_wait`` s for ``pid`` to end by itself (asked another way), then SIGTERM it (its process group with
    ``group``) and wait ``wait`` s, then SIGKILL; ``pidfile`` is removed."""
    kill = os.killpg if group else os.kill
    deadline = time.monotonic() + (first_wait or 0)
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            try:
                kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.05)
        if not alive(pid):
            break
    pidfile.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        # Reap it if it is our child; a zombie would look alive to kill(0).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def write_hold_music(path: Path, seconds: int = 20) -> None:
    """A soft arpeggio, 8 kHz mono: Debian's asterisk packages install no music-on-hold files."""
    rate, notes = 8000, (261.63, 329.63, 392.00, 523.25, 392.00, 329.63)
    frames = bytearray()
    note_len = rate // 2
    for i in range(seconds * 2):
        freq = notes[i % len(notes)]
        for n in range(note_len):
            envelope = min(1.0, n / 400) * min(1.0, (note_len - n) / 800)
            frames += struct.pack("<h", int(6000 * envelope * math.sin(2 * math.pi * freq * n / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
