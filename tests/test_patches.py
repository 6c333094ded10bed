"""Geodesic polar patches: exact on a plane, close to the log map on a sphere, equivariances."""

from __future__ import annotations


import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.connection import levi_civita_connection
from geodesic_nets.geometry.frames import TangentFrames, vertex_frames
from geodesic_nets.geometry.logmap import LogMapSolver
from geodesic_nets.geometry.patches import GeodesicPatches, geodesic_patches


def _setup(surface, **kw):
    v, f = np.asarray(surface.verts), None if surface.faces is None else np.asarray(surface.faces)
    frames = vertex_frames(v, f)
    return v, f, frames, levi_civita_connection(v, f, frames, **kw)


def planar_coords(v, frames, center, neighbor):
    d = v[neighbor] - v[center]
    return np.stack(
        [np.einsum("ij,ij->i", d, frames.basis_x[center]), np.einsum("ij,ij->i", d, frames.basis_y[center])], 1
    )


def patch_dict(p: GeodesicPatches, c: int) -> dict[int, tuple[float, float]]:
    sl = slice(p.offsets[c], p.offsets[c + 1])
    return {int(q): (r, t) for q, r, t in zip(p.neighbor[sl], p.rho[sl], p.theta[sl])}


def bumpy(surface, seed=0, amount=0.02):
    """Random radial/normal jitter: breaks the symmetries that make rho tie exactly."""
    v = np.asarray(surface.verts)
    noise = np.random.default_rng(seed).uniform(-amount, amount, (len(v), 3))
    return type(surface)(v + noise * np.abs(v).max(), surface.faces)


@pytest.fixture(scope="module")
def plane20():
    return primitives.plane_grid(20, jitter=0.3)


@pytest.fixture(scope="module")
def sphere4():
    return primitives.icosphere(4)


# ----------------------------------------------------------------------------- structure
def test_structure_and_padding(plane20):
    v, f, frames, con = _setup(plane20)
    p = geodesic_patches(v, f, frames, con, k=12)
    nv = len(v)
    assert p.num_verts == nv and len(p) == 12 * nv
    np.testing.assert_array_equal(p.offsets, 12 * np.arange(nv + 1))
    assert np.all(np.diff(p.center) >= 0)
    first = p.offsets[:-1]
    np.testing.assert_array_equal(p.neighbor[first], np.arange(nv))
    assert np.all(p.rho[first] == 0) and np.all(p.theta[first] == 0)
    rest = np.ones(len(p), bool)
    rest[first] = False
    assert np.all(p.rho[rest] > 0)
    assert np.all((p.theta > -np.pi) & (p.theta <= np.pi))
    same = p.center[1:] == p.center[:-1]
    assert np.all(np.diff(p.rho)[same] >= 0)  # sorted by rho within a patch
    for c in (0, 100, 300):  # no duplicates
        assert len(set(p.neighbor[p.offsets[c] : p.offsets[c + 1]].tolist())) == 12
    index, rho, theta, mask = p.to_padded()
    assert index.shape == rho.shape == theta.shape == mask.shape == (nv, 12) and mask.all()
    np.testing.assert_array_equal(index.ravel(), p.neighbor)
    index, rho, theta, mask = p.to_padded(max_size=15)
    assert index.shape == (nv, 15) and not mask[:, 12:].any()
    np.testing.assert_array_equal(index[:, 12:], np.repeat(np.arange(nv)[:, None], 3, 1))
    assert np.all(rho[:, 12:] == 0)


# ----------------------------------------------------------------------------- plane: exact
def test_plane_radius_exact(plane20):
    v, f, frames, con = _setup(plane20)
    p = geodesic_patches(v, f, frames, con, radius=0.16)
    ref = planar_coords(v, frames, p.center, p.neighbor)
    # with the true angle sum at boundary vertices the whole (convex) square is flat: every patch
    np.testing.assert_allclose(p.coords(), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.rho, np.linalg.norm(ref, axis=1), rtol=0, atol=1e-12)
    # exactly the vertices within the radius (Euclidean = geodesic on a convex domain)
    for c in (0, 17, 220, 440):
        d = np.linalg.norm(v - v[c], axis=1)
        assert set(p.neighbor[p.offsets[c] : p.offsets[c + 1]].tolist()) == set(np.flatnonzero(d <= 0.16).tolist())


def test_plane_half_disk_exact_for_interior(plane20):
    """geometry-central's half-disk boundary angles bend the plane at its corners only."""
    v, f, frames, con = _setup(plane20, boundary="half_disk")
    p = geodesic_patches(v, f, frames, con, radius=0.16)
    ref = planar_coords(v, frames, p.center, p.neighbor)
    inner = np.all(np.abs(v[p.center, :2]) < 0.5 - 0.2, axis=1)  # patches away from the boundary
    np.testing.assert_allclose(p.coords()[inner], ref[inner], rtol=0, atol=1e-12)


