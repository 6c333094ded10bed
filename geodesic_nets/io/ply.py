"""Stanford PLY: a reader for ASCII and binary (both endiannesses) files, and a writer.

The reader keeps the ``vertex`` element exactly as stored (order, count, unreferenced vertices)
and reads the ``vertex_indices`` (or ``vertex_index``) list of the ``face`` element;
polygons are fan-triangulated. Other elements and properties are skipped. Element counts are
checked against the file size before anything is allocated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import ArgumentError, MeshFormatError, UnsupportedFormatError
from ._files import PathLike, atomic_write_bytes, read_bytes
from ._text import fan_triangulate, parse_columns, parse_polygons

__all__ = ["read_ply", "write_ply", "PlyEncoding"]

logger = logging.getLogger(__name__)

PlyEncoding = Literal["binary_little_endian", "binary_big_endian", "ascii"]

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FACE_LISTS = ("vertex_indices", "vertex_index")


@dataclass
class _Prop:
    name: str
    dtype: str  # item type code, e.g. "f4"
    count_dtype: str | None = None  # list length type for list properties


@dataclass
class _Element:
    name: str
    count: int
    props: list[_Prop] = field(default_factory=list)

    @property
    def has_lists(self) -> bool:
        return any(pr.count_dtype is not None for pr in self.props)


def _parse_header(data: bytes, path: str) -> tuple[str, list[_Element], int]:
    if not data.startswith(b"ply"):
        raise MeshFormatError("not a PLY file: it does not start with 'ply'", path=path)
    end = data.find(b"end_header")
    if end < 0:
        raise MeshFormatError("truncated or malformed header: no 'end_header' line", path=path)
    nl = data.find(b"\n", end)
    start = len(data) if nl < 0 else nl + 1
    header = data[:end].decode("ascii", errors="replace").splitlines()
    encoding = None
    elements: list[_Element] = []
    for lineno, line in enumerate(header[1:], start=2):
        toks = line.split()
        if not toks or toks[0] in ("comment", "obj_info"):
            continue
        if toks[0] == "format":
            if len(toks) < 2 or toks[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise UnsupportedFormatError(f"header line {lineno}: unknown PLY format {line[:80]!r}", path=path)
            encoding = toks[1]
        elif toks[0] == "element":
            try:
                count = int(toks[2])
            except (IndexError, ValueError):
                raise MeshFormatError(f"header line {lineno}: bad element line {line[:80]!r}", path=path) from None
            if count < 0:
                raise MeshFormatError(f"header line {lineno}: negative element count {count}", path=path)
            elements.append(_Element(toks[1], count))
        elif toks[0] == "property":
            if not elements:
                raise MeshFormatError(f"header line {lineno}: property before any element", path=path)
            if len(toks) == 5 and toks[1] == "list" and toks[2] in _TYPES and toks[3] in _TYPES:
                elements[-1].props.append(_Prop(toks[4], _TYPES[toks[3]], _TYPES[toks[2]]))
            elif len(toks) == 3 and toks[1] in _TYPES:
                elements[-1].props.append(_Prop(toks[2], _TYPES[toks[1]]))
            else:
                raise MeshFormatError(f"header line {lineno}: bad property line {line[:80]!r}", path=path)
        else:
            raise MeshFormatError(f"header line {lineno}: unknown keyword {toks[0][:40]!r}", path=path)
    if encoding is None:
        raise MeshFormatError("the header has no 'format' line", path=path)
    return encoding, elements, start


def _find(elements: list[_Element], path: str) -> tuple[_Element, _Element | None]:
    vert = next((e for e in elements if e.name == "vertex"), None)
    if vert is None:
        raise MeshFormatError("no 'vertex' element in the header", path=path)
    names = [pr.name for pr in vert.props]
    for axis in "xyz":
        if axis not in names:
            raise MeshFormatError(f"the vertex element has no '{axis}' property", path=path)
        if vert.props[names.index(axis)].count_dtype is not None:
            raise MeshFormatError(f"the vertex property '{axis}' is a list", path=path)
    face = next((e for e in elements if e.name == "face"), None)
    if face is not None and face.count > 0:
        if not any(pr.name in _FACE_LISTS and pr.count_dtype is not None for pr in face.props):
            raise MeshFormatError("the face element has no 'vertex_indices' list property", path=path)
    return vert, face


# ---------------------------------------------------------------------------------- binary
def _scalar_dtype(el: _Element, endian: str, list_lengths: dict[str, int] | None = None) -> np.dtype:
    fields = []
    for i, pr in enumerate(el.props):
        if pr.count_dtype is None:
            fields.append((f"p{i}", endian + pr.dtype))
        else:
            fields.append((f"n{i}", endian + pr.count_dtype))
            fields.append((f"p{i}", endian + pr.dtype, (list_lengths[pr.name],)))
    return np.dtype(fields)


def _read_binary_element(
    data: bytes, pos: int, el: _Element, endian: str, path: str
) -> tuple[np.ndarray | list, int]:
    """Records of one element as a structured array (fixed-size records) or a list of dicts."""
    remaining = len(data) - pos
    if not el.has_lists:
        dt = _scalar_dtype(el, endian)
        if el.count * dt.itemsize > remaining:
            raise MeshFormatError(
                f"truncated: the header says {el.count} {el.name} records of {dt.itemsize} bytes"
                f" but only {remaining} bytes are left",
                path=path,
            )
        return np.frombuffer(data, dtype=dt, count=el.count, offset=pos), pos + el.count * dt.itemsize
    min_size = sum(np.dtype(pr.count_dtype or pr.dtype).itemsize for pr in el.props)
    if el.count * min_size > remaining:
        raise MeshFormatError(
            f"truncated: the header says {el.count} {el.name} records (at least {min_size} bytes each)"
            f" but only {remaining} bytes are left",
            path=path,
        )
    if el.count == 0:
        return [], pos
    # Fast path: every list has the length of the first record's.
    lengths: dict[str, int] = {}
    q = pos
    for pr in el.props:
        if pr.count_dtype is None:
            q += np.dtype(pr.dtype).itemsize
        else:
            n = int(np.frombuffer(data, dtype=endian + pr.count_dtype, count=1, offset=q)[0])
            if n < 0:
                raise MeshFormatError(f"{el.name} record 0: negative {pr.name} list length {n}", path=path)
            lengths[pr.name] = n
            q += np.dtype(pr.count_dtype).itemsize + n * np.dtype(pr.dtype).itemsize
            if q > len(data):
                raise MeshFormatError(f"truncated in the first {el.name} record", path=path)
    dt = _scalar_dtype(el, endian, lengths)
    if el.count * dt.itemsize <= remaining:
        arr = np.frombuffer(data, dtype=dt, count=el.count, offset=pos)
        ok = all(
            np.all(arr[f"n{i}"] == lengths[pr.name]) for i, pr in enumerate(el.props) if pr.count_dtype is not None
        )
        if ok:
            return arr, pos + el.count * dt.itemsize
    # Slow path: variable list lengths (mixed polygons), one record at a time.
    logger.info("%s: %s element has lists of varying length; reading record by record", path, el.name)
    records = []
    for r in range(el.count):
        rec = {}
        for pr in el.props:
            if pr.count_dtype is None:
                size = np.dtype(pr.dtype).itemsize
                if pos + size > len(data):
                    raise MeshFormatError(f"truncated in {el.name} record {r} of {el.count}", path=path)
                rec[pr.name] = np.frombuffer(data, dtype=endian + pr.dtype, count=1, offset=pos)[0]
                pos += size
            else:
                csize = np.dtype(pr.count_dtype).itemsize
                if pos + csize > len(data):
                    raise MeshFormatError(f"truncated in {el.name} record {r} of {el.count}", path=path)
                n = int(np.frombuffer(data, dtype=endian + pr.count_dtype, count=1, offset=pos)[0])
                pos += csize
                if n < 0:
                    raise MeshFormatError(f"{el.name} record {r}: negative {pr.name} list length {n}", path=path)
                size = n * np.dtype(pr.dtype).itemsize
                if pos + size > len(data):
                    raise MeshFormatError(f"truncated in {el.name} record {r} of {el.count}", path=path)
                rec[pr.name] = np.frombuffer(data, dtype=endian + pr.dtype, count=n, offset=pos)
                pos += size
        records.append(rec)
    return records, pos


def _faces_from_binary(recs: np.ndarray | list, el: _Element, path: str) -> tuple[np.ndarray, np.ndarray]:
    i, pr = next((i, pr) for i, pr in enumerate(el.props) if pr.name in _FACE_LISTS and pr.count_dtype)
    if pr.dtype[0] == "f":
        raise MeshFormatError("face indices are stored as floats", path=path)
    if isinstance(recs, np.ndarray):
        idx = recs[f"p{i}"]
        m = idx.shape[1] if len(idx) else 3
        counts = np.full(len(idx), m, dtype=np.int64)
        flat = idx.astype(np.int64).ravel()
    else:
        lists = [rec[pr.name] for rec in recs]
        counts = np.array([len(x) for x in lists], dtype=np.int64)
        flat = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
    if np.any(counts < 3):
        j = int(np.flatnonzero(counts < 3)[0])
        raise MeshFormatError(f"face {j}: a polygon needs at least 3 vertices, got {int(counts[j])}", path=path)
    return flat, counts


def _read_binary(data: bytes, start: int, elements: list[_Element], encoding: str, path: str):
    endian = "<" if encoding == "binary_little_endian" else ">"
    vert, face = _find(elements, path)
    verts = None
    polys = None
    pos = start
    for el in elements:
        recs, pos = _read_binary_element(data, pos, el, endian, path)
        if el is vert:
            names = [pr.name for pr in el.props]
            verts = np.stack([recs[f"p{names.index(a)}"].astype(np.float64) for a in "xyz"], axis=1)
        elif el is face:
            polys = _faces_from_binary(recs, el, path)
        if verts is not None and (face is None or polys is not None):
            break
    return verts, polys


# ----------------------------------------------------------------------------------- ascii
def _read_ascii(data: bytes, start: int, elements: list[_Element], path: str):
    vert, face = _find(elements, path)
    body = data[start:].decode("utf-8", errors="replace")
    lines = [ln for ln in (s.strip() for s in body.splitlines()) if ln]
    last = max(elements.index(vert), -1 if face is None else elements.index(face))
    need = sum(el.count for el in elements[: last + 1])
    if need > len(lines):
        raise MeshFormatError(
            f"truncated: the header announces {need} records (one per line) but only {len(lines)} lines follow",
            path=path,
        )
    verts = None
    polys = None
    row = 0
    for el in elements:
        chunk = lines[row : row + el.count]
        row += el.count
        if el is vert:
            if el.has_lists:
                raise UnsupportedFormatError("ASCII PLY vertex elements with list properties", path=path)
            names = [pr.name for pr in el.props]
            cols = tuple(names.index(a) for a in "xyz")
            verts = parse_columns(chunk, cols, np.float64, path=path, what="vertex")
        elif el is face:
            first = el.props[0]
            if first.name not in _FACE_LISTS or first.count_dtype is None:
                raise UnsupportedFormatError(
                    "ASCII PLY faces whose first property is not the vertex_indices list", path=path
                )
            polys = parse_polygons(chunk, path=path, what="face")
        if verts is not None and (face is None or polys is not None):
            break
    return verts, polys


def read_ply(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices and triangles of a PLY file (ASCII or binary), unvalidated.

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        The ``x, y, z`` properties of the ``vertex`` element, every record in file order.
    faces : ndarray, shape (F, 3), int64, or None
        Fan-triangulated ``face`` lists; ``None`` without a face element or with 0 faces.

    Raises
    ------
    MeshFormatError
        Malformed header, counts larger than the data, unreadable values.
    UnsupportedFormatError
        Unknown ``format`` line or an unusual ASCII layout.
    """
    p = str(path)
    data = read_bytes(path)
    encoding, elements, start = _parse_header(data, p)
    try:
        if encoding == "ascii":
            verts, polys = _read_ascii(data, start, elements, p)
        else:
            verts, polys = _read_binary(data, start, elements, encoding, p)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise MeshFormatError(f"malformed PLY data: {exc}", path=p) from exc
    if polys is None or len(polys[1]) == 0:
        return verts, None
    faces, _ = fan_triangulate(*polys)
    return verts, faces


