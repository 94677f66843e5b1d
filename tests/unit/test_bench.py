"""`make bench` on a fresh clone: bench/results/ is not committed, so every suite that writes there must go
through results_dir(), which makes it (the overhead suite crashed writing its log before the folder existed). Also
how the edge suite steps its two paths up."""

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


def test_both_paths_step_up_until_the_direct_path_fails():
    from bench.edge import _step_up

    ceilings = {"edge": 30, "direct": 40}  # the highest level each path passes
    tried = []

    def step(level: int, via_edge: bool) -> dict:
        path = "edge" if via_edge else "direct"
        tried.append((path, level))
        return {"path": path, "ok": level <= ceilings[path], "cost": level}

    stepped = _step_up((10, 20, 30, 40, 50, 60), step)
    # the edge stops at its own first failure; the ladder ends at the direct path's
    assert tried == [("edge", 10), ("direct", 10), ("edge", 20), ("direct", 20), ("edge", 30), ("direct", 30),
                     ("edge", 40), ("direct", 40), ("direct", 50)]  # fmt: skip
    assert stepped.best == {"edge": 30, "direct": 40}
    assert stepped.ratio == 0.75
    assert stepped.edge_median("cost") == 20
    assert _step_up((10,), lambda level, via_edge: {"path": "?", "ok": False}).ratio is None


def test_a_comparison_of_both_paths_names_its_measure_and_keeps_its_settings():
    from bench.edge import _compared

    def step(level: int, via_edge: bool) -> dict:
        path = "edge" if via_edge else "direct"
        return {"path": path, "ok": level <= 20, "kamailio_cpu_ms_per_call": 1.0 if via_edge else None}

    result = _compared((10, 20, 30), step, "held", "counts", "most calls up at once", hold_seconds=10)
    assert {k: v for k, v in result.items() if k != "steps"} == {
        "hold_seconds": 10,
        "edge_max_held": 20,
        "direct_max_held": 20,
        "ratio": 1.0,
        "kamailio_cpu_ms_per_call": 1.0,
        "counts_tried_up_to": 30,
    }
    assert len(result["steps"]) == 6


def test_the_soak_reads_a_process_and_calls_flat_only_what_did_not_grow_over_the_second_half():
    import os

    from bench import soak

    now = soak._reading(os.getpid())
    assert now["rss_mb"] > 0 and now["threads"] >= 1 and now["files"] >= 3
    assert soak._reading(None) == {}

    def run(*last):
        warm = [{"rss_mb": 90.0 + 5 * n, "threads": 20, "files": 48 + n} for n in range(3)]  # warming up
        return [*warm, {"rss_mb": 100.0, "threads": 20, "files": 50}, *last]

    def at(rss_mb, threads=20, files=50):
        return {"rss_mb": rss_mb, "threads": threads, "files": files}

    assert soak._flat(run(at(104.0), at(104.9, files=49)))
    assert not soak._flat(run(at(101.0), at(105.5)))  # 5.5 % over the second half
    assert not soak._flat(run(at(100.0), at(100.0, threads=21)))
    assert not soak._flat(run(at(100.0), at(100.0, files=51)))
    assert not soak._flat(run(at(100.0), {}))  # the process died
    # 2 MB gained over the second half's 1,000 calls: about 2 KB a call.
    assert soak._growth_kb_per_call(run(at(101.0), at(102.0)), 1000) == 2.05
