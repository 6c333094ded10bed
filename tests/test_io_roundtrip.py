"""Save/load round trips for every format, and the trimesh/pyvista conversions."""

from __future__ import annotations

import os

import numpy as np
import pytest

from geodesic_nets import MeshFormatError, Surface, UnsupportedFormatError, primitives
from geodesic_nets.io import load, read_arrays, save


def _irregular_mesh() -> Surface:
    """A mesh with awkward floats (negative zero, tiny, huge, many digits) and an unreferenced vertex."""
    s = primitives.icosphere(2)
    v = s.verts.copy()
    v[0] = [-0.0, 1e-300, 1.2345678901234567e200]
    v[1] = [np.pi, -np.e, 1.0 / 3.0]
    v = np.concatenate([v, [[7.0, 8.0, 9.0]]])  # unreferenced, must survive
    return Surface(v, s.faces, name="irregular")


@pytest.mark.parametrize("ext", ["obj", "off", "ply"])
@pytest.mark.parametrize("kind", ["mesh", "cloud"])
def test_round_trip_is_exact(tmp_path, ext, kind):
    s = _irregular_mesh()
    if kind == "cloud":
        s = Surface(s.verts)
    path = save(s, tmp_path / f"m.{ext}")
    back = load(path)
    np.testing.assert_array_equal(back.verts, s.verts)
    assert back.verts.tobytes() == s.verts.tobytes()  # bitwise, -0.0 included
    if kind == "cloud":
        assert back.faces is None
    else:
        np.testing.assert_array_equal(back.faces, s.faces)
    assert back.name == str(path)
    assert back == s  # same geometry hash


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_encodings(tmp_path, encoding):
    s = _irregular_mesh()
    path = save(s, tmp_path / "m.ply", ply_encoding=encoding)
    head = path.read_bytes()[:80]
    assert f"format {encoding} 1.0".encode() in head
    back = load(path)
    np.testing.assert_array_equal(back.verts, s.verts)
    np.testing.assert_array_equal(back.faces, s.faces)


@pytest.mark.parametrize("ext", ["xyz", "txt", "npy"])
def test_point_cloud_round_trip(tmp_path, ext, sphere_cloud):
    path = save(sphere_cloud, tmp_path / f"p.{ext}")
    back = load(path)
    assert back.is_point_cloud
    np.testing.assert_array_equal(back.verts, sphere_cloud.verts)


def test_point_formats_refuse_faces(tmp_path, sphere):
    with pytest.raises(UnsupportedFormatError, match="points only"):
        save(sphere, tmp_path / "p.xyz")
    assert not (tmp_path / "p.xyz").exists()


def test_stl_round_trip_merges_exactly_equal_corners(tmp_path):
    # float32-representable coordinates so the STL round trip is exact
    s = primitives.torus(12, 6)
    v = s.verts.astype(np.float32).astype(np.float64)
    # renumber vertices in order of first appearance in the faces, as the STL reader does
    order = np.unique(s.faces.ravel(), return_index=True)[1]
    first_seen = s.faces.ravel()[np.sort(order)]
    remap = np.empty(len(v), dtype=np.int64)
    remap[first_seen] = np.arange(len(v))
    ref = Surface(v[first_seen], remap[s.faces])
    for path in (save(ref, tmp_path / "t.stl"), tmp_path / "t_ascii.stl"):
        if path.name == "t_ascii.stl":
            ref.to_trimesh().export(path, file_type="stl_ascii")
        back = load(path)
        assert back.num_verts == ref.num_verts  # 3 * F corners merged back into V vertices
        np.testing.assert_array_equal(back.verts, ref.verts)
        np.testing.assert_array_equal(back.faces, ref.faces)


def test_stl_does_not_merge_nearly_equal_corners(tmp_path):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1e-6, 0], [1, 1, 0]], dtype=np.float64)
    s = Surface(v, np.array([[0, 1, 2], [3, 4, 2]]))
    back = load(save(s, tmp_path / "m.stl"))
    assert back.num_verts == 5  # corner 2 shared exactly, 1 and 3 differ by 1e-6
    np.testing.assert_array_equal(back.faces, [[0, 1, 2], [3, 4, 2]])


