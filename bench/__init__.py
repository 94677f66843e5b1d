"""The benchmarks (`make bench`, `python -m bench [SUITE...]`); see docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).parent / "results"  # not committed (.gitignore)


def results_dir() -> Path:
    """Where suites keep what they write; made on first use, so a suite run alone on a fresh clone can write."""
    RESULTS.mkdir(exist_ok=True)
    return RESULTS
