"""Audio a business records for its callers: mailbox greetings and the "this call may be recorded" notice.

An upload (any WAV sox reads: a phone recording, the browser's 48 kHz capture) is converted to what Asterisk plays
without transcoding, 8 kHz mono 16-bit, and put where the dialplan looks for it. Without an upload Asterisk plays
its standard greeting, and flows play the notice shipped in asterisk/sounds/.
"""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

from leadcenter.pbx import names
from leadcenter.pbx.process import Instance

MIN_SECONDS, MAX_SECONDS = 0.5, 120.0
# Sane WAV headers. A rate below 4 kHz is no recording; it is how a decompression bomb asks sox to make 8000
# samples of every one it sends (64 KiB claiming 1 Hz became 1 GB).
RATES = (4000, 384000)
MAX_CHANNELS = 32
MAX_BITS = 64
# Formats whose length follows from the data's size (PCM, IEEE float, A-law, mu-law, and those in an extensible
# header); any other one sox reads is checked by its fact chunk when it has one, and capped by the conversion.
UNCOMPRESSED = {1, 3, 6, 7, 0xFFFE}
# Conversions at once (each is a sox process taking a core while it runs); the next one waits this long for a
# turn, then is told to retry.
CONCURRENT_CONVERSIONS = 2
QUEUE_SECONDS = 10.0
CONVERT_SECONDS = 30.0
CONVERSIONS = threading.BoundedSemaphore(CONCURRENT_CONVERSIONS)


class PromptError(ValueError):
    """An upload that is not usable audio; the message says why, for the person who sent it."""


class ConverterMissing(RuntimeError):
    """sox is not installed where the controller runs: the installation's fault, not the upload's."""


class ConverterBusy(RuntimeError):
    """Every conversion slot stayed taken for QUEUE_SECONDS."""


@dataclasses.dataclass(frozen=True)
class WavHeader:
    format_tag: int
    channels: int
    rate: int
    bits: int
    block_align: int
    data_bytes: int  # what the data chunk holds, as far as the upload goes
    fact_frames: int | None  # the sample count a compressed format's fact chunk claims

    def seconds(self) -> float | None:
        """The length the header and the data tell, before anything is decoded (None: it does not tell)."""
        if self.format_tag in UNCOMPRESSED and self.block_align:
            return self.data_bytes / self.block_align / self.rate
        if self.fact_frames is not None:
            return self.fact_frames / self.rate
        return None


def read_header(data: bytes) -> WavHeader:
    """The fmt and data chunks of a RIFF WAVE file; PromptError for anything else."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PromptError("not a WAV file (RIFF WAVE)")
    fmt = fact = None
    at = 12
    while at + 8 <= len(data):
        name, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = data[at + 8 : at + 8 + size]
        if name == b"fmt " and len(body) >= 16:
            fmt = struct.unpack_from("<HHIIHH", body)
        elif name == b"fact" and len(body) >= 4:
            fact = struct.unpack_from("<I", body)[0]
        elif name == b"data":
            if fmt is None:
                break
            tag, channels, rate, _, block_align, bits = fmt
            return WavHeader(tag, channels, rate, bits, block_align, len(body), fact)
        at += 8 + size + size % 2  # chunks are padded to an even size
    raise PromptError("not a WAV file that can be played: no format and data chunks")


def check_header(header: WavHeader) -> None:
    if not RATES[0] <= header.rate <= RATES[1]:
        raise PromptError(f"the sample rate is {header.rate} Hz; a recording has {RATES[0]} to {RATES[1]} Hz")
    if not 1 <= header.channels <= MAX_CHANNELS:
        raise PromptError(f"the file says it has {header.channels} channels")
    if header.format_tag in UNCOMPRESSED and not 1 <= header.bits <= MAX_BITS:
        raise PromptError(f"the file says its samples have {header.bits} bits")
    seconds = header.seconds()
    if seconds is not None and seconds > MAX_SECONDS:
        raise PromptError(f"the recording lasts {seconds:.1f} s; it must last {MIN_SECONDS:g} to {MAX_SECONDS:g} s")


def greeting_file(mailbox: str) -> str:
    """app_voicemail plays a mailbox's ``unavail`` greeting (VoiceMail option u) when the file exists."""
    return f"spool/voicemail/{names.VOICEMAIL_CONTEXT}/{mailbox}/unavail.wav"


def notice_file(company_id: int) -> str:
    """The company's own recording notice (dialplan lc-recording-notice falls back to the shipped one)."""
    return f"sounds/{names.recording_notice(company_id)}.wav"


def flow_sound_file(company_id: int, sound: str) -> str:
    """A company's sound for its flows' greeting and IVR steps."""
    return f"sounds/{names.flow_sound(company_id, sound)}.wav"


def run_sox(command: list[str]) -> tuple[int, str]:
    """Run sox; its exit code and what it said. Killed after CONVERT_SECONDS by a timer rather than by
    subprocess's own timeout, which polls with time.sleep (that fails under libfaketime, how the unit tests run
    with the wall clock shifted)."""
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        watchdog = threading.Timer(CONVERT_SECONDS, process.kill)
        watchdog.start()
        try:
            _, errors = process.communicate()
        finally:
            watchdog.cancel()
    if watchdog.finished.is_set() and process.returncode < 0:
        raise PromptError("the audio took too long to convert")
    return process.returncode, errors


def to_asterisk_wav(data: bytes) -> bytes:
    """The upload as 8 kHz mono 16-bit WAV; PromptError if it is not a sane WAV, sox cannot read it or its length is
    unreasonable. The header is checked before sox runs, sox stops writing a second past the longest prompt (so
    what it writes is bounded whatever the header hid), and at most CONCURRENT_CONVERSIONS run at once."""
    check_header(read_header(data))
    sox = shutil.which("sox")
    if sox is None:
        raise ConverterMissing("sox is not installed on the server, so uploaded audio cannot be converted")
    if not CONVERSIONS.acquire(timeout=QUEUE_SECONDS):
        raise ConverterBusy("other recordings are being converted; try again in a moment")
    try:
        with tempfile.TemporaryDirectory(prefix="leadcenter-prompt-") as work:
            source, target = Path(work) / "upload.wav", Path(work) / "prompt.wav"
            source.write_bytes(data)
            returncode, errors = run_sox(
                [
                    sox,
                    "-V1",
                    "-t",
                    "wav",
                    str(source),
                    "-r",
                    "8000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(target),
                    "trim",
                    "0",
                    str(MAX_SECONDS + 1),
                ]
            )
            if returncode != 0:
                raise PromptError(f"not a WAV file that can be played: {errors.strip() or 'unreadable'}")
            with wave.open(str(target)) as audio:
                seconds = audio.getnframes() / audio.getframerate()
            if not MIN_SECONDS <= seconds <= MAX_SECONDS:
                longer = "more than " if seconds > MAX_SECONDS else ""
                raise PromptError(
                    f"the recording lasts {longer}{seconds:.1f} s; it must last {MIN_SECONDS:g} to {MAX_SECONDS:g} s"
                )
            return target.read_bytes()
    finally:
        CONVERSIONS.release()


def install(instance: Instance, relative: str, data: bytes) -> Path:
    """Convert ``data`` and put it at ``relative`` in the Asterisk instance directory; returns where."""
    return instance.install_file(relative, to_asterisk_wav(data))
