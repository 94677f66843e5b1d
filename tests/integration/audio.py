"""What a listener would notice about a recording: how long it is and whether anything is audible; and a call's two
directions recorded apart (Asterisk's MixMonitor on the caller's leg)."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

from leadcenter.pbx.provision import MOUNT


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


def trunk_channel(system) -> str:
    """The channel of the caller's leg on the demo trunk (the first, when there are several)."""
    shown = system.instance.rx("core show channels concise") or ""
    return next(line.split("!")[0] for line in shown.splitlines() if line.startswith("PJSIP/trunk"))


def record_each_way(system, channel: str, name: str) -> tuple[Path, Path]:
    """Record what the caller says (heard by the agent) and what the caller hears (the agent) into two files."""
    inside = f"{MOUNT}/spool/monitor/{name}"
    system.instance.rx(f"mixmonitor start {channel} {inside}-both.wav,r({inside}-caller.wav)t({inside}-agent.wav)")
    return system.instance.host_path(f"{inside}-caller.wav"), system.instance.host_path(f"{inside}-agent.wav")