def test_plane_k_nearest(plane20):
    v, f, frames, con = _setup(plane20)
    k = 20
    p = geodesic_patches(v, f, frames, con, k=k)
    np.testing.assert_allclose(p.coords(), planar_coords(v, frames, p.center, p.neighbor), atol=1e-12)
    for c in np.flatnonzero(np.all(np.abs(v[:, :2]) < 0.3, axis=1)):
        d = np.linalg.norm(v - v[c], axis=1)
        expected = set(np.argsort(d, kind="stable")[:k].tolist())
        assert set(p.neighbor[p.offsets[c] : p.offsets[c + 1]].tolist()) == expected
    both = geodesic_patches(v, f, frames, con, k=k, radius=0.1)
    assert np.all(both.sizes <= k) and np.all(both.rho <= 0.1)
    assert both.sizes.min() < k


# ----------------------------------------------------------------------------- sphere
def test_sphere_matches_log_map(sphere4):
    v, f, frames, con = _setup(sphere4)
    p = geodesic_patches(v, f, frames, con, radius=0.3)
    solver = LogMapSolver(v, f, frames=frames, connection=con)
    for c in (0, 11, 200, 1000, 2500):
        sl = slice(p.offsets[c] + 1, p.offsets[c + 1])
        q = p.neighbor[sl]
        lm = solver.log_map(c)[q]
        z = lm[:, 0] + 1j * lm[:, 1]
        zp = p.rho[sl] * np.exp(1j * p.theta[sl])
        gc = np.arccos(np.clip(v[q] @ v[c], -1, 1))
        assert np.max(np.abs(p.rho[sl] - gc) / gc) < 0.01
        assert np.max(np.abs(p.rho[sl] - np.abs(z)) / np.abs(z)) < 0.02
        assert np.max(np.abs(np.angle(zp / z))) < 0.02


@pytest.mark.shared_data
def test_real_mesh_rho_vs_exact_geodesic():
    trimesh = pytest.importorskip("trimesh")
    from conftest import shared_data_path

    from geodesic_nets.geometry.geodesics import ExactGeodesicSolver

    m = trimesh.load(shared_data_path("models", "spot.obj"), process=False)
    v, inv = np.unique(np.asarray(m.vertices, float), axis=0, return_inverse=True)  # weld seams
    f = inv.reshape(-1)[np.asarray(m.faces, np.int64)]
    frames = vertex_frames(v, f)
    con = levi_civita_connection(v, f, frames)
    p = geodesic_patches(v, f, frames, con, radius=4 * con.edge_length.mean())
    exact = ExactGeodesicSolver(v, f)
    med = []
    for c in range(0, len(v), len(v) // 8):
        sl = slice(p.offsets[c] + 1, p.offsets[c + 1])
        d = exact.distance(c, p.neighbor[sl])
        med.append(np.median(np.abs(p.rho[sl] - d) / d))
    assert max(med) < 0.03 and np.mean(med) < 0.01, med


def test_point_cloud_patches(sphere_cloud):
    v, f, frames, con = _setup(sphere_cloud)
    p = geodesic_patches(v, None, frames, con, k=16)
    assert np.all(p.sizes == 16)
    gc = np.arccos(np.clip(np.einsum("ij,ij->i", v[p.center], v[p.neighbor]), -1, 1))
    m = p.rho > 0
    assert np.mean(np.abs(p.rho[m] - gc[m]) / gc[m]) < 0.05


# ----------------------------------------------------------------------------- equivariance
def test_gauge_rotation_shifts_theta(rng):
    v, f, frames, con = _setup(bumpy(primitives.icosphere(3)))
    phi = rng.uniform(-np.pi, np.pi, len(v))
    rot = frames.rotated(phi)
    p0 = geodesic_patches(v, f, frames, con, k=16)
    p1 = geodesic_patches(v, f, rot, levi_civita_connection(v, f, rot), k=16)
    np.testing.assert_array_equal(p1.neighbor, p0.neighbor)
    np.testing.assert_allclose(p1.rho, p0.rho, rtol=0, atol=1e-12)
    shift = np.angle(np.exp(1j * (p1.theta - p0.theta + phi[p0.center])))
    np.testing.assert_allclose(shift[p0.rho > 0], 0.0, atol=1e-9)


def test_vertex_permutation_permutes_patches(rng):
    v, f, frames, con = _setup(bumpy(primitives.icosphere(2)))
    perm = rng.permutation(len(v))  # new vertex i is old vertex perm[i]
    inv = np.argsort(perm)
    v2, f2 = v[perm], inv[f]
    fr2 = TangentFrames(frames.normals[perm], frames.basis_x[perm], frames.basis_y[perm])
    p0 = geodesic_patches(v, f, frames, con, k=10)
    p1 = geodesic_patches(v2, f2, fr2, levi_civita_connection(v2, f2, fr2), k=10)
    for i in range(len(v)):
        a = patch_dict(p1, i)
        b = patch_dict(p0, int(perm[i]))
        assert {int(perm[q]) for q in a} == set(b)
        for q, (r, t) in a.items():
            rb, tb = b[int(perm[q])]
            assert r == pytest.approx(rb, abs=1e-12) and abs(np.angle(np.exp(1j * (t - tb)))) < 1e-9


def test_rigid_motion_invariance(rng):
    s = bumpy(primitives.torus(30, 15), amount=0.005)
    v, f, frames, con = _setup(s)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.linalg.det(q))  # proper rotation
    v2 = v @ rot.T + np.array([0.3, -2.0, 5.0])
    fr2 = TangentFrames(frames.normals @ rot.T, frames.basis_x @ rot.T, frames.basis_y @ rot.T)
    p0 = geodesic_patches(v, f, frames, con, radius=0.25)
    p1 = geodesic_patches(v2, f, fr2, levi_civita_connection(v2, f, fr2), radius=0.25)
    np.testing.assert_array_equal(p1.neighbor, p0.neighbor)
    np.testing.assert_allclose(p1.rho, p0.rho, atol=1e-12)
    np.testing.assert_allclose(np.angle(np.exp(1j * (p1.theta - p0.theta))), 0.0, atol=1e-9)
    # the default frames follow the mesh too (reference edges are intrinsic choices)
    p2 = geodesic_patches(v2, f, k=8)
    p3 = geodesic_patches(v, f, k=8)
    np.testing.assert_allclose(p2.rho, p3.rho, atol=1e-12)


