"""Tangent frames: orthonormality, orientation, rigid motions, renumbering, point clouds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from geodesic_nets import primitives
from geodesic_nets.errors import InvalidSurfaceError
from geodesic_nets.geometry.elements import directed_edges, vertex_normals
from geodesic_nets.geometry.frames import TangentFrames, reference_neighbors, vertex_frames
from geodesic_nets.geometry.neighbors import knn


def assert_orthonormal_right_handed(fr: TangentFrames) -> None:
    for a in (fr.normals, fr.basis_x, fr.basis_y):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ij,ij->i", fr.normals, fr.basis_x), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ij,ij->i", fr.normals, fr.basis_y), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ij,ij->i", fr.basis_x, fr.basis_y), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.cross(fr.basis_x, fr.basis_y), fr.normals, atol=1e-12)


@pytest.mark.parametrize("name", ["sphere", "plane", "torus_mesh", "triangle"])
def test_mesh_frames_orthonormal(name, request):
    s = request.getfixturevalue(name)
    fr = vertex_frames(s.verts, s.faces)
    assert_orthonormal_right_handed(fr)
    np.testing.assert_allclose(fr.normals, vertex_normals(s.verts, s.faces), atol=1e-12)


def test_sphere_normals_outward(sphere):
    fr = vertex_frames(sphere.verts, sphere.faces)
    radial = np.einsum("ij,ij->i", fr.normals, sphere.verts)
    assert radial.min() > 1 - 1e-4


def test_x_axis_is_projected_reference_edge(sphere):
    v, f = sphere.verts, sphere.faces
    fr = vertex_frames(v, f)
    ref = reference_neighbors(v, f)
    d = v[ref] - v
    # the reference edge is the longest incident edge
    src, dst = directed_edges(f, len(v))
    longest = np.zeros(len(v))
    np.maximum.at(longest, src, np.linalg.norm(v[dst] - v[src], axis=1))
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), longest, rtol=1e-9)
    loc = fr.to_local(d)
    assert np.all(loc[:, 0] > 0)
    np.testing.assert_allclose(loc[:, 1], 0.0, atol=1e-14)


def test_reference_tie_breaks_by_smallest_index():
    # Regular grid: many exact ties; the chosen neighbour is the smallest among the longest.
    s = primitives.plane_grid(4)
    src, dst = directed_edges(s.faces, len(s.verts))
    ln = np.linalg.norm(s.verts[dst] - s.verts[src], axis=1)
    ref = reference_neighbors(s.verts, s.faces)
    for i in range(len(s.verts)):  # small reference loop in the test only
        m = src == i
        cand = dst[m][ln[m] >= ln[m].max() * (1 - 1e-9)]
        assert ref[i] == cand.min()


def test_rigid_motion_rotates_frames(torus_mesh):
    v, f = torus_mesh.verts, torus_mesh.faces
    r = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    fr = vertex_frames(v, f)
    fr2 = vertex_frames(v @ r.T + np.array([1.0, -2.0, 0.5]), f)
    for a, b in ((fr.normals, fr2.normals), (fr.basis_x, fr2.basis_x), (fr.basis_y, fr2.basis_y)):
        np.testing.assert_allclose(a @ r.T, b, atol=1e-9)


def test_vertex_renumbering_permutes_frames(rng):
    s = primitives.plane_grid(8, jitter=0.3)  # jitter breaks the length ties
    perm = rng.permutation(len(s.verts))
    inv = np.argsort(perm)
    fr = vertex_frames(s.verts, s.faces)
    fr2 = vertex_frames(s.verts[perm], inv[s.faces])
    np.testing.assert_allclose(fr2.normals, fr.normals[perm], atol=1e-12)
    # away from ties (the unjittered grid corners have two longest edges)
    src, dst = directed_edges(s.faces, len(s.verts))
    ln = np.linalg.norm(s.verts[dst] - s.verts[src], axis=1)
    longest = np.zeros(len(s.verts))
    np.maximum.at(longest, src, ln)
    n_longest = np.bincount(src[ln >= longest[src] * (1 - 1e-6)], minlength=len(s.verts))
    unique = n_longest[perm] == 1
    assert unique.sum() > 0.9 * len(s.verts)
    np.testing.assert_allclose(fr2.basis_x[unique], fr.basis_x[perm][unique], atol=1e-12)


def test_rotated_and_local_world(sphere, rng):
    fr = vertex_frames(sphere.verts, sphere.faces)
    phi = rng.uniform(-np.pi, np.pi, len(fr.normals))
    fr2 = fr.rotated(phi)
    assert_orthonormal_right_handed(fr2)
    # new x axis has polar angle phi in the old frame
    loc = fr.to_local(fr2.basis_x)
    np.testing.assert_allclose(np.arctan2(loc[:, 1], loc[:, 0]), phi, atol=1e-12)
    # a vector's polar angle decreases by phi
    coords = rng.normal(size=(len(phi), 2))
    w = fr.to_world(coords)
    np.testing.assert_allclose(fr.to_local(w), coords, atol=1e-12)
    c2 = fr2.to_local(w)
    z1, z2 = coords[:, 0] + 1j * coords[:, 1], c2[:, 0] + 1j * c2[:, 1]
    np.testing.assert_allclose(z2, z1 * np.exp(-1j * phi), atol=1e-12)
    with pytest.raises(ValueError):
        fr.rotated(phi[:-1])


def test_isolated_vertex_and_degenerate_input_fallback():
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5], [0.5, 0.0, 0.0]])
    f = np.array([[0, 1, 2], [0, 4, 1]])  # vertex 3 isolated, face 1 has zero area
    fr = vertex_frames(v, f)
    assert_orthonormal_right_handed(fr)
    np.testing.assert_allclose(fr.normals[3], [0, 0, 1])
    fr0 = vertex_frames(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert fr0.normals.shape == (0, 3)
    with pytest.raises(InvalidSurfaceError):
        vertex_frames(v, np.array([[0, 1, 7]]))
    with pytest.raises(ValueError):
        vertex_frames(v, f, n_neighbors=0)


def test_point_cloud_normals_radial_and_oriented(sphere_cloud):
    v = sphere_cloud.verts
    fr = vertex_frames(v, None, n_neighbors=20)
    assert_orthonormal_right_handed(fr)
    radial = np.einsum("ij,ij->i", fr.normals, v / np.linalg.norm(v, axis=1, keepdims=True))
    assert radial.min() > 0.99  # all outward: consistent orientation
    # x axis towards the nearest neighbour
    idx, _ = knn(v, 1)
    loc = fr.to_local(v[idx[:, 0]] - v)
    assert np.all(loc[:, 0] > 0)
    np.testing.assert_allclose(loc[:, 1], 0.0, atol=1e-12)


def test_point_cloud_orientation_two_components_and_torus(torus_mesh):
    # Two spheres far apart: each outward from its own centre; a torus: outward from its tube.
    c = primitives.sphere_point_cloud(600).verts
    v = np.concatenate([c, 0.5 * c + np.array([10.0, 0, 0])])
    fr = vertex_frames(v)
    centre = np.where(np.arange(len(v))[:, None] < 600, 0.0, np.array([10.0, 0, 0]))
    assert np.einsum("ij,ij->i", fr.normals, v - centre).min() > 0
    t = torus_mesh.verts
    fr_t = vertex_frames(t, n_neighbors=12)
    ring = t.copy()
    ring[:, 2] = 0
    ring *= 1.0 / np.linalg.norm(ring, axis=1, keepdims=True)
    out = t - ring  # from the tube's centre circle
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", fr_t.normals, out).min() > 0.9


def test_point_cloud_rigid_motion(sphere_cloud):
    v = sphere_cloud.verts[:500]
    r = Rotation.from_euler("zyx", [0.7, 0.2, -0.4]).as_matrix()
    fr, fr2 = vertex_frames(v), vertex_frames(v @ r.T + 3.0)
    np.testing.assert_allclose(fr.normals @ r.T, fr2.normals, atol=1e-8)
    np.testing.assert_allclose(fr.basis_x @ r.T, fr2.basis_x, atol=1e-8)


def test_tiny_point_clouds_never_nan():
    for n in (0, 1, 2, 3):
        fr = vertex_frames(np.arange(3 * n, dtype=float).reshape(n, 3) ** 1.5)
        assert fr.normals.shape == (n, 3)
        if n:
            assert_orthonormal_right_handed(fr)
