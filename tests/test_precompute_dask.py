"""Dataset-scale precompute on a Dask distributed cluster (a LocalCluster of two worker processes)."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import OperatorCache, OperatorSettings, Surface, primitives
from geodesic_nets.cli import main
from geodesic_nets.io import save
from geodesic_nets.precompute import precompute_files

distributed = pytest.importorskip("distributed")

SETTINGS = OperatorSettings(k_eig=6)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        yield c.scheduler_address


@pytest.fixture
def files(tmp_path):
    paths = []
    for i in range(4):
        s = primitives.icosphere(2, radius=1.0 + 0.1 * i)
        p = tmp_path / f"shape{i}.off"
        save(Surface(s.verts, s.faces), p)
        paths.append(p)
    return paths


def _entries(cache_dir):
    return {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("*.npz")}


def test_cluster_fills_the_same_cache_as_local_processes(cluster, files, tmp_path):
    cache = tmp_path / "cache"
    results = precompute_files(files + [files[0]], cache_dir=cache, settings=SETTINGS, scheduler=cluster,
                               progress=False)
    assert [r.error for r in results] == [None] * 5  # the same file twice: both tasks succeed
    entries = _entries(cache)
    assert len(entries) == 4 and not list(cache.glob("*.tmp"))
    local = tmp_path / "local"
    precompute_files(files, cache_dir=local, settings=SETTINGS, jobs=1, progress=False)
    assert set(_entries(local)) == set(entries)  # same keys
    from geodesic_nets.io import load

    ops = OperatorCache(cache).load(load(files[2]), SETTINGS)
    ref = OperatorCache(local).load(load(files[2]), SETTINGS)
    np.testing.assert_allclose(ops.evals, ref.evals, rtol=0, atol=1e-12)


def test_rerun_computes_only_what_is_missing(cluster, files, tmp_path):
    cache = tmp_path / "cache"
    precompute_files(files, cache_dir=cache, settings=SETTINGS, scheduler=cluster, progress=False)
    before = _entries(cache)
    lost = sorted(before)[0]
    (cache / lost).unlink()  # as if the worker computing it had been killed before writing
    results = precompute_files(files, cache_dir=cache, settings=SETTINGS, scheduler=cluster, progress=False)
    assert all(r.error is None for r in results)
    after = _entries(cache)
    assert set(after) == set(before)
    assert {k for k in before if k != lost and after[k] != before[k]} == set()  # the others were read, not rewritten


def test_bad_file_is_reported_and_the_rest_finish(cluster, files, tmp_path):
    bad = tmp_path / "bad.off"
    bad.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    results = precompute_files([bad, *files[:2]], cache_dir=tmp_path / "c", settings=SETTINGS, scheduler=cluster,
                               progress=False)
    assert results[0].error is not None and "bad.off" in results[0].error + results[0].path
    assert [r.error for r in results[1:]] == [None, None]


def test_cli_scheduler_option(cluster, files, tmp_path, capsys):
    cache = tmp_path / "cli"
    code = main(["precompute", *map(str, files), "--cache", str(cache), "--k-eig", "6", "--scheduler", cluster,
                 "--no-progress"])
    assert code == 0 and "precomputed 4 of 4" in capsys.readouterr().out
    assert len(_entries(cache)) == 4


def test_unreachable_scheduler_is_a_clear_error(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEODESIC_NETS_DASK_TIMEOUT", "2")
    code = main(["precompute", str(files[0]), "--cache", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:9",
                 "--no-progress"])
    assert code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
