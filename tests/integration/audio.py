"""What a listener would notice about a recording: how long it is and whether anything is audible."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path


def _samples(path: Path) -> tuple[array.array, int]:
    with wave.open(str(path)) as audio:
        assert audio.getsampwidth() == 2, "expected 16-bit samples"
        return array.array("h", audio.readframes(audio.getnframes())), audio.getframerate()


def _rms(samples) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768 if samples else 0.0


def rms(path: Path) -> float:
    """Root mean square of a 16-bit WAV, from 0 (silence) to 1 (full scale)."""
    return _rms(_samples(path)[0])


def loudest_second(path: Path) -> float:
    """RMS of the loudest whole second: speech scores ~0.1, G.711 silence ~0.0005, whatever the file's length."""
    samples, rate = _samples(path)
    return max((_rms(samples[start : start + rate]) for start in range(0, len(samples), rate)), default=0.0)


def seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()
