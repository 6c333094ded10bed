"""inspect() on generated broken meshes: exact counts, problems, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geodesic_nets import InvalidSurfaceError, MeshFormatError, Surface, primitives
from geodesic_nets.io import ValidationReport, inspect, save


def _concat(*surfaces: Surface) -> Surface:
    verts, faces, off = [], [], 0
    for s in surfaces:
        verts.append(s.verts)
        faces.append(s.faces + off)
        off += s.num_verts
    return Surface(np.concatenate(verts), np.concatenate(faces))


def test_clean_closed_meshes_have_the_right_genus(sphere, torus_mesh):
    r = inspect(sphere)
    assert r.is_valid and r.is_manifold and r.is_closed and r.is_loadable
    assert (r.num_verts, r.num_faces, r.num_edges) == (642, 1280, 1920)
    assert r.euler_characteristic == 2 and r.genus == 0 and r.num_components == 1
    assert r.num_boundary_edges == 0 and r.num_boundary_loops == 0
    assert r.total_area == pytest.approx(4 * np.pi, rel=2e-2)
    t = inspect(torus_mesh)
    assert t.genus == 1 and t.euler_characteristic == 0 and t.is_valid


def test_plane_has_one_boundary_loop(plane):
    r = inspect(plane)
    assert r.num_boundary_edges == 4 * 12 and r.num_boundary_loops == 1
    assert r.genus == 0 and r.euler_characteristic == 1 and r.is_valid and not r.is_closed
    assert r.total_area == pytest.approx(1.0)
    np.testing.assert_allclose(r.bbox_min, [-0.5, -0.5, 0.0])
    np.testing.assert_allclose(r.bbox_max, [0.5, 0.5, 0.0])


def test_single_triangle(triangle):
    r = inspect(triangle)
    assert (r.num_verts, r.num_faces, r.num_edges, r.num_boundary_edges, r.num_boundary_loops) == (3, 1, 3, 3, 1)
    assert r.num_components == 1 and r.euler_characteristic == 1 and r.genus == 0
    assert r.total_area == 0.5 and r.is_valid and r.is_manifold


def test_nonmanifold_fan_of_three_faces_on_one_edge():
    v = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1]], dtype=float)
    f = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    r = inspect(Surface(v, f))
    assert r.num_nonmanifold_edges == 1
    assert r.num_nonmanifold_verts == 0  # all faces hang on the one edge: one fan per vertex
    assert r.num_edges == 7 and r.num_boundary_edges == 6
    assert r.euler_characteristic == 5 - 7 + 3
    assert not r.is_manifold and not r.is_valid and r.genus is None
    assert any("edge [0, 1] in 3 faces" in p for p in r.problems)


def test_bow_tie_vertex():
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [-1, 0, 0], [-1, -1, 0]], dtype=float)
    f = np.array([[0, 1, 2], [0, 3, 4]])
    r = inspect(Surface(v, f))
    assert r.num_nonmanifold_verts == 1 and r.num_nonmanifold_edges == 0
    assert any("non-manifold vertices" in p and "(first: 0)" in p for p in r.problems)
    assert not r.is_manifold and r.num_components == 1


def test_bow_tie_with_boundary_fans_and_closed_cones():
    # two cones of a closed double cone sharing the apex would also be a bow-tie; a disk is not
    disk = primitives.plane_grid(3)
    assert inspect(disk).num_nonmanifold_verts == 0
    a = primitives.icosphere(0)
    b = Surface(a.verts + [3.0, 0, 0], a.faces)
    m = _concat(a, b)
    # glue: identify vertex 12 + 0 of b with vertex 0 of a -> the shared vertex has two fans
    faces = m.faces.copy()
    faces[faces == 12] = 0
    r = inspect((m.verts, faces))
    assert r.num_nonmanifold_verts == 1 and r.num_unreferenced_verts == 1 and r.num_components == 1


def test_zero_area_and_repeated_index_faces():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0]], dtype=float)
    f = np.array([[0, 1, 2], [0, 1, 3], [1, 1, 2]])  # face 1 collinear, face 2 repeats vertex 1
    r = inspect(Surface(v, f))
    assert r.num_degenerate_faces == 2 and r.num_repeated_index_faces == 1
    assert any("zero area (first: 1)" in p for p in r.problems)
    assert any("repeat a vertex index (first: 2)" in p for p in r.problems)
    assert not r.is_manifold  # repeated index
    assert r.total_area == 0.5


def test_duplicate_vertices_and_faces():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [-0.0, 0, 0]])
    f = np.array([[0, 1, 2], [3, 5, 4], [2, 0, 1]])
    r = inspect(Surface(v, f))
    assert r.num_duplicate_verts == 3  # 3 = 1, 4 = 2, 6 = 0 (-0.0 == 0.0)
    assert any("vertex 3 = vertex 1" in p for p in r.problems)
    assert r.num_duplicate_faces == 1  # face 2 is face 0 rotated
    assert r.num_unreferenced_verts == 1


def test_isolated_vertices(sphere):
    s = Surface(np.concatenate([sphere.verts, [[5.0, 5, 5], [6.0, 6, 6]]]), sphere.faces)
    r = inspect(s)
    assert r.num_unreferenced_verts == 2 and r.num_components == 1
    assert r.euler_characteristic == 4 and r.genus == 0  # genus from the referenced part
    assert any("2 unreferenced vertices (first: 642, 643)" in p for p in r.problems)
    assert r.bbox_max == (6.0, 6.0, 6.0)


def test_two_components(sphere, torus_mesh):
    r = inspect(_concat(sphere, torus_mesh))
    assert r.num_components == 2 and r.genus == 1 and r.euler_characteristic == 2
    assert r.is_valid


def test_flipped_face_orientation():
    s = primitives.icosphere(1)
    f = s.faces.copy()
    f[7] = f[7, ::-1]
    r = inspect(Surface(s.verts, f))
    assert r.num_inconsistent_edges == 3 and r.genus is None
    assert r.is_manifold and not r.is_valid


def test_nan_coordinate_is_reported(sphere):
    v = sphere.verts.copy()
    v[5, 1] = np.nan
    v[9, 2] = np.inf
    r = inspect((v, sphere.faces))
    assert r.num_nonfinite_verts == 2 and not r.is_loadable and not r.is_valid
    assert any("(first: 5, 9)" in p for p in r.problems)
    assert np.isfinite(r.total_area) and r.total_area < inspect(sphere).total_area
    with pytest.raises(InvalidSurfaceError, match="vertex 5"):
        Surface(v, sphere.faces)


def test_out_of_range_indices_are_reported(triangle):
    f = np.array([[0, 1, 2], [0, 1, 3], [-1, 0, 1]])
    r = inspect((triangle.verts, f))
    assert r.num_out_of_range_faces == 2 and not r.is_loadable and not r.is_manifold
    assert any("face 1 -> [0, 1, 3]" in p and "faces 1, 2" in p for p in r.problems)
    assert r.num_faces == 3 and r.num_edges == 3  # topology of the in-range face only


def test_empty_inputs(tmp_path):
    r = inspect((np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)))
    assert r.num_verts == 0 and r.num_faces == 0 and r.num_edges == 0 and r.num_components == 0
    assert "no vertices" in r.problems and not r.is_valid and not r.is_loadable
    assert r.bbox_min is None and r.total_area == 0.0
    (tmp_path / "empty.obj").write_bytes(b"")
    with pytest.raises(MeshFormatError, match="empty"):
        inspect(tmp_path / "empty.obj")


def test_point_cloud_report(sphere_cloud):
    v = np.concatenate([sphere_cloud.verts, sphere_cloud.verts[:3]])
    r = inspect(Surface(v))
    assert r.is_point_cloud and r.num_faces is None and r.num_edges is None and r.genus is None
    assert r.num_duplicate_verts == 3 and not r.is_manifold
    assert "point cloud" in str(r) and "faces" not in str(r)


def test_inspect_a_broken_file_without_raising(tmp_path):
    p = tmp_path / "broken.off"
    p.write_text("OFF\n4 2 0\n0 0 0\n1 0 0\nnan 1 0\n0 1 0\n3 0 1 2\n3 0 2 7\n")
    r = inspect(p)
    assert r.name == str(p)
    assert r.num_nonfinite_verts == 1 and r.num_out_of_range_faces == 1


def test_to_dict_is_json_and_str_is_a_table(tmp_path, plane):
    r = inspect(save(plane, tmp_path / "p.obj"))
    d = json.loads(json.dumps(r.to_dict()))
    assert d["num_verts"] == 169 and d["genus"] == 0 and d["is_valid"] is True
    assert d["bbox_min"] == list(r.bbox_min) and d["problems"] == []
    text = str(r)
    lines = text.splitlines()
    assert lines[0].startswith("name") and str(tmp_path / "p.obj") in lines[0]
    col = lines[0].index(str(tmp_path / "p.obj"))
    assert all(len(ln) > col and ln[col - 2 : col] == "  " and ln[col] != " " for ln in lines)
    assert "boundary loops" in text and text == r.summary()


def test_to_dict_is_strict_json_with_huge_coordinates():
    v = np.array([[0, 0, 0], [1e300, 0, 0], [0, 1e300, 0]])
    r = inspect(Surface(v, np.array([[0, 1, 2]])))
    assert r.total_area == np.inf and r.num_degenerate_faces == 0
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["total_area"] is None and d["num_faces"] == 1


def test_problems_listed_in_summary():
    r = inspect((np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]]), np.array([[0, 1, 5]])))
    assert "problems (" in str(r) and "out of range" in str(r)
    assert isinstance(r, ValidationReport)


def test_bad_inputs():
    with pytest.raises(InvalidSurfaceError, match=r"\(V, 3\)"):
        inspect((np.zeros((4, 2)), None))
    with pytest.raises(InvalidSurfaceError, match="not integers"):
        inspect((np.zeros((3, 3)), np.array([[0, 1, 1.5]])))
    with pytest.raises(TypeError, match="inspect expects"):
        inspect(42)
    with pytest.raises(ValueError, match="zero_area_tol"):
        inspect(primitives.single_triangle(), zero_area_tol=-1)


def test_fast_counts_match_slow_loops(rng):
    """Edge face counts and fans checked against obvious per-face / per-vertex loops."""
    base = primitives.icosphere(1)
    nv = base.num_verts
    extra = rng.integers(0, nv, size=(8, 3))
    f = np.concatenate([base.faces[rng.random(base.num_faces) < 0.6], extra])
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    r = inspect((base.verts, f))
    counts: dict[tuple[int, int], int] = {}
    for a, b, c in f:
        for e in ((a, b), (b, c), (c, a)):
            key = (min(e), max(e))
            counts[key] = counts.get(key, 0) + 1
    assert r.num_edges == len(counts)
    assert r.num_boundary_edges == sum(1 for n in counts.values() if n == 1)
    assert r.num_nonmanifold_edges == sum(1 for n in counts.values() if n > 2)
    # fans: union-find over the faces around each vertex
    n_nm = 0
    for x in range(nv):
        around = [i for i in range(len(f)) if x in f[i]]
        parent = {i: i for i in around}

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for i in around:
            for j in around:
                if i < j and len(set(f[i]) & set(f[j])) >= 2:
                    parent[find(i)] = find(j)
        n_nm += len({find(i) for i in around}) > 1
    assert 0 < n_nm < nv  # the case mixes regular and bow-tie vertices
    assert r.num_nonmanifold_verts == n_nm
