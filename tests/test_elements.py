"""Elementary quantities against closed forms and libigl."""

from __future__ import annotations

import igl
import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.geometry import (
    boundary_vertex_mask,
    corner_angles,
    corner_angles_from_lengths,
    directed_edges,
    face_areas,
    face_areas_from_lengths,
    face_edge_lengths,
    knn,
    knn_edges,
    undirected_edges,
    vertex_areas,
    vertex_normals,
)


def test_single_triangle(triangle):
    np.testing.assert_allclose(face_areas(triangle.verts, triangle.faces), [0.5])
    np.testing.assert_allclose(face_edge_lengths(triangle.verts, triangle.faces), [[2**0.5, 1, 1]])
    np.testing.assert_allclose(corner_angles(triangle.verts, triangle.faces), [[np.pi / 2, np.pi / 4, np.pi / 4]])
    src, dst = directed_edges(triangle.faces, 3)
    assert list(zip(src, dst)) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert boundary_vertex_mask(triangle.faces, 3).all()


def test_areas_angles_and_lengths_agree(torus_mesh):
    v, f = torus_mesh.verts, torus_mesh.faces
    lengths = face_edge_lengths(v, f)
    np.testing.assert_allclose(face_areas_from_lengths(lengths), face_areas(v, f), rtol=1e-10)
    np.testing.assert_allclose(corner_angles_from_lengths(lengths), corner_angles(v, f), atol=1e-9)
    np.testing.assert_allclose(corner_angles(v, f).sum(1), np.pi, atol=1e-12)
    np.testing.assert_allclose(face_areas(v, f), igl.doublearea(v, f) / 2, rtol=1e-12)
    assert vertex_areas(v, f).sum() == pytest.approx(face_areas(v, f).sum(), rel=1e-12)
    # Torus of revolution: area 4 pi^2 R r, approached under refinement.
    fine = primitives.torus(160, 80)
    assert face_areas(fine.verts, fine.faces).sum() == pytest.approx(4 * np.pi**2 * 0.35, rel=2e-3)


def test_euler_characteristic_of_generated_meshes():
    for s, chi in [(primitives.icosphere(3), 2), (primitives.uv_sphere(), 2), (primitives.torus(), 0),
                   (primitives.plane_grid(7), 1)]:
        e = len(undirected_edges(s.faces))
        assert s.num_verts - e + s.num_faces == chi, s.name


def test_vertex_normals_of_sphere_are_radial(sphere):
    n = vertex_normals(sphere.verts, sphere.faces)
    np.testing.assert_allclose(np.einsum("ij,ij->i", n, sphere.verts), 1.0, atol=2e-3)
    n_area = vertex_normals(sphere.verts, sphere.faces, weighting="area")
    np.testing.assert_allclose(np.linalg.norm(n_area, axis=1), 1.0)
    with pytest.raises(ValueError, match="weighting"):
        vertex_normals(sphere.verts, sphere.faces, weighting="bogus")


def test_knn_excludes_self_and_is_sorted(rng):
    pts = rng.normal(size=(200, 3))
    idx, dist = knn(pts, 8)
    assert idx.shape == (200, 8)
    assert not (idx == np.arange(200)[:, None]).any()
    assert np.all(np.diff(dist, axis=1) >= 0)
    brute = np.argsort(((pts[:, None] - pts[None]) ** 2).sum(-1), axis=1)[:, 1:9]
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(brute, 1))
    src, dst = knn_edges(pts, 8)
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert all((b, a) in pairs for a, b in pairs)
