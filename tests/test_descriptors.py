"""HKS and WKS: closed forms on the sphere, invariances."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.descriptors import hks, hks_times, wks, wks_energies
from geodesic_nets.geometry.laplacian import laplacian_and_mass
from geodesic_nets.geometry.spectral import eigen_basis


def _basis(v, f, k):
    L, M = laplacian_and_mass(v, f)
    return eigen_basis(L, M, k)


@pytest.fixture(scope="module")
def sphere_basis():
    s = primitives.icosphere(4)
    return _basis(np.asarray(s.verts), np.asarray(s.faces), 49)  # l = 0..6 complete


@pytest.fixture(scope="module")
def bumpy():
    """An asymmetric closed surface (no degenerate eigenvalues)."""
    s = primitives.icosphere(3)
    v = np.asarray(s.verts)
    r = 1.0 + 0.15 * np.sin(3 * v[:, 0] + 1.0) * np.cos(2 * v[:, 1]) + 0.1 * v[:, 2] ** 3
    return v * r[:, None], np.asarray(s.faces)


def test_hks_sphere_closed_form(sphere_basis):
    evals, evecs = sphere_basis
    times = np.array([0.05, 0.1, 0.3, 1.0])
    h = hks(evals, evecs, times)
    assert h.shape == (len(evecs), 4)
    # Truncated closed form with the exact l(l+1) spectrum ...
    ls = np.arange(7)
    exact = ((2 * ls + 1)[:, None] * np.exp(-np.outer(ls * (ls + 1.0), times))).sum(axis=0) / (4 * np.pi)
    # ... is matched up to the discretization (constant across vertices, right value).
    rel_spread = (h.max(axis=0) - h.min(axis=0)) / h.mean(axis=0)
    assert np.all(rel_spread < 0.05)
    assert np.allclose(h.mean(axis=0), exact, rtol=0.02)
    # and exactly (to roundoff) with the computed eigenvalues, on the M-average
    from geodesic_nets.geometry.laplacian import mass_matrix

    s = primitives.icosphere(4)
    m = mass_matrix(np.asarray(s.verts), np.asarray(s.faces)).diagonal()
    assert np.allclose((m[:, None] * h).sum(axis=0), np.exp(-np.outer(evals, times)).sum(axis=0), rtol=1e-10)


def test_hks_times():
    evals = np.array([0.0, 2.0, 2.0, 6.0, 12.0])
    t = hks_times(evals, 8)
    assert t.shape == (8,) and np.all(np.diff(t) > 0)
    assert t[0] == pytest.approx(4 * np.log(10) / 12.0) and t[-1] == pytest.approx(4 * np.log(10) / 2.0)
    with pytest.raises(GeometryError):
        hks_times(np.zeros(3))
    with pytest.raises(ValueError):
        hks_times(evals, 0)


def test_hks_heat_trace_normalization(sphere_basis):
    evals, evecs = sphere_basis
    h = hks(evals, evecs, normalization="heat_trace")
    assert h.shape == (len(evecs), 16)
    assert np.allclose(h.mean(axis=0), 1 / (4 * np.pi), rtol=0.03)
    with pytest.raises(ValueError):
        hks(evals, evecs, normalization="l2")


def test_wks_shape_and_normalization(sphere_basis):
    evals, evecs = sphere_basis
    w = wks(evals, evecs, n_energies=10, sigma_factor=7)
    assert w.shape == (len(evecs), 10) and np.all(w > 0)
    # normalized filters: on the sphere each band sees sum_k phi_k^2 weights ~ 1 / (4 pi)
    assert np.allclose(w.mean(axis=0), 1 / (4 * np.pi), rtol=0.05)
    e, sigma = wks_energies(evals, 10, sigma_factor=7)
    assert e[0] == pytest.approx(np.log(evals[1])) and e[-1] == pytest.approx(np.log(evals[-1]))
    assert sigma == pytest.approx(7 * (e[1] - e[0]))


def test_invariance_rigid_motion_and_permutation(bumpy, rng):
    v, f = bumpy
    k = 30
    evals, evecs = _basis(v, f, k)
    h, w = hks(evals, evecs), wks(evals, evecs)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    ev2, ph2 = _basis(v @ q.T + [1.0, -2.0, 0.5], f, k)
    assert np.allclose(hks(ev2, ph2), h, rtol=1e-6, atol=1e-9)
    assert np.allclose(wks(ev2, ph2), w, rtol=1e-6, atol=1e-9)
    perm = rng.permutation(len(v))
    inv = np.argsort(perm)
    ev3, ph3 = _basis(v[perm], inv[f], k)  # new vertex i is old vertex perm[i]
    assert np.allclose(hks(ev3, ph3), h[perm], rtol=1e-6, atol=1e-9)
    assert np.allclose(wks(ev3, ph3), w[perm], rtol=1e-6, atol=1e-9)


def test_errors(sphere_basis):
    evals, evecs = sphere_basis
    with pytest.raises(GeometryError, match="shape"):
        hks(evals, evecs[:, :3])
    with pytest.raises(ValueError, match="times"):
        hks(evals, evecs, np.array([-1.0]))
    with pytest.raises(ValueError, match="sigma_factor"):
        wks(evals, evecs, sigma_factor=0)
    with pytest.raises(GeometryError, match="non-zero"):
        wks(np.zeros(2), np.ones((4, 2)))