def format_ply(verts: np.ndarray, faces: np.ndarray | None, *, encoding: PlyEncoding = "binary_little_endian") -> bytes:
    """PLY bytes: float64 ``x y z`` vertices and an int32 ``vertex_indices`` list per face."""
    v = np.asarray(verts, dtype=np.float64)
    f = None if faces is None else np.asarray(faces, dtype=np.int64)
    if f is not None and len(v) >= 2**31:
        raise MeshFormatError("too many vertices for int32 PLY face indices")
    lines = ["ply", f"format {encoding} 1.0", "comment written by geodesic_nets", f"element vertex {len(v)}"]
    lines += ["property double x", "property double y", "property double z"]
    if f is not None:
        lines += [f"element face {len(f)}", "property list uchar int vertex_indices"]
    header = ("\n".join(lines) + "\nend_header\n").encode("ascii")
    if encoding == "ascii":
        body = ("%.17g %.17g %.17g\n" * len(v)) % tuple(v.ravel().tolist())
        if f is not None:
            body += ("3 %d %d %d\n" * len(f)) % tuple(f.ravel().tolist())
        return header + body.encode("ascii")
    endian = "<" if encoding == "binary_little_endian" else ">"
    out = [header, v.astype(endian + "f8").tobytes()]
    if f is not None:
        rec = np.empty(len(f), dtype=[("n", "u1"), ("i", endian + "i4", (3,))])
        rec["n"] = 3
        rec["i"] = f
        out.append(rec.tobytes())
    return b"".join(out)


def write_ply(
    path: PathLike, verts: np.ndarray, faces: np.ndarray | None, *, encoding: PlyEncoding = "binary_little_endian"
) -> None:
    """Write a PLY file atomically (binary little-endian by default, or ASCII)."""
    if encoding not in ("binary_little_endian", "binary_big_endian", "ascii"):
        raise ArgumentError(f"encoding must be 'binary_little_endian', 'binary_big_endian' or 'ascii', got {encoding!r}")
    atomic_write_bytes(path, format_ply(verts, faces, encoding=encoding))
