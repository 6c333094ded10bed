"""repair(): what it changes, and index maps that let labels follow; normalize()."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import GeometryError, Surface, primitives
from geodesic_nets.io import inspect, normalize, repair


def _messy() -> tuple[Surface, dict]:
    """Icosphere(1) + duplicated vertices, degenerate, duplicate faces and isolated vertices."""
    s = primitives.icosphere(1)
    v, f = s.verts, s.faces
    nv = len(v)
    # vertex nv is a copy of vertex 3, used by a copy of face 0 with 3 replaced
    extra_v = np.array([v[3], [9.0, 9, 9], v[5] * 0.5 + v[6] * 0.5])  # nv: dup of 3, nv+1 isolated
    v2 = np.concatenate([v, extra_v])
    f2 = f.copy()
    f2[f2 == 3] = nv  # some faces use the duplicate instead of vertex 3
    f2[:12][f2[:12] == nv] = 3  # ... but not all of them
    assert (f2 == 3).any() and (f2 == nv).any()
    faces = np.concatenate([f2, [[0, 0, 1], [5, 6, nv + 2], f[4][::-1]]])  # repeated, collinear, duplicate
    return Surface(v2, faces), {"nv": nv, "nf": len(f)}


def test_repair_changes_and_counts():
    s, info = _messy()
    before = inspect(s)
    assert before.num_duplicate_verts == 1 and before.num_degenerate_faces == 2 and before.num_duplicate_faces == 1
    res = repair(s)
    assert res.changes == {
        "merged_vertices": 1,
        "removed_degenerate_faces": 2,
        "removed_duplicate_faces": 1,
        "removed_unreferenced_vertices": 2,  # the isolated one and the midpoint of the collinear face
    }
    after = inspect(res.surface)
    assert after.is_valid, after.problems
    assert after.genus == 0 and res.surface.num_verts == info["nv"] and res.surface.num_faces == info["nf"]
    assert "merged vertices: 1" in str(res)


def test_repair_maps_are_consistent():
    s, info = _messy()
    res = repair(s)
    new = res.surface
    kept = res.vert_map >= 0
    np.testing.assert_array_equal(new.verts[res.vert_map[kept]], s.verts[kept])
    np.testing.assert_array_equal(new.faces, res.vert_map[s.faces[res.face_map]])
    np.testing.assert_array_equal(new.verts, s.verts[res.vert_source])
    assert res.vert_map[info["nv"]] == res.vert_map[3]  # the duplicate follows its original
    assert res.vert_map[info["nv"] + 1] == -1
    assert np.all(np.diff(res.face_map) > 0) and np.all(np.diff(res.vert_source) > 0)  # order kept
    # per-vertex labels follow the repair
    labels = np.arange(s.num_verts) * 10
    new_labels = labels[res.vert_source]
    assert new_labels[res.vert_map[5]] == 50


def test_repair_switches_are_respected():
    s, _ = _messy()
    res = repair(s, merge_duplicates=False, remove_degenerate=False, remove_duplicate_faces=False)
    assert res.changes["merged_vertices"] == 0 and res.changes["removed_degenerate_faces"] == 0
    assert res.surface.num_faces == s.num_faces
    assert res.changes["removed_unreferenced_vertices"] == 1
    nothing = repair(s, merge_duplicates=False, remove_degenerate=False, remove_duplicate_faces=False,
                     remove_unreferenced=False)  # fmt: skip
    assert nothing.surface == s and not nothing.changed and str(nothing) == "repair: nothing to change"
    np.testing.assert_array_equal(nothing.vert_map, np.arange(s.num_verts))
    with pytest.raises(TypeError, match="merge_duplicates"):
        repair(s, merge_duplicates="yes")


def test_repair_clean_mesh_is_identity(torus_mesh):
    res = repair(torus_mesh)
    assert res.surface == torus_mesh and not res.changed


def test_repair_point_cloud_merges_only(sphere_cloud):
    v = np.concatenate([sphere_cloud.verts[:10], sphere_cloud.verts[:2]])
    res = repair(Surface(v))
    assert res.surface.num_verts == 10 and res.face_map is None
    np.testing.assert_array_equal(res.vert_map[10:], [0, 1])


# ------------------------------------------------------------------ normalize
def test_normalize_unit_area_and_undo(torus_mesh):
    moved = torus_mesh.with_verts(torus_mesh.verts * 3.0 + [1.0, -2.0, 5.0])
    out = normalize(moved)
    assert inspect(out.surface).total_area == pytest.approx(1.0)
    fa = inspect(out.surface)
    assert fa.is_valid
    np.testing.assert_allclose(out.offset, [1.0, -2.0, 5.0], atol=1e-12)  # area centroid of a symmetric torus
    np.testing.assert_allclose(out.invert(out.surface.verts), moved.verts, atol=1e-12)
    np.testing.assert_allclose(out.apply(moved.verts), out.surface.verts)


@pytest.mark.parametrize("center", ["mean", "bbox", "area", "none"])
@pytest.mark.parametrize("scale", ["bbox_diagonal", "radius", "area", "none"])
def test_normalize_options(plane, center, scale):
    p = plane.with_verts(plane.verts * 2 + [3.0, 0, 0])
    out = normalize(p, center=center, scale=scale)
    v = out.surface.verts
    if scale == "bbox_diagonal":
        assert np.linalg.norm(v.max(0) - v.min(0)) == pytest.approx(1.0)
    elif scale == "radius":
        assert np.linalg.norm(v, axis=1).max() == pytest.approx(1.0) or center == "none"
    elif scale == "area":
        assert inspect(out.surface).total_area == pytest.approx(1.0)
    else:
        assert out.scale == 1.0
    if center == "bbox":
        np.testing.assert_allclose(v.max(0) + v.min(0), 0, atol=1e-12)
    elif center == "mean":
        np.testing.assert_allclose(v.mean(0), 0, atol=1e-12)
    elif center == "none":
        np.testing.assert_array_equal(out.offset, 0)
    np.testing.assert_allclose(out.invert(v), p.verts, atol=1e-12)


def test_normalize_point_cloud_and_errors(sphere_cloud):
    out = normalize(sphere_cloud, scale="radius")  # auto center: mean
    np.testing.assert_allclose(out.surface.verts.mean(0), 0, atol=1e-12)
    with pytest.raises(GeometryError, match="need faces"):
        normalize(sphere_cloud)  # unit area needs faces
    # scale="auto": unit radius for a cloud, unit area for a mesh
    np.testing.assert_array_equal(normalize(sphere_cloud, scale="auto").surface.verts, out.surface.verts)
    torus = primitives.torus(12, 6)
    np.testing.assert_array_equal(normalize(torus, scale="auto").surface.verts, normalize(torus).surface.verts)
    with pytest.raises(ValueError, match="center must be"):
        normalize(sphere_cloud, center="median")
    with pytest.raises(GeometryError, match="total area 0.0"):
        normalize(Surface(np.zeros((3, 3)), np.array([[0, 1, 2]])))
