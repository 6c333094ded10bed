"""A seeded small run of benchmarks/fuzz.py: mutated and degenerate files of every format through
load -> inspect -> normalize -> compute_operators (and its cache) -> heat geodesics, each in a
crash-isolated worker: every case ends finite or with a GeodesicNetsError."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz  # noqa: E402


def test_small_seeded_fuzz_run_has_no_failure(tmp_path):
    result = fuzz.fuzz(300, seed=12345, timeout=120, memory_mb=4000, keep=tmp_path / "failures")
    assert result["failures"] == []
    seen = set(result["counts"])
    assert len(seen) >= len(fuzz.MUTATIONS) - 2  # nearly every mutation drawn
    totals = {o: sum(c.get(o, 0) for c in result["counts"].values()) for o in ("ok", "error")}
    assert totals["ok"] > 50 and totals["error"] > 50  # both outcomes exercised
    assert sum(sum(c.values()) for c in result["counts"].values()) == 300


def test_a_crashing_or_hanging_worker_is_counted_and_replaced(tmp_path):
    """The harness itself: a case that kills the worker is a crash, one that never answers a hang,
    and the next case gets a fresh worker."""
    w = fuzz.Worker(0, tmp_path / "cache")
    good = tmp_path / "good.off"
    good.write_text("OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n1 1 0.2\n3 0 1 2\n3 1 3 2\n")
    try:
        assert w.run(good, 60)[0] in ("ok", "error")
        assert w.run(tmp_path / "__abort__", 60)[0] == "crash"
        assert w.run(good, 60)[0] in ("ok", "error")
        assert w.run(tmp_path / "__sleep__", 2)[0] == "hang"
        assert w.run(good, 60)[0] in ("ok", "error")
    finally:
        w.close()
