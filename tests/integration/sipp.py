"""SIPp test peers for the integration tests: agent desk phones and trunk callers.

Scenarios live in ``sipp/`` next to this file, and the trunk caller is the demo's (leadcenter/demo_caller.xml);
each documents its keys at the top.

    with SippPhone(user, password, asterisk_port) as phone:        # registered, answers after 0.5 s
        result = SippCaller().call(did, "0600000001", asterisk_port=asterisk_port,
                                   local_port=trunk_port, duration=5, caller_name="Jean")
        result.check()
        assert phone.invites()[0]["from_user"] == "0600000001"

Every sipp run binds only 127.0.0.1 (SIP, control and media ports), logs into a
work directory and runs under coreutils ``timeout``: sipp's own ``-timeout`` is
not a hard limit (it waits for the calls in progress).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import ADS_LINE

from leadcenter import demo

HOST = "127.0.0.1"
SCENARIOS = Path(__file__).resolve().parent / "sipp"
_given: set[int] = set()
_lock = threading.Lock()
_TRANSPORTS = {"udp": "u1", "tcp": "t1"}  # sipp -t: one socket (one connection) for the whole run
# Every <recv timeout=.. ontimeout=..> poll tick is traced as an "error": noise in reports.
SPEECH = "/usr/share/sip-tester/g711a.pcap"  # what the scenarios play when a peer speaks: 7 s of a voice
_TICK = re.compile(r"[\d-]+\t[\d:.]+\t[\d.]+: Call-Id: [^,]*, receive timeout on message [^,]*, jumping to label \d+")


def free_udp_port(count: int = 1) -> int:
    """First of ``count`` consecutive free UDP ports on 127.0.0.1; never returns a port twice."""
    with _lock:
        for _ in range(100):
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
            try:
                socks[0].bind((HOST, 0))
                base = socks[0].getsockname()[1]
                for i, sock in enumerate(socks[1:], 1):
                    sock.bind((HOST, base + i))
            except (OSError, OverflowError):
                continue
            finally:
                for sock in socks:
                    sock.close()
            if not _given.intersection(range(base, base + count)):
                _given.update(range(base, base + count))
                return base
    raise RuntimeError(f"no {count} consecutive free UDP ports on {HOST}")


def _bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _wait(done: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(failure())
        time.sleep(0.1)


def _speaking(scenario: Path, audio: str | Path, workdir: Path) -> Path:
    """A copy of ``scenario`` (in ``workdir``) that plays ``audio`` (a pcap, e.g. rtp_capture.write_tone_pcap's)
    instead of the 7 s of speech: SIPp reads the file's name with the scenario."""
    copy = workdir / f"{scenario.stem}-{Path(audio).stem}.xml"
    copy.write_text(scenario.read_text().replace(SPEECH, str(audio)))
    return copy


def _name_addr(value: str) -> tuple[str, str]:
    """(display name, user part) of a From / P-Asserted-Identity header value."""
    m = re.match(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>', value)
    display, uri = ((m[1] or m[2] or "").replace('\\"', '"'), m[3]) if m else ("", value)
    user = re.match(r"\s*(?:sips?|tel):([^@;>]+)", uri)
    return display.strip(), user[1] if user else ""


class _Sipp:
    """One sipp process; its files are ``workdir/name{.out,.log,_errors.log,_messages.log}``. ``scenario``: a
    file in SCENARIOS, or an absolute path."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        scenario: str | Path,
        args: list[str],
        *,
        port: int,
        max_time: float,
        remote: str | None = None,
        host: str = HOST,
    ) -> None:
        self.media_port = free_udp_port(4)  # where its peer sends it RTP (the SDP's m= port)
        self.log, self.out = workdir / f"{name}.log", workdir / f"{name}.out"
        self.errors, self.messages = workdir / f"{name}_errors.log", workdir / f"{name}_messages.log"
        self.cmd = [
            "timeout",
            "-k",
            "3",
            f"{max_time:.0f}",
            "sipp",
            *([remote] if remote else []),
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            host,
            "-p",
            str(port),
            "-ci",
            HOST,
            "-cp",
            str(free_udp_port()),
            "-mi",
            host,
            "-mp",
            str(self.media_port),
            "-nostdin",
            "-aa",
            "-trace_logs",
            "-log_file",
            str(self.log),
            "-trace_err",
            "-error_file",
            str(self.errors),
            "-trace_msg",
            "-message_file",
            str(self.messages),
            "-timeout",
            f"{max_time:.0f}s",
            *args,
        ]
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def events(self) -> list[list[str]]:
        """<log> lines split on '|'; the last field ([timestamp]) is reduced to its epoch part."""
        rows = [line.split("|") for line in _read(self.log).splitlines() if "|" in line]
        return [row[:-1] + (row[-1].split() or [""])[-1:] for row in rows]

    def screen(self, pattern: str) -> int:
        """Last number captured by ``pattern`` in sipp's screen (printed only on exit)."""
        found = re.findall(pattern, _read(self.out))
        return int(found[-1]) if found else 0

    def report(self) -> str:
        errors = _TICK.sub("", _read(self.errors))
        return (
            f"$ {' '.join(self.cmd)}\nexit code: {self.proc.poll()}\n--- output\n{_read(self.out)[-2500:]}"
            f"\n--- errors\n{errors[-2500:]}\n--- messages\n{_read(self.messages)[-4000:]}"
        )

    def stop(self, grace: float = 3.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # sipp exits at once on SIGTERM, with status 0 even mid-call
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:  # `timeout` leads sipp's process group
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class SippPhone:
    """Agent desk phone: registers ``username`` to Asterisk from ``port`` and answers (or only rings) there, as a
    real phone does: one sipp process sends the REGISTER (register.xml) and answers the calls that come to that
    port (phone_answer.xml / phone_noanswer.xml as its out-of-call scenario). ``contact_port``: the port its
    Contact names (a phone behind a NAT names its private one); ``transport``: udp or tcp (then Asterisk must
    call it on the connection it registered on). With ``registers=False`` it is a peer Asterisk already knows the
    address of (a carrier on the trunk), answering on ``port``."""

    def __init__(
        self,
        username: str,
        password: str,
        asterisk_port: int,
        port: int | None = None,
        *,
        answer: bool = True,
        answer_after: float = 0.5,
        hangup_after: float | None = None,
        expires: int = 600,
        lifetime: float = 900,
        workdir: str | Path | None = None,
        registers: bool = True,
        speak: bool | str | Path = False,
        contact_port: int | None = None,
        transport: str = "udp",
        transfer_after: float | None = None,
        transfer_to: str = "",
        hold: tuple[float, float] | None = None,
        mwi: bool = False,
        busy: bool = False,
        host: str = HOST,
        server: str = HOST,
    ) -> None:
        self.username, self.password, self.asterisk_port = username, password, asterisk_port
        # Its own address (SIP and RTP), and the registrar's (Asterisk's or the edge's).
        self.host, self.server = host, server
        # mwi: an idle phone that only takes Asterisk's message-waiting NOTIFYs (phone_mwi.xml), and no calls.
        self.mwi = mwi
        self.busy = busy  # every INVITE answered 486 Busy Here (phone_busy.xml)
        self.registers = registers
        # speak: play 7 s of audio (or this pcap) once answered instead of echoing. Never both: two echoing phones
        # bridged together bounce every packet between them forever (recordings grow to minutes of garbage).
        self.speak = speak
        self.port = port or free_udp_port()
        self.contact_port = contact_port or self.port
        self.transport = transport
        self.answer, self.answer_after, self.hangup_after = answer, answer_after, hangup_after
        # The transfer key, pressed transfer_after s into an answered call: a REFER to transfer_to.
        self.transfer_after, self.transfer_to = transfer_after, transfer_to
        # The hold key, pressed (re-INVITE sendonly) and released (sendrecv) these many seconds into an answered call.
        self.hold = hold
        self.expires, self.lifetime = expires, lifetime
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"sipp-{username}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.uas: _Sipp | None = None
        self._registers = 0

    def _account(self, expires: int) -> list[str]:
        """sipp arguments of a REGISTER of this phone (register.xml)."""
        return [
            "-s",
            self.username,
            "-au",
            self.username,
            "-ap",
            self.password,
            "-t",
            _TRANSPORTS[self.transport],
            "-key",
            "contact_port",
            str(self.contact_port),
            "-key",
            "expires",
            str(expires),
        ]

    def start(self, timeout: float = 10) -> SippPhone:
        """Start the phone on ``port`` and, for a phone that registers, wait until Asterisk accepted its REGISTER;
        RuntimeError (with logs) on failure."""
        if _bound(self.port):
            raise RuntimeError(f"phone {self.username}: UDP port {self.port} already in use")
        args = ["-s", self.username] + ([] if self.speak else ["-rtp_echo"])
        if self.answer and not self.mwi and not self.busy:
            never = 10**9
            hangup_ms = never if self.hangup_after is None else int(self.hangup_after * 1000)
            refer_ms = never if self.transfer_after is None else int(self.transfer_after * 1000)
            args += [
                "-set",
                "answer_ms",
                str(int(self.answer_after * 1000)),
                "-set",
                "hangup_ms",
                str(hangup_ms),
                "-set",
                "speak",
                "1" if self.speak else "0",
                "-set",
                "refer_ms",
                str(refer_ms),
                "-set",
                "refer_to",
                self.transfer_to or "none",
                "-set",
                "onhold_ms",
                str(never if self.hold is None else int(self.hold[0] * 1000)),
                "-set",
                "offhold_ms",
                str(never if self.hold is None else int(self.hold[1] * 1000)),
            ]
        scenario: str | Path = "phone_answer.xml" if self.answer else "phone_noanswer.xml"
        if self.mwi:
            scenario = "phone_mwi.xml"
        if self.busy:
            scenario = "phone_busy.xml"
        if self.answer and not isinstance(self.speak, bool):
            scenario = _speaking(SCENARIOS / scenario, self.speak, self.workdir)
        if self.registers:
            args = [
                *args,
                *self._account(self.expires),
                "-m",
                "1",
                "-set",
                "hold_ms",
                str(int(self.lifetime * 1000)),
                "-oocsf",
                str(SCENARIOS / scenario),
            ]
            uas = self.uas = _Sipp(
                "phone",
                self.workdir,
                "register.xml",
                args,
                port=self.port,
                max_time=self.lifetime,
                remote=f"{self.server}:{self.asterisk_port}",
                host=self.host,
            )
            ready = lambda: any(e[0] == "REGISTERED" for e in uas.events())  # noqa: E731
        else:
            uas = self.uas = _Sipp(
                "phone", self.workdir, scenario, args, port=self.port, max_time=self.lifetime, host=self.host
            )
            ready = lambda: _bound(self.port)  # noqa: E731
        try:
            _wait(
                lambda: uas.proc.poll() is not None or ready(),
                timeout,
                lambda: f"sipp phone {self.username} not ready on port {self.port}:\n{uas.report()}",
            )
            if uas.proc.poll() is not None:
                raise RuntimeError(f"sipp phone {self.username} did not start:\n{uas.report()}")
        except (RuntimeError, TimeoutError):
            uas.stop()
            raise
        return self

    def register(self, expires: int | None = None, timeout: float = 10) -> None:
        """One REGISTER with digest auth from the phone's port, while the phone itself is not running (a phone
        about to start, or one stopped, unregistering with expires 0)."""
        self._registers += 1
        expires = self.expires if expires is None else expires
        reg = _Sipp(
            f"register{self._registers}",
            self.workdir,
            "register.xml",
            ["-m", "1", "-set", "hold_ms", "0", *self._account(expires)],
            port=self.port,
            max_time=timeout + 2,
            remote=f"{self.server}:{self.asterisk_port}",
            host=self.host,
        )
        try:
            failure = "" if reg.proc.wait(timeout) == 0 else "sipp failed"
        except subprocess.TimeoutExpired:
            reg.stop(grace=1)
            failure = f"no final answer after {timeout:.1f}s"
        if failure or not any(e[0] == "REGISTERED" for e in reg.events()):
            raise RuntimeError(
                f"REGISTER {self.username} expires={expires}: {failure or 'not registered'}\n{reg.report()}"
            )

    def unregister(self, timeout: float = 10) -> None:
        self.register(expires=0, timeout=timeout)

    def stop(self, unregister: bool = False) -> None:
        """Stop the phone at once (calls in progress are dropped), optionally unregistering it then from its port
        (over TCP, closing the connection it registered on is enough)."""
        if self.uas:
            self.uas.stop()
        if unregister and self.registers and self.transport == "udp":
            with contextlib.suppress(RuntimeError):
                self.unregister(timeout=5)

    def __enter__(self) -> SippPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        # Unregister so that Asterisk does not ring a phone that is gone in the next test.
        self.stop(unregister=True)

    def events(self) -> list[list[str]]:
        """Raw phone events, see phone_answer.xml: [kind, ..., epoch]."""
        return self.uas.events() if self.uas else []

    def count(self, kind: str) -> int:
        """Number of events ``kind``: REGISTERED, INVITE, ANSWERED, CANCELLED, REINVITE, REFERRED, HANGUP."""
        return sum(1 for e in self.events() if e[0] == kind)

    @property
    def messages_waiting(self) -> list[tuple[str, str, str]]:
        """The MWI NOTIFYs received (an ``mwi`` phone): (Event, Messages-Waiting, Voice-Message) of each, in order."""
        return [(e[1], e[2], e[3]) for e in self.events() if e[0] == "NOTIFY" and len(e) >= 5]

    invite_count = property(lambda self: self.count("INVITE"))
    answered_count = property(lambda self: self.count("ANSWERED"))
    cancelled_count = property(lambda self: self.count("CANCELLED"))

    @property
    def transfer_answers(self) -> list[int]:
        """The status code Asterisk answered each REFER (the transfer key) with."""
        return [int(e[2]) for e in self.events() if e[0] == "REFERRED"]

    @property
    def hangups(self) -> list[str]:
        """Who ended each answered call: 'local' (this phone sent BYE) or 'remote'."""
        return [e[1] for e in self.events() if e[0] == "HANGUP"]

    def hangups_of(self, call_id: str) -> list[str]:
        """``hangups`` of one dialog: a peer on the trunk's port also gets the BYEs Asterisk still retransmits for
        the calls of the process that had the port before it (a caller that exited before its 200 OK went out)."""
        return [e[1] for e in self.events() if e[0] == "HANGUP" and e[2:3] == [call_id]]

    def invites(self) -> list[dict]:
        """INVITEs received: call_id, from_user, from_display, from_header, pai, pai_user, pai_display, time."""
        return invites_in(self.events())

    def calls_named(self) -> list[tuple[str, str]]:
        """Which lead's call each INVITE said it rang for: (X-LC-Call, X-LC-Interaction), empty when not said."""
        return [(e[2], e[3]) for e in self.events() if e[0] == "CALLED" and len(e) >= 5]

    def wait_for(self, kind: str, n: int = 1, timeout: float = 10) -> int:
        """Wait until at least ``n`` events ``kind``; TimeoutError otherwise. Returns the count."""
        _wait(
            lambda: self.count(kind) >= n,
            timeout,
            lambda: f"phone {self.username}: {self.count(kind)}/{n} {kind} after {timeout}s; {self.events()}",
        )
        return self.count(kind)

    def wait_for_invites(self, n: int = 1, timeout: float = 10) -> list[dict]:
        self.wait_for("INVITE", n, timeout)
        return self.invites()

    def rtp_echoed(self) -> int:
        """RTP packets echoed back over the phone's life; only known after stop()."""
        return self.uas.screen(r"(\d+) Total echo RTP pckts 1st stream") if self.uas else 0


def invites_in(events: list[list[str]]) -> list[dict]:
    """The INVITEs phone_answer.xml logged: call_id, from_user, from_display, from_header, pai, pai_user,
    pai_display, time."""
    result = []
    for e in events:
        if e[0] == "INVITE" and len(e) >= 5:  # INVITE|call-id|From (may hold a '|')|PAI|epoch
            from_hdr, pai = "|".join(e[2:-2]), e[-2]
            (from_display, from_user), (pai_display, pai_user) = _name_addr(from_hdr), _name_addr(pai)
            result.append(
                {
                    "call_id": e[1],
                    "from_user": from_user,
                    "from_display": from_display,
                    "from_header": from_hdr,
                    "pai": pai,
                    "pai_user": pai_user,
                    "pai_display": pai_display,
                    "time": float(e[-1] or 0),
                }
            )
    return result


@dataclass
class Call:
    """One trunk call: hangs up ``duration`` s after its INVITE (sent ``delay`` s after the start)
    unless the far end hangs up first; speaks (7 s of audio) once answered and ``speak_at`` s after its INVITE.
    ``expect_*`` only feed ``CallResult.ok``."""

    did: str
    caller_number: str
    caller_name: str | None = None
    duration: float = 10
    delay: float = 0
    expect_answer: bool | None = True  # None: either way
    expect_remote_bye: bool = False
    speak_at: float = 0
    key: str = ""  # a digit pressed (RFC 4733) press_at s after the INVITE
    press_at: float = 0
    press_every: float = 0  # pressed again this often until the call ends, if not 0

    def csv(self) -> str:
        return demo.caller_line(
            self.did,
            self.caller_number,
            self.caller_name,
            self.duration,
            self.delay,
            self.speak_at,
            self.key,
            self.press_at,
            self.press_every,
        )


@dataclass
class CallResult:
    """Outcome of one call. returncode/successful/failed are for the whole sipp run."""

    returncode: int | None  # None: killed (kill() or wait() deadline)
    successful: int
    failed: int
    events: list[list[str]]  # this call's <log> lines without the call number, see leadcenter/demo_caller.xml
    report: str  # sipp command line, output and logs
    expect_answer: bool | None = True
    expect_remote_bye: bool = False

    def _first(self, kind: str) -> list[str] | None:
        return next((e for e in self.events if e[0] == kind), None)

    answered = property(lambda self: self._first("ANSWERED") is not None)
    cancelled = property(lambda self: self._first("CANCELLED") is not None)
    rejected = property(
        lambda self: int(e[1]) if (e := self._first("REJECTED")) else None,
        doc="Error status (4xx-6xx) that ended the INVITE, if any.",
    )
    hangup = property(
        lambda self: e[1] if (e := self._first("HANGUP")) else None,
        doc="'local' (the caller sent BYE), 'remote' (it got BYE), None if never answered.",
    )

    @property
    def ok(self) -> bool:
        return (
            self.returncode == 0
            and self.failed == 0
            and self.rejected is None
            and self.expect_answer in (None, self.answered)
            and (not self.expect_remote_bye or self.hangup == "remote")
        )

    def check(self) -> CallResult:
        """Return self if ``ok``, else raise AssertionError with sipp's logs."""
        if not self.ok:
            raise AssertionError(
                f"sipp call not ok: rc={self.returncode} answered={self.answered} (expected "
                f"{self.expect_answer}) hangup={self.hangup} rejected={self.rejected} failed={self.failed} "
                f"events={self.events}\n{self.report}"
            )
        return self


class CallHandle:
    """Calls running in the background in one sipp process; calls are numbered from 1."""

    def __init__(self, sipp: _Sipp, calls: list[Call], max_time: float) -> None:
        self.sipp, self.calls, self.max_time, self.killed = sipp, calls, max_time, False

    def events(self, call: int = 1) -> list[list[str]]:
        return [[e[0], *e[2:]] for e in self.sipp.events() if e[1:2] == [str(call)]]

    def wait_for(self, kind: str, timeout: float = 10, call: int = 1) -> None:
        """Wait for an event of ``call``: ANSWERED, REINVITE, HANGUP, CANCELLED, REJECTED."""
        seen = lambda: any(e[0] == kind for e in self.events(call))  # noqa: E731
        _wait(
            lambda: seen() or self.sipp.proc.poll() is not None,
            timeout,
            lambda: f"caller {call}: no {kind} after {timeout}s; {self.events(call)}",
        )
        if not seen():
            raise TimeoutError(f"caller {call} ended without {kind}; {self.events(call)}")

    def carrier_invites(self) -> list[dict]:
        """The calls Asterisk placed to this process's port, which it answered as the carrier does (answers=True)."""
        return invites_in(self.sipp.events())

    def kill(self) -> None:
        self.killed = True
        self.sipp.stop(grace=1)

    def wait_all(self, timeout: float | None = None) -> list[CallResult]:
        """Wait for sipp to exit (killing it after ``timeout``, default max_time); one result per call."""
        try:
            self.sipp.proc.wait(self.max_time if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        code = None if self.killed else self.sipp.proc.returncode
        ok, ko = (self.sipp.screen(rf"{kind} call\s*\|\s*\d+\s*\|\s*(\d+)") for kind in ("Successful", "Failed"))
        report = self.sipp.report()
        return [
            CallResult(code, ok, ko, self.events(n), report, call.expect_answer, call.expect_remote_bye)
            for n, call in enumerate(self.calls, 1)
        ]

    def wait(self, timeout: float | None = None) -> CallResult:
        """``wait_all()`` for a single call."""
        return self.wait_all(timeout)[0]


_NEVER_MS = str(10**9)
# phone_answer.xml as the out-of-call scenario of a caller: it answers at once, hangs up when the other side does.
_CARRIER_ANSWERS = [
    "-oocsf",
    str(SCENARIOS / "phone_answer.xml"),
    "-s",
    "carrier",
    *("-set", "answer_ms", "200", "-set", "speak", "0", "-set", "refer_to", "none"),
    *[arg for name in ("hangup_ms", "refer_ms", "onhold_ms", "offhold_ms") for arg in ("-set", name, _NEVER_MS)],
]

# phone_busy.xml as that scenario instead: the carrier answers every call Asterisk places 486 Busy Here.
_CARRIER_BUSY = ["-oocsf", str(SCENARIOS / "phone_busy.xml"), "-s", "carrier"]


class SippCaller:
    """Trunk caller: INVITEs sip:DID@server:asterisk_port without auth from ``host`` (both 127.0.0.1 by default);
    each call plays g711a.pcap once."""

    def __init__(self, workdir: str | Path | None = None, host: str = HOST, server: str = HOST) -> None:
        self.host, self.server = host, server
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sipp-caller-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._runs = 0

    def start_calls(
        self,
        calls: list[Call],
        *,
        asterisk_port: int,
        local_port: int | None = None,
        max_time: float | None = None,
        audio: str | Path | None = None,
        answers: bool | str = False,
    ) -> CallHandle:
        """Place ``calls`` from one sipp process bound to ``local_port`` (the trunk's source port); each speaks
        ``audio`` (a pcap) instead of the 7 s of speech when given. ``answers``: the process also answers the calls
        Asterisk places to it (phone_answer.xml), as the carrier on the same trunk does; "busy": 486 to each
        (phone_busy.xml)."""
        self._runs += 1
        name = f"caller{self._runs}"
        (self.workdir / f"{name}.csv").write_text("SEQUENTIAL\n" + "".join(f"{c.csv()}\n" for c in calls))
        max_time = max_time or max(c.delay + c.duration for c in calls) + 40
        sipp = _Sipp(
            name,
            self.workdir,
            _speaking(demo.CALLER_SCENARIO, audio, self.workdir) if audio else demo.CALLER_SCENARIO,
            ["-m", str(len(calls)), "-l", str(len(calls)), "-r", "1000", "-inf", str(self.workdir / f"{name}.csv")]
            + (_CARRIER_BUSY if answers == "busy" else _CARRIER_ANSWERS if answers else []),
            port=local_port or free_udp_port(),
            max_time=max_time,
            remote=f"{self.server}:{asterisk_port}",
            host=self.host,
        )
        return CallHandle(sipp, calls, max_time)

    def start_call(
        self,
        did: str,
        caller_number: str,
        *,
        asterisk_port: int,
        local_port: int | None = None,
        max_time: float | None = None,
        audio: str | Path | None = None,
        answers: bool | str = False,
        **call: object,
    ) -> CallHandle:
        """One call; ``call`` holds the other Call fields (caller_name, duration, expect_answer...)."""
        return self.start_calls(
            [Call(did, caller_number, **call)],  # type: ignore[arg-type]
            asterisk_port=asterisk_port,
            local_port=local_port,
            max_time=max_time,
            audio=audio,
            answers=answers,
        )

    def call(self, did: str, caller_number: str, **kwargs: object) -> CallResult:
        """Blocking ``start_call(...).wait()``."""
        return self.start_call(did, caller_number, **kwargs).wait()  # type: ignore[arg-type]


class Peers:
    """The test's SIP peers; whatever a test leaves running is stopped when it ends, so the next test finds
    the trunk port free and no stale phone registered."""

    def __init__(self, system, workdir):
        self.system = system
        self.workdir = workdir
        self.handles = []

    def phone(self, agent_id: int, **options) -> SippPhone:
        """An agent's desk phone; registered for the duration of a `with` block."""
        username, password = self.system.sip_account(agent_id)
        return SippPhone(
            username, password, self.system.sip_port, free_udp_port(4), workdir=self.workdir / username, **options
        )

    def call(self, caller_number: str, duration: float, did: str = ADS_LINE, **options):
        handle = SippCaller(workdir=self.workdir / f"caller{len(self.handles)}").start_call(
            did,
            caller_number,
            asterisk_port=self.system.sip_port,
            local_port=self.system.trunk_port,
            duration=duration,
            **options,
        )
        self.handles.append(handle)
        return handle

    def close(self):
        for handle in self.handles:
            handle.kill()
