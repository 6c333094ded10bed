"""Cotangent Laplacian and mass matrices: against libigl, robust-laplacian and closed forms."""

from __future__ import annotations

import igl
import numpy as np
import pytest
import robust_laplacian
import scipy.sparse as sp

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.elements import boundary_vertex_mask, face_edge_lengths
from geodesic_nets.geometry.laplacian import (
    ISOLATED_MASS_FRACTION,
    cotan_laplacian,
    cotan_laplacian_from_lengths,
    laplacian_and_mass,
    mass_from_lengths,
    mass_matrix,
)

from conftest import shared_data_path


def _arrays(s):
    return np.asarray(s.verts, dtype=np.float64), np.asarray(s.faces, dtype=np.int64)


def _meshes():
    return {
        "sphere": primitives.icosphere(3),
        "torus": primitives.torus(30, 15),
        "plane": primitives.plane_grid(10, jitter=0.3),
        "uv_sphere": primitives.uv_sphere(12, 24),
    }


@pytest.mark.parametrize("name", ["sphere", "torus", "plane", "uv_sphere"])
def test_matches_igl(name):
    v, f = _arrays(_meshes()[name])
    L = cotan_laplacian(v, f)
    assert isinstance(L, sp.csr_matrix) and L.shape == (len(v), len(v))
    assert abs(L + igl.cotmatrix(v, f)).max() < 1e-12
    for kind, igl_kind in [("barycentric", igl.MASSMATRIX_TYPE_BARYCENTRIC), ("voronoi", igl.MASSMATRIX_TYPE_VORONOI)]:
        M = mass_matrix(v, f, kind=kind)
        assert abs(M - igl.massmatrix(v, f, igl_kind)).max() < 1e-14
        assert M.nnz == len(v)  # diagonal


def test_matches_igl_real_mesh():
    v, f = igl.read_triangle_mesh(str(shared_data_path("models", "spot.obj")))
    v, f = np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)
    assert abs(cotan_laplacian(v, f) + igl.cotmatrix(v, f)).max() < 1e-12
    M = mass_matrix(v, f, kind="voronoi")
    assert abs(M - igl.massmatrix(v, f, igl.MASSMATRIX_TYPE_VORONOI)).max() < 1e-14


@pytest.mark.parametrize("name", ["sphere", "torus", "plane"])
def test_symmetric_rows_sum_zero_psd(name):
    v, f = _arrays(_meshes()[name])
    L = cotan_laplacian(v, f)
    assert abs(L - L.T).max() < 1e-14
    assert np.abs(np.asarray(L.sum(axis=1))).max() < 1e-12
    w = np.linalg.eigvalsh(L.toarray())
    assert w.min() > -1e-10 * w.max()


def test_linear_precision_on_flat_plane():
    v, f = _arrays(primitives.plane_grid(12, jitter=0.3))
    L = cotan_laplacian(v, f)
    interior = ~boundary_vertex_mask(f, len(v))
    for g in (v[:, 0], v[:, 1], 2.0 * v[:, 0] - 3.0 * v[:, 1] + 1.0):
        assert np.abs((L @ g)[interior]).max() < 1e-12


def test_intrinsic_core_is_isometry_invariant(rng):
    v, f = _arrays(primitives.torus(20, 10))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    L1 = cotan_laplacian(v, f)
    L2 = cotan_laplacian(v @ q.T + 5.0, f)
    assert abs(L1 - L2).max() < 1e-11
    lengths = face_edge_lengths(v, f)
    assert abs(cotan_laplacian_from_lengths(f, lengths, len(v)) - L1).max() == 0


def test_mass_sums_to_area():
    v, f = _arrays(primitives.torus(30, 15))
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum()
    for kind in ("barycentric", "voronoi"):
        assert mass_matrix(v, f, kind=kind).sum() == pytest.approx(area, rel=1e-12)


def test_robust_method_matches_robust_laplacian():
    v, f = _arrays(primitives.plane_grid(8, jitter=0.35))
    L, M = laplacian_and_mass(v, f, method="robust")
    Lr, Mr = robust_laplacian.mesh_laplacian(v, f, mollify_factor=1e-5)
    assert abs(L - Lr).max() < 1e-12 and abs(M - Mr).max() < 1e-14


def test_robust_equals_cotan_on_delaunay_mesh():
    v, f = _arrays(primitives.icosphere(3))
    Lc, Mc = laplacian_and_mass(v, f)
    Lr, Mr = laplacian_and_mass(v, f, method="robust", mollify_factor=0.0)
    assert abs(Lc - Lr).max() < 1e-10
    assert abs(Mc - Mr).max() < 1e-14


