"""Geodesic distances against closed forms (sphere, plane), the exact MMP reference and each other."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.geodesics import (
    ExactGeodesicSolver,
    HeatGeodesicSolver,
    exact_geodesic,
    geodesic_distance_blocks,
    geodesic_distance_matrix,
    heat_geodesic,
    mesh_components,
    pairwise_geodesic_distances,
)

from conftest import shared_data_path


def great_circle(verts: np.ndarray, i: int) -> np.ndarray:
    v = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return np.arccos(np.clip(v @ v[i], -1.0, 1.0))


def _rel_err(d, ref, mask):
    return np.abs(d[mask] - ref[mask]) / ref[mask]


# ----------------------------------------------------------------------------- closed forms
def test_heat_sphere_great_circle_converges():
    """Mean relative error of the heat distance to the great-circle distance, decreasing."""
    errs = []
    for sub in (3, 4, 5):
        s = primitives.icosphere(sub)
        solver = HeatGeodesicSolver(s.verts, s.faces)
        src = [0, 17, 100]
        e = []
        for i in src:
            gc = great_circle(s.verts, i)
            e.append(_rel_err(solver.distance(i), gc, gc > 0.2).mean())
        errs.append(float(np.mean(e)))
    assert errs[0] < 0.03 and errs[1] < 0.015 and errs[2] < 0.01, errs
    assert errs[0] > errs[1] > errs[2]


def test_exact_sphere_great_circle_tighter():
    s = primitives.icosphere(4)
    gc = great_circle(s.verts, 5)
    ex = exact_geodesic(s.verts, s.faces, 5)
    heat = HeatGeodesicSolver(s.verts, s.faces).distance(5)
    m = gc > 0.2
    # The polyhedral distance underestimates the sphere's slightly (chords), by < 0.1 %.
    assert _rel_err(ex, gc, m).max() < 1e-3
    assert np.all(ex[m] <= gc[m] + 1e-12)
    assert _rel_err(ex, gc, m).mean() < 0.2 * _rel_err(heat, gc, m).mean()


def test_exact_plane_is_euclidean(plane):
    v = plane.verts
    for src in (0, 40, 84):  # corner and interior vertices; the square is convex
        d = exact_geodesic(v, plane.faces, src)
        np.testing.assert_allclose(d, np.linalg.norm(v - v[src], axis=1), rtol=0, atol=1e-12)


def test_heat_plane_close_to_euclidean(plane):
    v = plane.verts
    src = 84  # interior
    d = HeatGeodesicSolver(v, plane.faces).distance(src)
    eu = np.linalg.norm(v - v[src], axis=1)
    assert d[src] == 0.0
    assert np.mean(np.abs(d - eu)) < 0.04  # side 1, cell 1/12; heat errors grow at the boundary
    assert np.max(np.abs(d - eu)) < 0.12


def test_targets_subset(plane):
    tgt = np.array([3, 0, 99, 3])
    full = exact_geodesic(plane.verts, plane.faces, 10)
    np.testing.assert_array_equal(exact_geodesic(plane.verts, plane.faces, 10, tgt), full[tgt])


def test_multisource_is_min_of_single(sphere):
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    src = [3, 200, 500]
    multi = solver.distance_multisource(src)
    assert np.all(multi[src] == 0)
    # One diffusion from all sources (not a min of single solves): near the nearest great circle.
    gc = np.min([great_circle(sphere.verts, s) for s in src], axis=0)
    assert _rel_err(multi, gc, gc > 0.2).mean() < 0.06
    np.testing.assert_allclose(heat_geodesic(sphere.verts, sphere.faces, src), multi)


def test_point_cloud_heat_sphere(sphere_cloud):
    solver = HeatGeodesicSolver(sphere_cloud.verts)
    assert solver.is_point_cloud and solver.num_verts == 1500
    gc = great_circle(sphere_cloud.verts, 7)
    d = solver.distance(7)
    assert _rel_err(d, gc, gc > 0.2).mean() < 0.05
    assert np.isfinite(d).all()


# ----------------------------------------------------------------------------- real meshes
@pytest.mark.shared_data
@pytest.mark.parametrize("name,bound", [("spot.obj", 0.025), ("fandisk.obj", 0.025)])
def test_heat_vs_exact_real_mesh(name, bound):
    trimesh = pytest.importorskip("trimesh")
    m = trimesh.load(shared_data_path("models", name), process=False)
    # weld the copies of a vertex along texture seams, so that the surface is connected
    v, inv = np.unique(np.asarray(m.vertices, float), axis=0, return_inverse=True)
    f = inv.reshape(-1)[np.asarray(m.faces, np.int64)]
    assert mesh_components(f, len(v))[0] == 1
    solver = HeatGeodesicSolver(v, f)
    exact = ExactGeodesicSolver(v, f)
    errs = []
    for s in (0, len(v) // 2):
        ex = exact.distance(s)
        mask = np.isfinite(ex) & (ex > 0.05 * np.nanmax(ex[np.isfinite(ex)]))
        errs.append(_rel_err(solver.distance(s), ex, mask).mean())
    assert max(errs) < bound, errs


# ----------------------------------------------------------------------------- many sources
def test_matrix_equals_stacked_solves(sphere):
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    src = np.array([5, 1, 77, 5, 300, 2])
    tgt = np.array([0, 9, 600, 5])
    stacked = np.stack([solver.distance(s) for s in src])
    full = geodesic_distance_matrix(solver, src, block_size=4)
    np.testing.assert_array_equal(full, stacked)
    np.testing.assert_array_equal(geodesic_distance_matrix(solver, src, tgt, block_size=4), stacked[:, tgt])


def test_blocks_bounded(sphere):
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    src = np.arange(11)
    seen = []
    for chunk, block in geodesic_distance_blocks(solver, src, block_size=4):
        assert len(chunk) <= 4 and block.shape == (len(chunk), solver.num_verts)
        seen.extend(chunk.tolist())
    assert seen == src.tolist()
    with pytest.raises(ValueError, match="block_size"):
        geodesic_distance_blocks(solver, src, block_size=0)  # raised at the call, not lazily
    with pytest.raises(GeometryError, match="source vertex 5000"):
        geodesic_distance_blocks(solver, [1, 5000])


def test_pairwise_equals_matrix_entries(sphere, rng):
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    a = rng.integers(0, 40, 200)  # many repeated sources
    b = rng.integers(0, sphere.num_verts, 200)
    mat = geodesic_distance_matrix(solver, np.arange(40))
    np.testing.assert_array_equal(pairwise_geodesic_distances(solver, a, b, block_size=7), mat[a, b])
    sym = pairwise_geodesic_distances(solver, a, b, symmetrize=True)
    back = np.array([solver.distance(j)[i] for i, j in zip(a[:10], b[:10])])
    np.testing.assert_allclose(sym[:10], 0.5 * (mat[a[:10], b[:10]] + back))
    assert pairwise_geodesic_distances(solver, [], []).shape == (0,)


def test_pairwise_with_exact_solver(plane):
    solver = ExactGeodesicSolver(plane.verts, plane.faces)
    a, b = np.array([0, 0, 50, 7]), np.array([1, 168, 3, 7])
    eu = np.linalg.norm(plane.verts[a] - plane.verts[b], axis=1)
    np.testing.assert_allclose(pairwise_geodesic_distances(solver, a, b), eu, atol=1e-12)


@pytest.mark.slow
def test_pairwise_on_5k_mesh_matches_single_solves():
    """2000 pairs on a 5k-vertex mesh (one solve per distinct source), spot-checked."""
    s = primitives.icosphere(5)
    v, f = np.asarray(s.verts), np.asarray(s.faces)
    keep = np.flatnonzero(v[:, 2] > -0.05)  # ~5.3k vertices: the upper hemisphere
    fk = f[np.isin(f, keep).all(axis=1)]
    remap = np.full(len(v), -1)
    remap[keep] = np.arange(len(keep))
    solver = HeatGeodesicSolver(v[keep], remap[fk])
    rng = np.random.default_rng(0)
    a = rng.integers(0, len(keep), 2000)
    b = rng.integers(0, len(keep), 2000)
    d = pairwise_geodesic_distances(solver, a, b)
    assert np.isfinite(d).all() and (d >= 0).all()
    for n in (0, 17, 1999):
        assert d[n] == pytest.approx(solver.distance(int(a[n]))[b[n]], rel=1e-12, abs=1e-15)


# ----------------------------------------------------------------------------- degenerate input
def test_single_triangle(triangle):
    np.testing.assert_allclose(exact_geodesic(triangle.verts, triangle.faces, 0), [0, 1, 1])
    np.testing.assert_allclose(exact_geodesic(triangle.verts, triangle.faces, 1), [1, 0, 2**0.5])
    d = HeatGeodesicSolver(triangle.verts, triangle.faces).distance(0)
    assert d[0] == 0 and np.all(np.isfinite(d)) and np.all(d[1:] > 0)
    assert d[1] == pytest.approx(d[2])  # the right triangle is symmetric about the diagonal


def test_disconnected_components_unreachable_inf(triangle):
    v = np.concatenate([triangle.verts, triangle.verts + 5.0, [[9.0, 9.0, 9.0]]])
    f = np.concatenate([triangle.faces, triangle.faces + 3])
    n, labels = mesh_components(f, len(v))
    assert n == 3 and labels[0] == labels[2] != labels[3] != labels[6]
    heat = HeatGeodesicSolver(v, f)
    d = heat.distance(4)
    assert np.all(np.isinf(d[[0, 1, 2, 6]])) and np.all(np.isfinite(d[3:6])) and d[4] == 0
    # the second component alone gives the same values
    alone = HeatGeodesicSolver(triangle.verts, triangle.faces).distance(1)
    np.testing.assert_allclose(d[3:6], alone, rtol=1e-10)
    iso = heat.distance(6)
    assert iso[6] == 0 and np.isinf(np.delete(iso, 6)).all()
    np.testing.assert_allclose(heat.distance_multisource([0, 4])[:6], np.concatenate([heat.distance(0)[:3], d[3:6]]))
    ex = exact_geodesic(v, f, 4)
    np.testing.assert_allclose(ex[3:6], [1, 0, 2**0.5])
    assert np.isinf(ex[[0, 1, 2, 6]]).all()


def test_source_out_of_range_named(sphere):
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    nv = sphere.num_verts
    with pytest.raises(GeometryError, match=f"source vertex {nv} is out of range"):
        solver.distance(nv)
    with pytest.raises(GeometryError, match="source vertex -1"):
        solver.distance(-1)
    with pytest.raises(GeometryError, match="integer"):
        solver.distance(1.5)
    with pytest.raises(GeometryError, match="source vertex 99999"):
        solver.distance_multisource([0, 99999])
    with pytest.raises(GeometryError, match="at least one"):
        solver.distance_multisource([])
    with pytest.raises(GeometryError, match="source vertex 9999"):
        exact_geodesic(sphere.verts, sphere.faces, 9999)
    with pytest.raises(GeometryError, match="target vertex 9999"):
        exact_geodesic(sphere.verts, sphere.faces, 0, [1, 9999])
    with pytest.raises(GeometryError, match="dst vertex 9999"):
        pairwise_geodesic_distances(solver, [0], [9999])
    with pytest.raises(GeometryError, match="same length"):
        pairwise_geodesic_distances(solver, [0, 1], [2])


def test_empty_and_bad_input(triangle):
    with pytest.raises(GeometryError, match="empty"):
        HeatGeodesicSolver(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
    with pytest.raises(GeometryError, match="no faces"):
        HeatGeodesicSolver(triangle.verts, np.zeros((0, 3), np.int64))
    with pytest.raises(GeometryError, match="face 0 references vertex"):
        HeatGeodesicSolver(triangle.verts, [[0, 1, 3]])
    with pytest.raises(GeometryError, match="point cloud"):
        exact_geodesic(triangle.verts, None, 0)
    with pytest.raises(GeometryError, match=r"\(V, 3\)"):
        exact_geodesic(np.zeros((3, 2)), triangle.faces, 0)
    with pytest.raises(ValueError, match="t_coef"):
        HeatGeodesicSolver(triangle.verts, triangle.faces, t_coef=-1.0)
    with pytest.raises(ValueError, match="use_robust"):
        HeatGeodesicSolver(np.random.default_rng(0).normal(size=(20, 3)), None, use_robust=False)


def test_non_manifold_input_is_an_error_not_a_crash():
    """libigl's MMP aborts the interpreter on these meshes; they must be refused first."""
    v = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1.0]])
    fan = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # edge (0, 1) in three faces
    with pytest.raises(GeometryError, match=r"edge \(0, 1\) is shared by 3 faces"):
        exact_geodesic(v, fan, 2)
    with pytest.raises(GeometryError, match=r"edge \(0, 1\)"):
        exact_geodesic(v, np.array([[0, 1, 2], [1, 0, 3], [0, 1, 2]]), 2)  # duplicated face
    with pytest.raises(GeometryError, match="face 0 repeats a vertex"):
        exact_geodesic(v, np.array([[0, 1, 1], [0, 1, 2]]), 2)
    # the heat method copes with a non-manifold edge and with a vertex joining two fans
    d = HeatGeodesicSolver(v, fan).distance(2)
    assert d[2] == 0 and np.isfinite(d).all()
    vb = np.concatenate([v, [[2.0, 2.0, 0.0], [2.0, 3.0, 0.0]]])
    d = HeatGeodesicSolver(vb, np.array([[0, 1, 2], [2, 5, 6]])).distance(0)
    assert np.isfinite(d[[0, 1, 2, 5, 6]]).all() and np.isinf(d[[3, 4]]).all()


@pytest.mark.shared_data
def test_heat_distance_is_never_negative_on_a_faust_registration():
    # the raw heat-method solve from vertex 1403 of this shape gives -2.8e-4 at vertex 1870
    from geodesic_nets.io import load

    s = load(shared_data_path("faust", "tr_reg_093.off"))
    d = HeatGeodesicSolver(s.verts, s.faces).distance(1403)
    assert d.min() == 0.0 and d[1403] == 0.0 and d[1870] >= 0.0
