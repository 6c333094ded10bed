"""Eigenbasis of L phi = lambda M phi: closed forms (sphere), dense reference, conventions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.laplacian import laplacian_and_mass
from geodesic_nets.geometry.sparse_cholesky import SparseCholesky
from geodesic_nets.geometry.spectral import EigenSolver, eigen_basis
from geodesic_nets.geometry.spectral import default_factorization as spectral_default

SPHERE_EVALS = np.concatenate([np.full(2 * l + 1, l * (l + 1.0)) for l in range(8)])  # (64,)


def _lm(s, **kw):
    return laplacian_and_mass(np.asarray(s.verts), None if s.faces is None else np.asarray(s.faces), **kw)


def _same_subspaces(evals, a, b, M, tol):
    """a and b span the same eigenspaces (clusters of equal eigenvalues), last cluster excluded."""
    m = M.diagonal()
    gaps = np.flatnonzero(np.diff(evals) > 1e-6 * max(evals[-1], 1.0)) + 1
    stop = gaps[-1] if len(gaps) else 0
    proj = a[:, :stop].T @ (m[:, None] * b[:, :stop])
    # block diagonal over clusters, orthogonal within
    assert np.abs(proj.T @ proj - np.eye(stop)).max() < tol
    return stop


@pytest.fixture(scope="module")
def ico4():
    return _lm(primitives.icosphere(4))


def test_sphere_spectrum_multiplicities(ico4):
    L, M = ico4
    evals, evecs = eigen_basis(L, M, 64, method="block")
    assert evals[0] == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(evals, SPHERE_EVALS, rtol=0.03, atol=1e-8)
    # multiplicities 1, 3, 5, ...: within a cluster eigenvalues agree far better than between
    for l in range(1, 7):
        block = evals[l * l : (l + 1) * (l + 1)]
        nxt = evals[(l + 1) * (l + 1)]
        assert block.max() - block.min() < 0.01 * l * (l + 1) < 0.2 * (nxt - block.max())
    assert np.abs(evecs.T @ (M @ evecs) - np.eye(64)).max() < 1e-10


def test_sphere_spectrum_converges_quadratically():
    errs = []
    for s in (3, 4, 5):
        L, M = _lm(primitives.icosphere(s))
        evals, _ = eigen_basis(L, M, 36)
        errs.append(np.abs(evals[1:36] - SPHERE_EVALS[1:36]).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[0] > errs[1] > errs[2]
    assert np.all(rates > 1.6) and np.all(rates < 2.6), rates  # O(h^2)


@pytest.mark.parametrize("method", ["block", "arpack", "auto"])
def test_agrees_with_dense_generalized_solver(method):
    s = primitives.torus(40, 22)  # 880 vertices, non-trivial spectrum
    L, M = _lm(s)
    k = 40
    evals, evecs = eigen_basis(L, M, k, method=method)
    ref_vals, ref_vecs = sla.eigh(L.toarray(), M.toarray(), subset_by_index=[0, k - 1])
    assert np.abs(evals - ref_vals).max() < 1e-8 * ref_vals.max()
    assert np.abs(evecs.T @ (M @ evecs) - np.eye(k)).max() < 1e-10
    assert np.abs(L @ evecs - (M @ evecs) * evals).max() < 1e-6 * ref_vals.max() * M.diagonal().max()
    _same_subspaces(evals, evecs, ref_vecs, M, 1e-7)


def test_block_solver_matches_shift_invert_reference():
    """Against the naive scipy reference (eigsh with sigma) on a mesh too big for dense."""
    import scipy.sparse.linalg as spla

    L, M = _lm(primitives.torus(100, 40))  # 4000 vertices
    evals, evecs = eigen_basis(L, M, 60, method="block")
    ref_vals, ref_vecs = spla.eigsh(L, 60, M, sigma=-1e-8)
    assert np.abs(evals - ref_vals).max() < 1e-8 * ref_vals.max()
    _same_subspaces(evals, evecs, ref_vecs, M, 1e-7)


def test_sign_convention_deterministic_and_path_independent():
    rng = np.random.default_rng(3)
    s = primitives.torus(36, 20)
    v = np.asarray(s.verts) + 0.01 * rng.standard_normal((len(s.verts), 3))  # break symmetries
    L, M = laplacian_and_mass(v, np.asarray(s.faces))
    a_vals, a = eigen_basis(L, M, 30, method="block")
    b_vals, b = eigen_basis(L, M, 30, method="block", seed=7)
    c_vals, c = eigen_basis(L, M, 30, method="dense")
    d_vals, d = eigen_basis(L, M, 30, method="arpack")
    for other in (b, c, d):
        assert np.abs(a - other).max() < 1e-5
    e_vals, e = eigen_basis(L, M, 30, method="block")
    assert np.array_equal(a, e) and np.array_equal(a_vals, e_vals)
    m = M.diagonal()
    third = (m[:, None] * a**3).sum(axis=0)
    assert np.all(third[1:] > 0)


def test_disconnected_mesh_has_one_zero_eigenvalue_per_component():
    s = primitives.icosphere(4)
    v, f = np.asarray(s.verts), np.asarray(s.faces)
    v2 = np.vstack([v, v + [3.0, 0, 0]])
    f2 = np.vstack([f, f + len(v)])
    L, M = laplacian_and_mass(v2, f2)
    evals, evecs = eigen_basis(L, M, 20, method="block")
    assert np.all(np.abs(evals[:2]) < 1e-9) and evals[2] > 1.5
    # each null vector is constant on each component
    for j in range(2):
        assert np.ptp(evecs[: len(v), j]) < 1e-6 and np.ptp(evecs[len(v) :, j]) < 1e-6
    assert np.allclose(evals[2:8], 2.0, rtol=0.01)  # l = 1 twice


def test_single_triangle_and_k_larger_than_v():
    s = primitives.single_triangle()
    L, M = _lm(s)
    evals, evecs = eigen_basis(L, M, 10)
    assert evals.shape == (3,) and evecs.shape == (3, 3)
    assert abs(evals[0]) < 1e-12 and np.all(np.diff(evals) >= 0)
    assert np.abs(evecs.T @ (M @ evecs) - np.eye(3)).max() < 1e-12
    evals0, evecs0 = eigen_basis(L, M, 0)
    assert evals0.shape == (0,) and evecs0.shape == (3, 0)


def test_many_components_give_exact_zeros(rng):
    v = rng.random((1800, 3))
    f = np.arange(1800).reshape(600, 3)  # 600 disjoint triangles
    L, M = laplacian_and_mass(v, f)
    evals, evecs = eigen_basis(L, M, 10, method="block")
    assert np.all(evals >= 0.0) and evals.max() < 1e-10 and np.all(np.isfinite(evecs))


def test_isolated_vertex_gives_zero_eigenvalue():
    s = primitives.icosphere(2)
    v = np.vstack([np.asarray(s.verts), [[4.0, 0, 0]]])
    L, M = laplacian_and_mass(v, np.asarray(s.faces))
    evals, _ = eigen_basis(L, M, 5)
    assert np.sum(evals < 1e-9) == 2 and np.all(np.isfinite(evals))


def test_point_cloud_sphere_spectrum(sphere_cloud):
    L, M = _lm(sphere_cloud)
    evals, _ = eigen_basis(L, M, 16)
    assert evals[0] == pytest.approx(0.0, abs=1e-8)
    assert np.allclose(evals[1:16], SPHERE_EVALS[1:16], rtol=0.06)


def test_solver_object_reuses_factorization(ico4):
    L, M = ico4
    solver = EigenSolver(L, M)
    a, _ = solver.solve(20, method="block")
    chol = solver.factor
    b, _ = solver.solve(40, method="block")
    assert solver.factor is chol
    assert np.allclose(a, b[:20], rtol=1e-10, atol=1e-10)


def test_sparse_cholesky_solves(rng):
    L, M = _lm(primitives.torus(40, 20))
    A = (L + 0.5 * M).tocsr()
    chol = SparseCholesky(A)
    b = rng.standard_normal((A.shape[0], 3))
    x = chol.solve(b)
    assert np.abs(A @ x - b).max() < 1e-10 * np.abs(b).max() * 1e2
    assert np.allclose(chol.solve(b[:, 0]), x[:, 0])
    with pytest.raises(GeometryError, match="positive definite"):
        SparseCholesky(-A)


def test_errors(ico4):
    L, M = ico4
    with pytest.raises(ValueError, match="method"):
        eigen_basis(L, M, 4, method="lobpcg")
    with pytest.raises(ValueError, match="k must"):
        eigen_basis(L, M, -1)
    with pytest.raises(GeometryError, match="positive"):
        eigen_basis(L, -M, 4)
    with pytest.raises(GeometryError, match="diagonal"):
        eigen_basis(L, M + sp.eye(L.shape[0], k=1), 4)
    with pytest.raises(GeometryError, match="empty"):
        eigen_basis(sp.csr_matrix((0, 0)), np.zeros(0), 4)


def test_cholesky_failure_falls_back_to_lu(monkeypatch):
    import geodesic_nets.geometry.factorization as factorization

    def fail(A):
        raise GeometryError("matrix is not positive definite (forced)")

    monkeypatch.setattr(factorization, "SparseCholesky", fail)
    L, M = _lm(primitives.torus(40, 20))
    solver = EigenSolver(L, M, factorization="builtin")
    evals, _ = solver.solve(10, method="block")
    ref = sla.eigh(L.toarray(), M.toarray(), subset_by_index=[0, 9])[0]
    assert type(solver.factor).__name__ == "_LUSolver"
    assert np.abs(evals - ref).max() < 1e-8 * ref.max()


@pytest.mark.parametrize("factorization", ["builtin", "cholespy", "superlu", "auto"])
def test_every_factorization_gives_the_same_pairs(factorization):
    if factorization == "cholespy":
        pytest.importorskip("cholespy")
    L, M = _lm(primitives.torus(100, 40))  # 4000 vertices: the block solver runs
    solver = EigenSolver(L, M, factorization=factorization)
    evals, evecs = solver.solve(50, method="block")
    ref_vals, ref_vecs = sla.eigh(L.toarray(), M.toarray(), subset_by_index=[0, 49])
    assert np.abs(evals - ref_vals).max() < 1e-8 * ref_vals.max()
    _same_subspaces(evals, evecs, ref_vecs, M, 1e-7)
    want = {"builtin": "SparseCholesky", "cholespy": "_CholespySolver", "superlu": "_LUSolver"}
    chosen = spectral_default(L.shape[0]) if factorization == "auto" else factorization
    assert type(solver.factor).__name__ == want[chosen]


def test_indefinite_matrix_with_cholespy_falls_back_to_lu(caplog):
    pytest.importorskip("cholespy")
    L, M = _lm(primitives.torus(40, 20))
    L = (L - 50.0 * sp.identity(L.shape[0])).tocsr()  # no longer positive semidefinite
    solver = EigenSolver(L, M, factorization="cholespy")
    with caplog.at_level("WARNING"):
        solver.solve(6, method="block")
    assert type(solver.factor).__name__ == "_LUSolver"
    assert any("falling back to SuperLU" in r.getMessage() for r in caplog.records)


def test_missing_cholespy_is_a_dependency_error(monkeypatch):
    import geodesic_nets.geometry.spectral as spectral
    from geodesic_nets.errors import DependencyError

    import geodesic_nets.geometry.factorization as factorization

    monkeypatch.setattr(spectral, "cholespy_available", lambda: False)
    monkeypatch.setattr(factorization, "cholespy_available", lambda: False)
    L, M = _lm(primitives.torus(20, 10))
    with pytest.raises(DependencyError, match="cholespy"):
        EigenSolver(L, M, factorization="cholespy")
    assert EigenSolver(L, M).factorization == "builtin"
    with pytest.raises(ValueError, match="factorization"):
        EigenSolver(L, M, factorization="cholmod")


def test_block_solver_that_stalls_falls_back_to_converged_pairs():
    """V = 2562, K = 128: the block Krylov solver stalls here; the result must still be right."""
    s = primitives.bumpy_sphere(4, seed=0)
    L, M = laplacian_and_mass(s.verts, s.faces)
    ev, vec = eigen_basis(L, M, 128, method="block")
    ref, _ = eigen_basis(L, M, 128, method="dense")
    np.testing.assert_allclose(ev, ref, rtol=1e-8, atol=1e-8)
    m = M.diagonal()
    assert np.abs(L @ vec - m[:, None] * vec * ev).max() < 1e-6 * ev.max()
