"""Fuzzing the readers: mutated files either load as a valid Surface or raise a GeodesicNetsError."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from conftest import SHARED_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodesic_nets import GeodesicNetsError, Surface, primitives
from geodesic_nets.io import inspect, load, save

SHARED_SMALL = ["spot.obj", "beetle.obj", "3holes.off"]
NUMBER = re.compile(rb"-?\d+(\.\d+)?(e-?\d+)?")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[tuple[str, bytes]]:
    """(extension, content) of generated files in every format, plus small shared models if present."""
    d = tmp_path_factory.mktemp("fuzz_sources")
    mesh = primitives.icosphere(1)
    quads = "OFF\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n2 2 2\n4 0 1 2 3\n3 1 4 2 255 0 0\n"
    obj_poly = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1 4/1\nf -4/1 -2/1 -1/1\n"
    out = []
    for name, kwargs in [("m.obj", {}), ("m.off", {}), ("a.ply", {"ply_encoding": "ascii"}), ("b.ply", {}),
                         ("m.stl", {})]:  # fmt: skip
        out.append((name.split(".")[1], save(mesh, d / name, **kwargs).read_bytes()))
    out.append(("xyz", save(primitives.sphere_point_cloud(30), d / "p.xyz").read_bytes()))
    out.append(("npy", save(primitives.sphere_point_cloud(30), d / "p.npy").read_bytes()))
    out.append(("glb", mesh.to_trimesh().export(file_type="glb")))
    out.append(("stl", mesh.to_trimesh().export(file_type="stl_ascii").encode()))
    out += [("off", quads.encode()), ("obj", obj_poly.encode())]
    for name in SHARED_SMALL:
        p = SHARED_DATA / "models" / name
        if p.is_file():
            out.append((p.suffix[1:], p.read_bytes()))
    return out


MUTATIONS = ["truncate", "flip", "huge_count", "negative_index", "nan_token", "delete_line", "garbage_line",
             "duplicate_line", "swap_numbers"]  # fmt: skip


def _mutate(blob: bytes, kind: str, data: st.DataObject) -> bytes:
    n = len(blob)
    pos = data.draw(st.integers(0, max(n - 1, 0)), label="pos")
    lines = blob.split(b"\n")
    li = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
    numbers = list(NUMBER.finditer(blob, 0, min(n, 4096)))  # numbers near the start: headers, counts
    if kind == "truncate":
        return blob[:pos]
    if kind == "flip":
        return blob[:pos] + bytes([data.draw(st.integers(0, 255), label="byte")]) + blob[pos + 1 :]
    if kind == "huge_count":
        if blob[:80].startswith(b"binary STL") or (len(blob) > 84 and not blob.startswith((b"solid", b"ply", b"OFF"))):
            return blob[:80] + struct.pack("<I", 0xFFFFFFFF) + blob[84:]
        if not numbers:
            return blob
        m = numbers[data.draw(st.integers(0, min(len(numbers), 8) - 1), label="which")]
        return blob[: m.start()] + b"1000000000000" + blob[m.end() :]
    if kind in ("negative_index", "nan_token"):
        later = list(NUMBER.finditer(blob, pos, min(n, pos + 400)))
        if not later:
            return blob
        m = later[0]
        token = b"-" + m.group(0).lstrip(b"-") if kind == "negative_index" else b"nan"
        if kind == "negative_index" and data.draw(st.booleans(), label="big"):
            token = b"-99999999"
        return blob[: m.start()] + token + blob[m.end() :]
    if kind == "delete_line":
        return b"\n".join(lines[:li] + lines[li + 1 :])
    if kind == "garbage_line":
        junk = data.draw(st.sampled_from([b"v 1 2", b"f 1 2 3 4 5 x", b"3 0 1", b"\xff\xfe\x00", b"end_header",
                                          b"element vertex 7", b"f 0 0 0", b"v inf 0 0"]), label="junk")  # fmt: skip
        return b"\n".join(lines[:li] + [junk] + lines[li:])
    if kind == "duplicate_line":
        return b"\n".join(lines[: li + 1] + lines[li:])
    # swap_numbers: exchange two numeric tokens
    if len(numbers) < 2:
        return blob
    i, j = sorted(data.draw(st.lists(st.integers(0, len(numbers) - 1), min_size=2, max_size=2), label="ij"))
    a, b = numbers[i], numbers[j]
    if i == j:
        return blob
    return blob[: a.start()] + b.group(0) + blob[a.end() : b.start()] + a.group(0) + blob[b.end() :]


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_files_load_or_raise_geodesic_nets_errors(sources, tmp_path, data):
    ext, blob = data.draw(st.sampled_from(sources), label="source")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    path = tmp_path / f"fuzz.{ext}"
    path.write_bytes(_mutate(blob, kind, data))
    try:
        s = load(path)
    except GeodesicNetsError as exc:
        assert str(path) in str(exc), f"error does not name the file: {exc}"
    else:
        assert isinstance(s, Surface) and s.num_verts > 0
        assert np.isfinite(s.verts).all()
        if s.faces is not None and s.num_faces:
            assert s.faces.min() >= 0 and s.faces.max() < s.num_verts
    try:
        report = inspect(path)
    except GeodesicNetsError:
        pass
    else:
        report.to_dict()
        str(report)


def test_fuzz_sources_cover_every_format(sources):
    assert {ext for ext, _ in sources} >= {"obj", "off", "ply", "stl", "xyz", "npy", "glb"}
    for ext, blob in sources:
        assert len(blob) > 0, ext