def test_robust_differs_on_non_delaunay_mesh():
    v, f = _arrays(primitives.plane_grid(10, jitter=0.4))
    Lc, _ = laplacian_and_mass(v, f)
    Lr, _ = laplacian_and_mass(v, f, method="robust")
    assert abs(Lc - Lr).max() > 1e-3
    off = Lr - sp.diags(Lr.diagonal())
    assert off.max() <= 1e-12  # intrinsic Delaunay: non-negative weights


def test_point_cloud_laplacian():
    s = primitives.sphere_point_cloud(600)
    v = np.asarray(s.verts)
    L, M = laplacian_and_mass(v, None, n_neighbors=20)
    assert L.shape == (600, 600) and abs(L - L.T).max() < 1e-10
    assert np.abs(np.asarray(L.sum(axis=1))).max() < 1e-8
    assert M.diagonal().sum() == pytest.approx(4 * np.pi, rel=0.05)
    # tiny clouds: n_neighbors is clamped
    L3, M3 = laplacian_and_mass(v[:5], None)
    assert L3.shape == (5, 5) and np.all(np.isfinite(L3.data))


def test_single_triangle():
    v, f = _arrays(primitives.single_triangle())
    L, M = laplacian_and_mass(v, f)
    assert abs(L + igl.cotmatrix(v, f)).max() < 1e-14
    assert M.diagonal() == pytest.approx(np.full(3, 0.5 / 3))
    # right angle at vertex 0: the hypotenuse (1, 2) has weight cot(90 deg) / 2 = 0
    assert L[1, 2] == pytest.approx(0.0, abs=1e-15) and L[0, 1] == pytest.approx(-0.5)


def test_isolated_vertices_and_degenerate_faces():
    v, f = _arrays(primitives.icosphere(1))
    extra = np.array([[5.0, 5.0, 5.0], [0.0, 0.0, 0.0]])
    v2 = np.vstack([v, extra, v[:1]])  # an isolated vertex, the origin, and a duplicate of vertex 0
    n0 = len(v)
    f2 = np.vstack([f, [[0, 1, 1], [0, n0 + 2, 1]], [[0, 1, n0 + 2]]])  # two degenerate faces
    for method in ("cotan", "robust"):
        L, M = laplacian_and_mass(v2, f2, method=method)
        assert np.all(np.isfinite(L.data)) and np.all(np.isfinite(M.data))
        m = M.diagonal()
        assert np.all(m > 0)
        assert L[n0].nnz == 0 or abs(L[n0]).max() == 0  # isolated vertex: empty row
        assert m[n0] == pytest.approx(ISOLATED_MASS_FRACTION * m[m > 1e-6].mean(), rel=0.5)
    for kind in ("barycentric", "voronoi"):
        assert np.all(np.isfinite(mass_matrix(v2, f2, kind=kind).data))


def test_zero_area_triangle_gives_no_nan():
    v = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    f = np.array([[0, 1, 2]])
    L, M = laplacian_and_mass(v, f)
    assert np.all(np.isfinite(L.toarray())) and np.all(M.diagonal() > 0)
    lengths = np.array([[1.0, 1.0, 5.0]])  # violates the triangle inequality
    assert np.all(np.isfinite(cotan_laplacian_from_lengths(f, lengths, 3).toarray()))
    assert np.all(np.isfinite(mass_from_lengths(f, lengths, 3, kind="voronoi").diagonal()))


def test_errors():
    v, f = _arrays(primitives.icosphere(1))
    with pytest.raises(GeometryError, match="empty"):
        laplacian_and_mass(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(GeometryError, match="no faces"):
        laplacian_and_mass(v, np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(GeometryError, match="face 0"):
        cotan_laplacian(v, np.array([[0, 1, 99]]))
    with pytest.raises(ValueError, match="method"):
        laplacian_and_mass(v, f, method="fem")
    with pytest.raises(ValueError, match="mass"):
        laplacian_and_mass(v, f, mass="lumped")
    with pytest.raises(ValueError, match="voronoi"):
        laplacian_and_mass(v, f, method="robust", mass="voronoi")
    with pytest.raises(ValueError, match="n_neighbors"):
        laplacian_and_mass(v, None, n_neighbors=1)
    with pytest.raises(GeometryError, match="at least 4"):
        laplacian_and_mass(v[:2], None)
    with pytest.raises(GeometryError, match="lengths"):
        cotan_laplacian_from_lengths(f, np.ones((len(f), 2)), len(v))
