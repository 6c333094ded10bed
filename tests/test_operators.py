"""The operator bundle, its torch form and the disk cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from geodesic_nets import CacheError, GeometryError, Surface, primitives
from geodesic_nets import OperatorCache
from geodesic_nets.operators import compute_operators
from geodesic_nets.settings import OperatorSettings


@pytest.fixture(scope="module")
def blob():
    return primitives.bumpy_sphere(3, seed=1)


@pytest.fixture(scope="module")
def blob_ops(blob):
    return compute_operators(blob, k_eig=24)


def test_bundle_is_consistent(blob, blob_ops):
    ops = blob_ops
    V = blob.num_verts
    assert ops.evecs.shape == (V, 24) and ops.evals.shape == (24,)
    assert np.all(np.diff(ops.evals) >= -1e-12) and abs(ops.evals[0]) < 1e-8
    gram = ops.evecs.T @ (ops.mass[:, None] * ops.evecs)
    np.testing.assert_allclose(gram, np.eye(24), atol=1e-8)
    np.testing.assert_allclose(ops.laplacian @ ops.evecs, ops.mass[:, None] * ops.evecs * ops.evals, atol=1e-7)
    from geodesic_nets.geometry import face_areas

    assert ops.mass.sum() == pytest.approx(face_areas(blob.verts, blob.faces).sum(), rel=1e-12)
    assert ops.gradient.shape == (V, V) and np.iscomplexobj(ops.gradient.data)
    assert ops.connection.edge_src.shape == ops.connection.transport.shape
    assert set(ops.timings) == {"laplacian", "eigen", "frames", "connection", "gradient"}


def test_point_cloud_bundle():
    pc = primitives.sphere_point_cloud(600)
    ops = compute_operators(pc, k_eig=10)
    assert ops.faces is None and ops.evecs.shape == (600, 10)
    # Unit sphere: lambda_1..3 close to 2.
    np.testing.assert_allclose(ops.evals[1:4], 2.0, rtol=0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_form_matches_numpy(blob_ops, dtype):
    t = blob_ops.to("cpu", dtype)
    assert t.evecs.dtype == dtype and t.edge_src.dtype == torch.int64
    x = np.random.default_rng(0).normal(size=(blob_ops.num_verts, 3))
    lx = torch.sparse.mm(t.laplacian, torch.as_tensor(x, dtype=dtype)).numpy()
    tol = 1e-4 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(lx, blob_ops.laplacian @ x, rtol=tol, atol=tol)
    gx = torch.sparse.mm(t.gradient_x, torch.as_tensor(x, dtype=dtype)).numpy()
    gy = torch.sparse.mm(t.gradient_y, torch.as_tensor(x, dtype=dtype)).numpy()
    g = blob_ops.gradient @ x
    np.testing.assert_allclose(gx + 1j * gy, g, rtol=tol, atol=tol * 10)
    t64 = t.to(dtype=torch.float64)
    assert t64.mass.dtype == torch.float64 and t64.faces.dtype == torch.int64


@pytest.mark.cuda
def test_torch_form_on_cuda(blob_ops):
    t = blob_ops.to("cuda")
    assert t.evecs.is_cuda and t.laplacian.is_cuda
    back = t.to("cpu", torch.float64)
    np.testing.assert_allclose(back.evecs.numpy(), blob_ops.evecs, atol=1e-6)


def test_patches_in_bundle_torch_form_and_cache(tmp_path, blob):
    ops = compute_operators(blob, k_eig=8, patch_size=12, cache=tmp_path)
    p = ops.patches
    assert p is not None and np.all(p.sizes == 12) and "patches" in ops.timings
    t = ops.to("cpu", torch.float64)
    np.testing.assert_array_equal(t.patch_neighbor.numpy(), p.neighbor)
    np.testing.assert_allclose(t.patch_theta.numpy(), p.theta)
    again = OperatorCache(tmp_path).load(blob, OperatorSettings(k_eig=8, patch_size=12))
    np.testing.assert_array_equal(again.patches.rho, p.rho)
    assert compute_operators(blob, k_eig=8).patches is None


def test_empty_surface_is_a_clear_error():
    with pytest.raises(GeometryError, match="empty"):
        compute_operators(Surface(np.zeros((0, 3)), np.zeros((0, 3), int)))
    with pytest.raises(GeometryError, match="no faces"):
        compute_operators(Surface(np.eye(3), np.zeros((0, 3), int)))


def test_single_triangle_operators_are_finite(triangle):
    ops = compute_operators(triangle, k_eig=8)
    assert ops.evals.shape == (3,)
    for a in (ops.evals, ops.evecs, ops.mass, ops.gradient.data, ops.connection.transport):
        assert np.all(np.isfinite(a))


def test_settings_are_validated():
    with pytest.raises(ValueError, match="laplacian"):
        OperatorSettings(laplacian="bogus")
    with pytest.raises(ValueError, match="k_eig"):
        OperatorSettings(k_eig=-1)


# ----------------------------------------------------------------------------- cache
def _same(a, b):
    np.testing.assert_array_equal(a.evecs, b.evecs)
    np.testing.assert_array_equal(a.evals, b.evals)
    assert (a.laplacian != b.laplacian).nnz == 0 and (a.gradient != b.gradient).nnz == 0
    np.testing.assert_array_equal(a.frames.basis_x, b.frames.basis_x)
    np.testing.assert_array_equal(a.connection.transport, b.connection.transport)


def test_cache_round_trip_and_key(tmp_path, blob, blob_ops):
    cache = OperatorCache(tmp_path / "c")
    settings = OperatorSettings(k_eig=24)
    path = cache.store(blob, settings, blob_ops)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    _same(cache.load(blob, settings), blob_ops)
    # The key changes with the geometry, the settings, and not with the name.
    assert cache.key(blob, OperatorSettings(k_eig=23)) != cache.key(blob, settings)
    assert cache.key(blob.with_verts(blob.verts * 1.0001), settings) != cache.key(blob, settings)
    assert cache.key(Surface(blob.verts, blob.faces, name="x"), settings) == cache.key(blob, settings)


def test_cache_hit_skips_computation(tmp_path, blob, monkeypatch):
    import geodesic_nets.operators.compute as operators_compute

    calls = []
    real = operators_compute._run_stages
    monkeypatch.setattr(operators_compute, "_run_stages", lambda s, st: calls.append(1) or real(s, st))
    a = compute_operators(blob, k_eig=6, cache=tmp_path)
    b = compute_operators(blob, k_eig=6, cache=tmp_path)
    assert len(calls) == 1
    _same(a, b)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_key"])
def test_corrupt_cache_entry_is_recomputed(tmp_path, blob, blob_ops, damage):
    cache = OperatorCache(tmp_path)
    settings = OperatorSettings(k_eig=24)
    path = cache.store(blob, settings, blob_ops)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        other = primitives.icosphere(1)
        other_path = cache.store(other, settings, compute_operators(other, k_eig=5))
        os.replace(other_path, path)
    assert cache.load(blob, settings) is None
    ops = cache.get_or_compute(blob, settings)
    _same(ops, blob_ops)
    _same(cache.load(blob, settings), blob_ops)  # rewritten


@pytest.mark.parametrize("edit", ["evals_x2", "mass_plus_1", "laplacian_x3", "no_checksum", "resigned_key"])
def test_tampered_cache_entry_is_reported_and_recomputed(tmp_path, blob, blob_ops, edit, caplog):
    """A valid .npz with altered values is never returned (the issue's tampering cases)."""
    cache = OperatorCache(tmp_path)
    settings = OperatorSettings(k_eig=24)
    path = cache.store(blob, settings, blob_ops)
    with np.load(path) as a:
        arrays = {k: a[k] for k in a.files}
    if edit == "evals_x2":
        arrays["evals"] = arrays["evals"] * 2
    elif edit == "mass_plus_1":
        arrays["mass"] = arrays["mass"] + 1
    elif edit == "laplacian_x3":
        arrays["laplacian.data"] = arrays["laplacian.data"] * 3
    elif edit == "no_checksum":
        del arrays["checksum"]
    else:  # values altered and the key array rewritten: the checksum still catches it
        arrays["evals"] = arrays["evals"] + 1e-9
        arrays["key"] = np.array(path.stem)
    np.savez(path, **arrays)
    with caplog.at_level("WARNING", logger="geodesic_nets.cache"):
        assert cache.load(blob, settings) is None
    assert str(path) in caplog.text and ("checksum" in caplog.text)
    _same(cache.get_or_compute(blob, settings), blob_ops)
    _same(cache.load(blob, settings), blob_ops)  # rewritten with a valid checksum


def test_cache_dir_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(CacheError, match="file"):
        OperatorCache(f)
