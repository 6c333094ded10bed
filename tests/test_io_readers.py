"""Format details of the readers and the errors they raise on broken files."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import GeodesicNetsError, InvalidSurfaceError, MeshFormatError, UnsupportedFormatError
from geodesic_nets.io import inspect, load, read_arrays, save
from geodesic_nets.surface import Surface

SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)


def _write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


# ------------------------------------------------------------------------- OBJ
def test_obj_token_kinds_comments_crlf_and_polygons(tmp_path):
    text = (
        "# comment\r\nmtllib x.mtl\r\no thing\r\n"
        "v 0 0 0\r\nv 1 0 0 1.0\r\nv 1 1 0 0.5 0.5 0.5\r\n  v 0 1 0 # trailing comment\r\n"
        "vt 0 0\r\nvn 0 0 1\r\ng group\r\ns off\r\nusemtl m\r\n"
        "f 1/1/1 2/1/1 3/1/1\r\nf 1//1 3//1 4//1\r\nf 1/1 2/1 3/1 4/1\r\nf 4 3 2\r\nl 1 2\r\n"
    )
    s = load(_write(tmp_path, "a.obj", text))
    np.testing.assert_array_equal(s.verts, SQUARE)
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3], [0, 1, 2], [0, 2, 3], [3, 2, 1]])


def test_obj_fast_path_uniform_slashed_faces(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n" + "f 1/1/1 2/2/2 3/3/3\nf 1/4/1 3/5/3 4/6/4\n"
    s = load(_write(tmp_path, "a.obj", text))
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3]])
    quads = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n" + "f 1//1 2//1 3//1 4//1\n" * 2
    np.testing.assert_array_equal(load(_write(tmp_path, "q.obj", quads)).faces, [[0, 1, 2], [0, 2, 3]] * 2)


def test_obj_negative_relative_indices(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv 1 1 0\nf -3 -2 -1\nv 0 1 0\nf -4 -2 -1\n"
    s = load(_write(tmp_path, "n.obj", text))
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3]])


def test_obj_without_faces_is_point_cloud(tmp_path):
    s = load(_write(tmp_path, "p.obj", "v 1 2 3\nv 4 5 6\n"))
    assert s.is_point_cloud and s.num_verts == 2


def test_obj_index_zero_is_out_of_range(tmp_path):
    p = _write(tmp_path, "z.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nf 0 1 2\n")
    with pytest.raises(InvalidSurfaceError, match=r"face 0 references vertex \[-1, 0, 1\]") as exc:
        load(p)
    assert str(p) in str(exc.value)
    assert inspect(p).num_out_of_range_faces == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("v 0 0 0\nv 1 abc 0\nv 0 1 0\nf 1 2 3\n", r"vertex 1: cannot read 'abc'"),
        ("v 0 0 0\nv 1 0\nv 0 1 0\nf 1 2 3\n", r"vertex 1: expected at least 4 values, got 3"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n", r"face 0 \(f line 1\): cannot read 'x'"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", r"face 0 \(f line 1\): needs at least 3 vertices"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3.5\n", r"cannot read '3.5'"),
        ("vt 0 0\n# only texture\n", r"no vertex"),
        ("\x00\x01\x02garbage", r"NUL bytes"),
    ],
)
def test_obj_errors_name_the_problem(tmp_path, text, message):
    p = _write(tmp_path, "bad.obj", text)
    with pytest.raises(MeshFormatError, match=message) as exc:
        load(p)
    assert str(p) in str(exc.value)


def test_obj_nan_and_out_of_range_are_surface_errors(tmp_path):
    p = _write(tmp_path, "nan.obj", "v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    with pytest.raises(InvalidSurfaceError, match=r"vertex 2 has a non-finite") as exc:
        load(p)
    assert str(p) in str(exc.value)
    p = _write(tmp_path, "oor.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 6\n")
    with pytest.raises(InvalidSurfaceError, match=r"face 1 references vertex \[0, 1, 5\] but there are 3 vertices"):
        load(p)


# ------------------------------------------------------------------------- OFF
@pytest.mark.parametrize(
    "text",
    [
        "OFF\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n3 0 2 3\n",
        "# comment\nOFF\n# another\n\n4 2 5\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n3 0 2 3\n",
        "OFF 4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2 255 0 0\n3 0 2 3 0 255 0\n",
        "COFF\n4 2 0\n0 0 0 255 0 0 255\n1 0 0 255 0 0 255\n1 1 0 1 1 1 1\n0 1 0 1 1 1 1\n3 0 1 2\n3 0 2 3\n",
        "NOFF\r\n4 1 0\r\n0 0 0 0 0 1\r\n1 0 0 0 0 1\r\n1 1 0 0 0 1\r\n0 1 0 0 0 1\r\n4 0 1 2 3\r\n",
        "OFF\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3 0.5 0.5 0.5\n",
    ],
)
def test_off_variants(tmp_path, text):
    s = load(_write(tmp_path, "a.off", text))
    np.testing.assert_array_equal(s.verts, SQUARE)
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3]])


def test_off_mixed_polygons_fan_triangulated(tmp_path):
    text = "OFF\n6 3 0\n" + "0 0 0\n1 0 0\n2 0 1\n1 1 0\n0 1 0\n3 3 3\n" + "3 0 1 4\n5 1 2 3 4 0\n3 3 4 5\n"
    s = load(_write(tmp_path, "m.off", text))
    np.testing.assert_array_equal(s.faces, [[0, 1, 4], [1, 2, 3], [1, 3, 4], [1, 4, 0], [3, 4, 5]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("OFF\n10 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", r"truncated: the header says 10 vertices"),
        ("OFF\n3 5 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", r"truncated: the header says 3 vertices and 5 faces"),
        ("OFF\n1000000000000 1000000000000 0\n0 0 0\n", r"truncated"),
        ("OFF\n-3 1 0\n0 0 0\n", r"negative counts"),
        ("OFF\nthree 1 0\n", r"cannot read the counts line"),
        ("OFF\n", r"no counts line"),
        ("PLY\n3 1 0\n", r"expected an 'OFF' header"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", r"face 0: a polygon needs at least 3 vertices"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", r"face 0: says 4 vertices but lists 3"),
        ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 z\n", r"face 0: cannot read 'z'"),
    ],
)
def test_off_errors(tmp_path, text, message):
    p = _write(tmp_path, "bad.off", text)
    with pytest.raises(MeshFormatError, match=message) as exc:
        load(p)
    assert str(p) in str(exc.value)


def test_off_negative_index_reported_not_raised_by_inspect(tmp_path):
    p = _write(tmp_path, "neg.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 -1 2\n")
    with pytest.raises(InvalidSurfaceError, match=r"face 0 references vertex \[0, -1, 2\]"):
        load(p)
    v, f = read_arrays(p)
    np.testing.assert_array_equal(f, [[0, -1, 2]])
    assert inspect(p).num_out_of_range_faces == 1


def test_binary_and_4d_off_unsupported(tmp_path):
    with pytest.raises(UnsupportedFormatError, match="binary OFF"):
        load(_write(tmp_path, "b.off", b"OFF BINARY\n\x00\x00\x00\x03"))
    with pytest.raises(UnsupportedFormatError, match="4OFF"):
        load(_write(tmp_path, "c.off", "4OFF\n1 0 0\n0 0 0 0\n"))


# ------------------------------------------------------------------------- PLY
def _ply(encoding, body, elements):
    head = f"ply\nformat {encoding} 1.0\ncomment x\n" + elements + "end_header\n"
    return head.encode() + (body if isinstance(body, bytes) else body.encode())


def test_ply_ascii_quads_extra_properties_and_unreferenced(tmp_path):
    elements = (
        "element vertex 5\nproperty float nx\nproperty double x\nproperty double y\nproperty double z\n"
        "property uchar red\nelement face 1\nproperty list uchar int vertex_indices\nproperty int flag\n"
    )
    body = "9 0 0 0 1\n9 1 0 0 1\n9 1 1 0 1\n9 0 1 0 1\n9 5 5 5 1\n4 0 1 2 3 7\n"
    s = load(_write(tmp_path, "q.ply", _ply("ascii", body, elements)))
    np.testing.assert_array_equal(s.verts, np.concatenate([SQUARE, [[5, 5, 5]]]))
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3]])


def test_ply_binary_variable_polygons_and_big_endian(tmp_path):
    v = np.concatenate([SQUARE, [[2, 0, 0]]]).astype(">f4")
    faces = b"".join(
        np.array([n], ">u1").tobytes() + np.array(idx, ">i4").tobytes() for n, idx in [(4, [0, 1, 2, 3]), (3, [1, 4, 2])]
    )
    elements = (
        "element vertex 5\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 2\nproperty list uchar int vertex_index\n"
    )
    s = load(_write(tmp_path, "b.ply", _ply("binary_big_endian", v.tobytes() + faces, elements)))
    np.testing.assert_array_equal(s.verts, v.astype(np.float64))
    np.testing.assert_array_equal(s.faces, [[0, 1, 2], [0, 2, 3], [1, 4, 2]])


def test_ply_crlf_header(tmp_path):
    data = b"ply\r\nformat ascii 1.0\r\nelement vertex 3\r\nproperty float x\r\nproperty float y\r\n" \
        b"property float z\r\nelement face 1\r\nproperty list uchar int vertex_indices\r\nend_header\r\n" \
        b"0 0 0\r\n1 0 0\r\n0 1 0\r\n3 0 1 2\r\n"
    s = load(_write(tmp_path, "c.ply", data))
    np.testing.assert_array_equal(s.faces, [[0, 1, 2]])
    assert s.num_verts == 3


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_ply_agrees_with_trimesh_both_ways(tmp_path, encoding, torus_mesh):
    trimesh = pytest.importorskip("trimesh")
    v = np.concatenate([torus_mesh.verts, [[3.0, 3.0, 3.0]]])  # an unreferenced vertex, kept
    s = Surface(v, torus_mesh.faces)
    p = save(s, tmp_path / "ours.ply", ply_encoding=encoding)
    tm = trimesh.load(p, process=False)
    np.testing.assert_array_equal(np.asarray(tm.vertices), v)
    np.testing.assert_array_equal(np.asarray(tm.faces), s.faces)
    theirs = tmp_path / "theirs.ply"
    theirs.write_bytes(trimesh.Trimesh(v, s.faces, process=False).export(file_type="ply", encoding=encoding.split("_")[0]))
    back = load(theirs)
    np.testing.assert_allclose(back.verts, v, atol=1e-6)  # trimesh may store float32 or round
    np.testing.assert_array_equal(back.faces, s.faces)


def test_ply_without_faces_is_point_cloud(tmp_path, sphere_cloud):
    p = save(sphere_cloud, tmp_path / "c.ply")
    assert b"element face" not in p.read_bytes()[:300]
    assert load(p).is_point_cloud


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_ply_huge_counts_are_checked_against_file_size(tmp_path, encoding, triangle):
    p = save(triangle, tmp_path / "t.ply", ply_encoding=encoding)
    data = p.read_bytes().replace(b"element vertex 3", b"element vertex 1000000000000")
    p.write_bytes(data)
    with pytest.raises(MeshFormatError, match="truncated"):
        load(p)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"plx\n", "does not start with 'ply'"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n", "no 'end_header'"),
        (b"ply\nformat weird 1.0\nend_header\n", "unknown PLY format"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n", "no 'y' property"),
        (b"ply\nformat ascii 1.0\nelement face 0\nend_header\n", "no 'vertex' element"),
        (b"ply\nformat ascii 1.0\nelement vertex -5\nend_header\n", "negative element count"),
        (b"ply\nformat ascii 1.0\nproperty float x\nend_header\n", "property before any element"),
        (b"ply\nelement vertex 1\nproperty float x\nend_header\n", "no 'format' line"),
    ],
)
def test_ply_header_errors(tmp_path, data, message):
    with pytest.raises(MeshFormatError, match=message):
        load(_write(tmp_path, "h.ply", data))


def test_ply_truncated_binary_faces(tmp_path, sphere):
    p = save(sphere, tmp_path / "s.ply")
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(MeshFormatError, match="truncated"):
        load(p)


# ------------------------------------------------------------------- STL, points
def test_stl_wrong_size_is_reported(tmp_path, triangle):
    p = save(triangle, tmp_path / "t.stl")
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(MeshFormatError, match=r"header says 1 triangles"):
        load(p)
    with pytest.raises(MeshFormatError, match="not an STL"):
        load(_write(tmp_path, "u.stl", b"hello"))


def test_binary_stl_whose_header_starts_with_solid(tmp_path, triangle):
    p = save(triangle, tmp_path / "t.stl")
    p.write_bytes(b"solid but binary".ljust(80) + p.read_bytes()[80:])
    s = load(p)
    np.testing.assert_array_equal(s.verts, triangle.verts)


def test_xyz_columns_and_comments(tmp_path):
    p = _write(tmp_path, "p.xyz", "# x y z nx ny nz\n1 2 3 0 0 1\r\n4 5 6 0 0 1 # c\n\n7\t8\t9 0 0 1\n")
    np.testing.assert_array_equal(load(p).verts, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    with pytest.raises(MeshFormatError, match=r"point 1: expected at least 3 values"):
        load(_write(tmp_path, "q.txt", "1 2 3\n4 5\n"))


def test_npy_checks(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((4, 2)))
    with pytest.raises(MeshFormatError, match=r"shape \(V, 3\), got \(4, 2\)"):
        load(tmp_path / "a.npy")
    np.save(tmp_path / "b.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MeshFormatError, match="holds Python objects"):
        load(tmp_path / "b.npy")
    good = (tmp_path / "c.npy")
    np.save(good, np.arange(12.0).reshape(4, 3))
    data = good.read_bytes()
    for name, blob, says in [
        ("trunc.npy", data[:-8], "needs 96 bytes of data but the file holds 88"),
        ("header.npy", data[:40], "header claims"),
        ("magic.npy", b"NUMPY" + data[6:], "magic"),
        ("dict.npy", data[:10] + b"{garbage" + data[18:], "not a Python dictionary"),
    ]:
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(MeshFormatError, match=says):
            load(tmp_path / name)
    np.save(tmp_path / "c.npy", np.arange(12).reshape(4, 3))
    assert load(tmp_path / "c.npy").verts.dtype == np.float64


# ------------------------------------------------------------------- generic
def test_missing_empty_directory_and_unknown(tmp_path):
    with pytest.raises(MeshFormatError, match="no such file") as exc:
        load(tmp_path / "missing.obj")
    assert "missing.obj" in str(exc.value)
    with pytest.raises(MeshFormatError, match="file is empty"):
        load(_write(tmp_path, "empty.off", ""))
    with pytest.raises(MeshFormatError, match="file is empty"):
        load(_write(tmp_path, "blank.obj", "  \n\n"))
    (tmp_path / "dir.obj").mkdir()
    with pytest.raises(MeshFormatError, match="not a regular file"):
        load(tmp_path / "dir.obj")
    with pytest.raises(UnsupportedFormatError, match=r"unsupported extension '\.foo'"):
        load(_write(tmp_path, "x.foo", "v 0 0 0\n"))
    with pytest.raises(MeshFormatError, match="no vertex"):
        load(_write(tmp_path, "novert.off", "OFF\n0 0 0\n"))


def _glb(json_text: bytes, *, total: int | None = None) -> bytes:
    import struct

    body = json_text + b" " * (-len(json_text) % 4)
    chunk = struct.pack("<II", len(body), 0x4E4F534A) + body
    size = 12 + len(chunk) if total is None else total
    return b"glTF" + struct.pack("<II", 2, size) + chunk


def test_corrupt_glb_is_a_format_error_in_our_words(tmp_path):
    with pytest.raises(MeshFormatError, match="header gives a length of 1651663207 bytes but the file has 45"):
        load(_write(tmp_path, "bad.glb", b"glTF\x02\x00\x00\x00garbage" * 3))
    with pytest.raises(MeshFormatError, match="magic"):
        load(_write(tmp_path, "magic.glb", b"GLTF" + b"\x00" * 20))
    with pytest.raises(MeshFormatError, match="truncated or padded"):
        load(_write(tmp_path, "short.glb", _glb(b'{"asset": {"version": "2.0"}}', total=999)))
    with pytest.raises(MeshFormatError, match="JSON is malformed at character"):
        load(_write(tmp_path, "json.glb", _glb(b'{"asset": {"version": "2.0"}} trailing')))
    with pytest.raises(MeshFormatError, match="not a glTF document"):
        load(_write(tmp_path, "noasset.glb", _glb(b'[1, 2]')))


def test_sound_glb_whose_scene_fails_chains_the_library_error(tmp_path):
    doc = b'{"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],' \
          b' "meshes": [{"primitives": [{"attributes": {"POSITION": 5}}]}]}'
    with pytest.raises(MeshFormatError, match="scene cannot be built") as exc:
        load(_write(tmp_path, "scene.glb", _glb(doc)))
    assert exc.value.__cause__ is not None


def test_binary_ply_negative_list_length_is_named(tmp_path):
    import struct

    header = (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
              b"property float z\nelement face 1\nproperty list char int vertex_indices\nend_header\n")
    body = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0) + struct.pack("<b3i", -3, 0, 1, 2)
    with pytest.raises(MeshFormatError, match="face record 0: negative vertex_indices list length -3"):
        load(_write(tmp_path, "neg.ply", header + body))


def test_every_error_is_a_geodesic_nets_error():
    assert issubclass(MeshFormatError, GeodesicNetsError)
    assert issubclass(UnsupportedFormatError, MeshFormatError)
    assert issubclass(InvalidSurfaceError, GeodesicNetsError)
    assert isinstance(Surface(SQUARE), Surface)