def test_glb_scene_meshes_concatenated_with_transforms(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    a = primitives.icosphere(1)
    b = primitives.single_triangle()
    va = a.verts.astype(np.float32).astype(np.float64)
    vb = b.verts.astype(np.float32).astype(np.float64)
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.Trimesh(va, a.faces, process=False), node_name="a", geom_name="a")
    t = np.eye(4)
    t[:3, 3] = [10.0, 0.0, 0.0]
    scene.add_geometry(trimesh.Trimesh(vb, b.faces, process=False), node_name="b", geom_name="b", transform=t)
    path = tmp_path / "scene.glb"
    scene.export(path)
    s = load(path)
    assert s.num_verts == a.num_verts + b.num_verts
    assert s.num_faces == a.num_faces + b.num_faces
    # scene order may differ from insertion order: find the triangle by its translation
    tri = s.verts[:, 0] > 5
    assert tri.sum() == 3
    np.testing.assert_allclose(np.sort(s.verts[tri], axis=0), np.sort(vb + [10.0, 0, 0], axis=0), atol=1e-6)
    np.testing.assert_allclose(np.abs(np.linalg.norm(s.verts[~tri], axis=1) - 1.0), 0, atol=1e-6)


def test_glb_single_mesh_is_read_as_stored(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    a = primitives.icosphere(1)
    v = np.concatenate([a.verts, a.verts[:1]]).astype(np.float32).astype(np.float64)
    f = a.faces.copy()
    f[0, 0] = len(v) - 1  # uses the duplicate of vertex 0: no merging allowed
    path = tmp_path / "one.glb"
    path.write_bytes(trimesh.Trimesh(v, f, process=False).export(file_type="glb"))
    s = load(path)
    np.testing.assert_array_equal(s.verts, v)
    np.testing.assert_array_equal(s.faces, f)


def test_unknown_extension_and_format_override(tmp_path, triangle):
    with pytest.raises(UnsupportedFormatError, match=r"\.foo"):
        save(triangle, tmp_path / "t.foo")
    p = save(triangle, tmp_path / "t.mesh", format="off")
    assert p.read_bytes().startswith(b"OFF")
    np.testing.assert_array_equal(load(p, format="off").faces, triangle.faces)
    with pytest.raises(UnsupportedFormatError):
        load(p)
    with pytest.raises(ValueError, match="ply_encoding"):
        save(triangle, tmp_path / "t.obj", ply_encoding="ascii")


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path, sphere, monkeypatch):
    path = save(sphere, tmp_path / "s.obj")
    before = path.read_bytes()
    assert os.listdir(tmp_path) == ["s.obj"]

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(MeshFormatError, match="No space left"):
        save(primitives.single_triangle(), path)
    assert path.read_bytes() == before  # old content intact
    assert os.listdir(tmp_path) == ["s.obj"]  # temp file cleaned up


def test_saved_file_has_ordinary_permissions(tmp_path, triangle):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    saved = save(triangle, tmp_path / "t.off")
    assert saved.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    os.chmod(saved, 0o640)
    save(triangle, saved)  # replacing keeps the existing permissions
    assert saved.stat().st_mode & 0o777 == 0o640


def test_reader_exceptions_are_wrapped_and_chained(tmp_path, monkeypatch):
    from geodesic_nets.io import formats

    def broken(path):
        raise IndexError("list index out of range")

    monkeypatch.setitem(formats._READERS, "obj", broken)
    p = tmp_path / "x.obj"
    with pytest.raises(MeshFormatError, match="IndexError") as exc:
        read_arrays(p)
    assert isinstance(exc.value.__cause__, IndexError) and str(p) in str(exc.value)


def test_save_into_missing_folder(tmp_path, triangle):
    with pytest.raises(MeshFormatError, match="folder"):
        save(triangle, tmp_path / "nope" / "t.obj")


def test_read_arrays_is_raw(tmp_path):
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv nan 1 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n")
    v, f = read_arrays(tmp_path / "bad.obj")
    assert np.isnan(v[1, 0])
    np.testing.assert_array_equal(f, [[0, 1, 2], [0, 1, 8]])


# ------------------------------------------------------------------ conversions
def test_trimesh_round_trip_keeps_vertex_order(torus_mesh):
    tm = torus_mesh.to_trimesh()
    back = Surface.from_trimesh(tm)
    np.testing.assert_array_equal(back.verts, torus_mesh.verts)
    np.testing.assert_array_equal(back.faces, torus_mesh.faces)
    cloud = Surface.from_trimesh(primitives.sphere_point_cloud(50).to_trimesh())
    assert cloud.is_point_cloud and cloud.num_verts == 50


def test_trimesh_round_trip_keeps_unreferenced_vertices():
    s = _irregular_mesh()
    back = Surface.from_trimesh(s.to_trimesh())
    np.testing.assert_array_equal(back.verts, s.verts)


def test_pyvista_round_trip_keeps_vertex_order(torus_mesh):
    pytest.importorskip("pyvista")
    back = Surface.from_pyvista(torus_mesh.to_pyvista())
    np.testing.assert_array_equal(back.verts, torus_mesh.verts)
    np.testing.assert_array_equal(back.faces, torus_mesh.faces)
    cloud = primitives.sphere_point_cloud(40)
    assert Surface.from_pyvista(cloud.to_pyvista()).is_point_cloud
