from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import GeodesicNetsError, InvalidSurfaceError, Surface, primitives


def test_surface_is_immutable_and_typed(triangle):
    assert triangle.verts.dtype == np.float64 and triangle.faces.dtype == np.int64
    with pytest.raises(ValueError):
        triangle.verts[0, 0] = 5.0
    with pytest.raises(AttributeError):
        triangle.foo = 1


def test_surface_copies_input():
    v = np.zeros((3, 3))
    s = Surface(v, [[0, 1, 2]])
    v[0, 0] = 7.0
    assert s.verts[0, 0] == 0.0


@pytest.mark.parametrize(
    "verts, faces, match",
    [
        (np.zeros((3, 2)), None, r"shape \(V, 3\)"),
        ([[0, 0, 0], [1, 0, np.nan], [0, 1, 0]], [[0, 1, 2]], "vertex 1 has a non-finite"),
        (np.zeros((3, 3)), [[0, 1, 3]], "face 0 references vertex"),
        (np.zeros((3, 3)), [[0, 1, -1]], "face 0 references vertex"),
        (np.zeros((3, 3)), [[0, 1]], r"shape \(F, 3\)"),
        (np.zeros((3, 3)), [[0.5, 1, 2]], "not integers"),
        ([["a", "b", "c"]], None, "not numeric"),
    ],
)
def test_surface_rejects_bad_arrays_with_clear_message(verts, faces, match):
    with pytest.raises(InvalidSurfaceError, match=match) as info:
        Surface(verts, faces, name="bad.obj")
    assert isinstance(info.value, GeodesicNetsError)
    assert "bad.obj" in str(info.value)


def test_empty_surface_and_point_cloud():
    s = Surface(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    assert s.num_verts == 0 and s.num_faces == 0 and not s.is_point_cloud
    pc = Surface(np.random.default_rng(0).normal(size=(10, 3)))
    assert pc.is_point_cloud and pc.faces is None and pc.num_faces == 0


def test_geometry_hash_tracks_exact_geometry(sphere):
    same = Surface(sphere.verts.copy(), sphere.faces.copy(), name="other name")
    assert same.geometry_hash() == sphere.geometry_hash() and same == sphere
    moved = sphere.with_verts(sphere.verts + 1e-12)
    assert moved.geometry_hash() != sphere.geometry_hash()
    as_cloud = Surface(sphere.verts)
    assert as_cloud.geometry_hash() != sphere.geometry_hash()


def test_trimesh_round_trip_keeps_vertex_order(sphere):
    tm = sphere.to_trimesh()
    back = Surface.from_trimesh(tm)
    np.testing.assert_array_equal(back.verts, sphere.verts)
    np.testing.assert_array_equal(back.faces, sphere.faces)
    pc = primitives.sphere_point_cloud(50)
    assert Surface.from_trimesh(pc.to_trimesh()).is_point_cloud


def test_pyvista_round_trip_keeps_vertex_order(sphere):
    pytest.importorskip("pyvista")
    back = Surface.from_pyvista(sphere.to_pyvista())
    np.testing.assert_array_equal(back.verts, sphere.verts)
    np.testing.assert_array_equal(back.faces, sphere.faces)
    pc = primitives.sphere_point_cloud(50)
    assert Surface.from_pyvista(pc.to_pyvista()).is_point_cloud
