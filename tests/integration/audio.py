"""What a listener would notice about a recording: how long it is and whether anything is audible."""
from __future__ import annotations

import array
import math
import wave
from pathlib import Path


def rms(path: Path) -> float:
    """Root mean square of a 16-bit WAV, from 0 (silence) to 1 (full scale)."""
    with wave.open(str(path)) as audio:
        assert audio.getsampwidth() == 2, "expected 16-bit samples"
        samples = array.array("h", audio.readframes(audio.getnframes()))
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()
