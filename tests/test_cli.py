"""The geodesic-nets command line: info, precompute, demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets import OperatorCache
from geodesic_nets.cli import main
from geodesic_nets.io import load, save
from geodesic_nets.settings import OperatorSettings


def test_info_json(tmp_path, capsys):
    path = tmp_path / "torus.off"
    save(primitives.torus(20, 10), path)
    assert main(["info", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    flat = json.dumps(report)
    assert "200" in flat  # 200 vertices
    assert main(["info", str(path)]) == 0
    assert "200" in capsys.readouterr().out


def test_info_on_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.obj")]) == 1
    err = capsys.readouterr().err
    assert "nope.obj" in err and "Traceback" not in err


def test_precompute_skips_bad_files_and_caches_the_rest(tmp_path, capsys):
    good = [tmp_path / "a.obj", tmp_path / "b.ply"]
    save(primitives.icosphere(1), good[0])
    save(primitives.torus(12, 6), good[1])
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
    cache = tmp_path / "cache"
    code = main(["precompute", str(good[0]), str(bad), str(good[1]), "--cache", str(cache),
                 "--k-eig", "8", "--jobs", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0
    assert "precomputed 2 of 3" in captured.out and "bad.obj" in captured.err
    c = OperatorCache(cache)
    for p in good:
        assert c.load(load(p), OperatorSettings(k_eig=8)) is not None


def test_normalized_precompute_warms_the_training_cache(tmp_path, capsys):
    """--normalize caches what the datasets ask for (unit area, centred): they then hit the cache."""
    from geodesic_nets.data.prepare import prepare_samples
    from geodesic_nets.settings import AnisotropicSettings

    files = [tmp_path / "a.obj", tmp_path / "b.off"]
    save(primitives.bumpy_sphere(1, seed=1), files[0])
    save(primitives.torus(12, 6), files[1])
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
    cache = tmp_path / "cache"
    code = main(["precompute", str(files[0]), str(bad), str(files[1]), "--cache", str(cache), "--k-eig", "8",
                 "--patch-size", "6", "--anisotropic", "2", "--normalize", "--jobs", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and "precomputed 2 of 3" in captured.out
    assert "bad.obj" in captured.err and "FAILED" in captured.err
    settings = OperatorSettings(k_eig=8, patch_size=6, anisotropic=AnisotropicSettings(n_orientations=2))
    shapes = prepare_samples([str(f) for f in files], settings=settings, cache_dir=cache, progress=False)
    assert [s.info["cache_hit"] for s in shapes] == [True, True]
    assert all(s.operators.patch_kernels.shape[1] == 2 * 2 for s in shapes)  # 2 orientations x 2 times
    # Without --normalize the files are cached as they are: entries the datasets do not ask for.
    plain = tmp_path / "plain"
    assert main(["precompute", str(files[1]), "--cache", str(plain), "--k-eig", "8", "--quiet"]) == 0
    again = prepare_samples([str(files[1])], settings=OperatorSettings(k_eig=8), cache_dir=plain, progress=False)
    assert again[0].info["cache_hit"] is False


def test_demo_geometry_matches_closed_forms(tmp_path, capsys):
    assert main(["demo", "--k-eig", "16", "--geometry-only", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "first eigenvalues" in out and "HKS" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())["geometry"]
    sphere = metrics["surfaces"][0]
    # icosphere(4): eigenvalues l(l+1) within 1%, heat geodesics within a few percent of exact.
    assert sphere["max_rel_eigenvalue_error"] < 0.01
    assert sphere["geodesics"]["mean_rel_error_heat_vs_exact"] < 0.05
    assert max(sphere["hks_cv"]) < 0.01
    assert np.isfinite(metrics["surfaces"][1]["evals"]).all()
    assert (tmp_path / "icosphere.obj").exists()


def test_demo_trains_both_models_and_draws_them(tmp_path, capsys):
    """The full default job: the classifier learns, the learned maps beat the raw descriptors."""
    assert main(["demo", "--k-eig", "16", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["classification"]["accuracy"] >= 0.8
    corr = metrics["correspondence"]
    assert corr["learned"]["mean_geodesic_error"] < 0.7 * corr["raw_descriptors"]["mean_geodesic_error"]
    for name in ("features", "correspondence"):
        assert Path(metrics["pictures"][name]).stat().st_size > 10_000
    assert (tmp_path / "classification" / "checkpoints" / "last.pt").is_file()
