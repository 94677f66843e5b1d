"""`make bench` on a fresh clone: bench/results/ is not committed, so every suite that writes there must go
through results_dir(), which makes it (the overhead suite crashed writing its log before the folder existed)."""

from __future__ import annotations

import re
from pathlib import Path

import bench

BENCH = Path(bench.__file__).parent


def test_the_results_folder_is_made_by_whoever_writes_first(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    assert bench.results_dir().is_dir()
    assert bench.results_dir() == tmp_path / "results"  # again: already there


def test_no_suite_names_the_results_folder_itself():
    for source in sorted(BENCH.glob("*.py")):
        if source.name == "__init__.py":
            continue
        assert not re.search(r"""["']results["']""", source.read_text()), (
            f"{source.name} names bench/results itself: use bench.results_dir()"
        )
