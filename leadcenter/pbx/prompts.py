"""Audio a business records for its callers: mailbox greetings and the "this call may be recorded" notice.

An upload (any WAV sox reads: a phone recording, the browser's 48 kHz capture) is converted to what Asterisk plays
without transcoding, 8 kHz mono 16-bit, and put where the dialplan looks for it. Without an upload Asterisk plays
its standard greeting, and flows play the notice shipped in asterisk/sounds/.
"""
from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

from leadcenter.pbx.instance import Instance

MIN_SECONDS, MAX_SECONDS = 0.5, 120.0


class PromptError(ValueError):
    """An upload that is not usable audio; the message says why, for the person who sent it."""


def greeting_file(mailbox: str) -> str:
    """app_voicemail plays a mailbox's ``unavail`` greeting (VoiceMail option u) when the file exists."""
    return f"spool/voicemail/leadcenter/{mailbox}/unavail.wav"


def notice_file(company_id: int) -> str:
    """The company's own recording notice (dialplan lc-recording-notice falls back to the shipped one)."""
    return f"sounds/company{company_id}-recording-notice.wav"


def to_asterisk_wav(data: bytes) -> bytes:
    """The upload as 8 kHz mono 16-bit WAV; PromptError if sox cannot read it or its length is unreasonable."""
    with tempfile.TemporaryDirectory(prefix="leadcenter-prompt-") as work:
        source, target = Path(work) / "upload.wav", Path(work) / "prompt.wav"
        source.write_bytes(data)
        try:
            done = subprocess.run(["sox", "-V1", "-t", "wav", str(source), "-r", "8000", "-c", "1", "-b", "16",
                                   "-e", "signed-integer", str(target)], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            raise PromptError("the audio took too long to convert") from None
        if done.returncode != 0:
            raise PromptError(f"not a WAV file that can be played: {done.stderr.strip() or 'unreadable'}")
        with wave.open(str(target)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise PromptError(f"the recording lasts {seconds:.1f} s; it must last {MIN_SECONDS:g} to "
                              f"{MAX_SECONDS:g} s")
        return target.read_bytes()


def install(instance: Instance, relative: str, data: bytes) -> Path:
    """Convert ``data`` and put it at ``relative`` in the Asterisk instance directory; returns where."""
    return instance.install_file(relative, to_asterisk_wav(data))