# ----------------------------------------------------------------------------- degenerate input
def test_degenerate_inputs(triangle):
    p = geodesic_patches(triangle.verts, triangle.faces, k=5)
    assert np.all(p.sizes == 3)
    np.testing.assert_allclose(p.rho[p.offsets[0] : p.offsets[1]], [0, 1, 1])
    p = geodesic_patches(triangle.verts, triangle.faces, radius=0.5)
    assert np.all(p.sizes == 1)
    v = np.concatenate([triangle.verts, triangle.verts + 3.0, [[9.0, 9.0, 9.0]]])
    f = np.concatenate([triangle.faces, triangle.faces + 3])
    p = geodesic_patches(v, f, k=4)
    np.testing.assert_array_equal(p.sizes, [3, 3, 3, 3, 3, 3, 1])
    assert set(p.neighbor[p.offsets[4] : p.offsets[5]].tolist()) == {3, 4, 5}
    with pytest.raises(ValueError, match="k .*or radius"):
        geodesic_patches(triangle.verts, triangle.faces)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        geodesic_patches(triangle.verts, triangle.faces, k=0)
    with pytest.raises(ValueError, match="radius"):
        geodesic_patches(triangle.verts, triangle.faces, radius=-1.0)
    with pytest.raises(GeometryError, match="empty"):
        geodesic_patches(np.zeros((0, 3)), np.zeros((0, 3), np.int64), k=3)
    with pytest.raises(GeometryError, match="frames have"):
        geodesic_patches(v, f, vertex_frames(triangle.verts, triangle.faces), k=3)


def test_max_rings(plane20):
    v, f, frames, con = _setup(plane20)
    p = geodesic_patches(v, f, frames, con, radius=10.0, max_rings=2)
    assert p.sizes.max() <= 19  # at most two rings of a valence-6 grid


def test_every_patch_of_a_16k_grid_is_full():
    """k = 32 on a 16k-vertex grid: every vertex gets exactly k entries, the centre first."""
    s = primitives.plane_grid(127, jitter=0.2)
    v, f, frames, con = _setup(s)
    p = geodesic_patches(v, f, frames, con, k=32)
    assert np.all(p.sizes == 32)
    np.testing.assert_array_equal(p.neighbor[p.offsets[:-1]], np.arange(len(v)))


def test_edge_expansion_paths_agree():
    """The padded-table and the repeat expansions list the same edges (uneven degrees: poles)."""
    from geodesic_nets.geometry.patches import _EdgeTable

    s = primitives.uv_sphere(8, 16)
    v, f, frames, con = _setup(s)
    edges = _EdgeTable(len(v), con)
    assert edges.table is None  # pole degree 16 > 2 * mean + 2
    verts = np.array([0, 5, 5, len(v) - 1, 40])
    rep, e = edges.expand(verts)
    edges.table = np.full((len(v), edges.max_deg), -1, dtype=np.int64)
    src = con.edge_src
    edges.table[src, np.arange(len(src)) - edges.starts[src]] = np.arange(len(src))
    rep2, e2 = edges.expand(verts)
    np.testing.assert_array_equal(rep, rep2)
    np.testing.assert_array_equal(e, e2)
    np.testing.assert_array_equal(con.edge_src[e], verts[rep])
    p = geodesic_patches(v, f, frames, con, k=12)
    assert np.all(p.sizes == 12) and np.all(p.neighbor[p.offsets[:-1]] == np.arange(len(v)))
