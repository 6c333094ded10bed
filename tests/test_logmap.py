"""Log maps in the package's frames: plane (exact), sphere (closed form), gauge, point clouds."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.connection import levi_civita_connection
from geodesic_nets.geometry.frames import vertex_frames
from geodesic_nets.geometry.logmap import LogMapSolver, log_map


def planar_coords(verts, frames, source):
    d = verts - verts[source]
    return np.stack([d @ frames.basis_x[source], d @ frames.basis_y[source]], axis=1)


def sphere_log(verts, frames, source):
    """Exact log map of the round sphere at ``source`` in ``frames`` (direction: projected chord)."""
    v = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    gc = np.arccos(np.clip(v @ v[source], -1.0, 1.0))
    n = frames.normals[source]
    d = verts - verts[source]
    t = d - (d @ n)[:, None] * n
    xy = np.stack([t @ frames.basis_x[source], t @ frames.basis_y[source]], axis=1)
    norm = np.linalg.norm(xy, axis=1)
    return xy * np.divide(gc, norm, out=np.zeros_like(gc), where=norm > 0)[:, None], gc


def as_complex(xy):
    return xy[:, 0] + 1j * xy[:, 1]


@pytest.fixture(scope="module")
def plane16():
    return primitives.plane_grid(16, jitter=0.3)


@pytest.fixture(scope="module")
def sphere4():
    return primitives.icosphere(4)


def test_plane_log_map_is_planar(plane16):
    v = np.asarray(plane16.verts)
    solver = LogMapSolver(v, plane16.faces)
    centre = int(np.argmin(np.linalg.norm(v, axis=1)))
    edge = int(np.flatnonzero((np.abs(v[:, 1] + 0.5) < 1e-12) & (np.abs(v[:, 0]) < 0.1))[0])  # on a side
    # interior source: exact up to the solver tolerance; a source on a side of the square is
    # converted with geometry-central's half-disk angles (exact there) but the heat-based log
    # map itself is less accurate near the boundary
    for src, tol in ((centre, 1e-5), (edge, 2e-3)):
        ref = planar_coords(v, solver.frames, src)
        r = np.linalg.norm(ref, axis=1)
        near = (r > 0) & (r < 0.25)  # the heat-based log map degrades near the square's corners
        err = np.linalg.norm(solver.log_map(src) - ref, axis=1)
        assert (err[near] / r[near]).max() < tol, src
        assert np.all(solver.log_map(src)[src] == 0)


def test_one_ring_matches_edge_angles(sphere4):
    solver = LogMapSolver(sphere4.verts, sphere4.faces)
    con = solver.connection
    for src in (0, 5, 100, 2000):
        lm = solver.log_map(src)
        e = np.flatnonzero(con.edge_src == src)
        ref = con.edge_length[e] * np.exp(1j * con.edge_angle[e])
        got = as_complex(lm[con.edge_dst[e]])
        assert np.abs(np.angle(got / ref)).max() < 1e-3
        np.testing.assert_allclose(np.abs(got), np.abs(ref), rtol=2e-2)


def test_sphere_norm_is_geodesic_distance(sphere4):
    solver = LogMapSolver(sphere4.verts, sphere4.faces)
    v = np.asarray(sphere4.verts)
    for src in (0, 700, 1500):
        lm = solver.log_map(src)
        ex, gc = sphere_log(v, solver.frames, src)
        m = (gc > 0.1) & (gc < 2.5)
        assert np.mean(np.abs(np.linalg.norm(lm, axis=1) - gc)[m] / gc[m]) < 0.01
        assert np.abs(np.angle(as_complex(lm)[m] / as_complex(ex)[m])).max() < 0.02


def test_gauge_rotation_rotates_log_map(sphere4, rng):
    v, f = np.asarray(sphere4.verts), np.asarray(sphere4.faces)
    frames = vertex_frames(v, f)
    phi = rng.uniform(-np.pi, np.pi, len(v))
    base = LogMapSolver(v, f, frames=frames)
    rot_frames = frames.rotated(phi)
    rotated = LogMapSolver(v, f, frames=rot_frames, connection=levi_civita_connection(v, f, rot_frames))
    for src in (3, 400):
        z0, z1 = as_complex(base.log_map(src)), as_complex(rotated.log_map(src))
        np.testing.assert_allclose(z1, z0 * np.exp(-1j * phi[src]), atol=1e-10)
        shift = rotated.frame_conversion(src)[2] - base.frame_conversion(src)[2] + phi[src]
        assert abs(np.angle(np.exp(1j * shift))) < 1e-9


def test_point_cloud_log_map_close_to_mesh(sphere_cloud, sphere4):
    pc = LogMapSolver(sphere_cloud.verts)
    mesh = LogMapSolver(sphere4.verts, sphere4.faces)
    bound = {}
    for name, solver, v in (("cloud", pc, sphere_cloud.verts), ("mesh", mesh, sphere4.verts)):
        errs_r, errs_a = [], []
        for src in (0, 700, 1111):
            lm = solver.log_map(src)
            ex, gc = sphere_log(np.asarray(v), solver.frames, src)
            m = (gc > 0.1) & (gc < 1.0)
            errs_r.append(np.mean(np.abs(np.linalg.norm(lm, axis=1) - gc)[m] / gc[m]))
            errs_a.append(np.mean(np.abs(np.angle(as_complex(lm)[m] / as_complex(ex)[m]))))
        bound[name] = (max(errs_r), max(errs_a))
    # potpourri3d's point-cloud log map is noisier (~3 % in length, ~0.1 rad in angle) than the
    # mesh one, but must be in the same frame: no reflection (normals it flips) nor rotation.
    assert bound["cloud"][0] < 0.05 and bound["cloud"][1] < 0.15, bound
    assert bound["mesh"][0] < 0.01 and bound["mesh"][1] < 0.005, bound


def test_log_map_function_and_components(triangle):
    v = np.concatenate([triangle.verts, triangle.verts + 3.0])
    f = np.concatenate([triangle.faces, triangle.faces + 3])
    solver = LogMapSolver(v, f)
    lm = solver.log_map(3)  # the right-angle corner of the second triangle
    assert np.isnan(lm[:3]).all() and np.isfinite(lm[3:]).all()
    np.testing.assert_allclose(np.linalg.norm(lm[3:], axis=1), [0, 1, 1], rtol=1e-6)
    # the connection's boundary convention is honoured: the two edges are pi / 2 apart with the
    # true angle sum ("wedge", the default), pi apart on the half disk
    assert np.angle(as_complex(lm[4:5]) / as_complex(lm[5:6]))[0] == pytest.approx(-np.pi / 2)
    half = LogMapSolver(
        v, f, frames=solver.frames, connection=levi_civita_connection(v, f, solver.frames, boundary="half_disk")
    ).log_map(3)
    assert abs(np.angle(as_complex(half[4:5]) / as_complex(half[5:6]))[0]) == pytest.approx(np.pi)
    np.testing.assert_array_equal(log_map(v, f, 3), lm)
    for lmap, con in ((lm, solver.connection), (half, None)):
        con = con or levi_civita_connection(v, f, solver.frames, boundary="half_disk")
        e = np.flatnonzero(con.edge_src == 3)
        np.testing.assert_allclose(as_complex(lmap[con.edge_dst[e]]), np.exp(1j * con.edge_angle[e]), atol=1e-6)


def test_errors(triangle, sphere_cloud):
    solver = LogMapSolver(triangle.verts, triangle.faces)
    with pytest.raises(GeometryError, match="source vertex 3 is out of range"):
        solver.log_map(3)
    with pytest.raises(ValueError, match="strategy"):
        LogMapSolver(triangle.verts, triangle.faces, strategy="fast")
    with pytest.raises(ValueError, match="connection only applies to meshes"):
        LogMapSolver(sphere_cloud.verts, None, connection=solver.connection)
    with pytest.raises(GeometryError, match="empty"):
        LogMapSolver(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
    with pytest.raises(GeometryError, match="frames have 3 vertices"):
        LogMapSolver(sphere_cloud.verts, None, frames=vertex_frames(triangle.verts, triangle.faces))


def test_non_manifold_mesh_is_refused():
    v = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1.0], [2, 2, 0], [2, 3, 0]])
    with pytest.raises(GeometryError, match=r"edge \(0, 1\) is shared by 3 faces"):
        LogMapSolver(v, np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    # a vertex joining two fans (bow tie): geometry-central refuses it, we say so
    bowtie = LogMapSolver(v, np.array([[0, 1, 2], [2, 5, 6]]))
    with pytest.raises(GeometryError, match="manifold"):
        bowtie.log_map(0)
