"""Wavefront OBJ: a vectorized reader that keeps the file's vertex list as it is, and a writer.

Only geometry is read: ``v`` lines (the first three numbers; a ``w`` or vertex colours after them
are ignored) and ``f`` lines (tokens ``v``, ``v/vt``, ``v//vn``, ``v/vt/vn``; 1-based, negative
indices relative to the vertices listed so far). Polygons are fan-triangulated. Texture
coordinates, normals, groups, materials, lines and points are skipped, so vertices are never
split at texture seams as some other readers do.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from ..errors import MeshFormatError
from ._files import PathLike, atomic_write_bytes, decode_text, read_bytes
from ._text import load_table, parse_columns, triangulate_logged

__all__ = ["read_obj", "write_obj"]

logger = logging.getLogger(__name__)

_V = ("v ", "v\t")
_F = ("f ", "f\t")
_INDENTED = re.compile(r"^[ \t]+[vf][ \t]", re.M)


def _face_tokens_fast(flines: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(flat, counts) when every face line has the same size and token pattern, else None."""
    body = [ln[2:] for ln in flines]
    first = body[0].split()
    if not first:
        return None
    tok = first[0]
    slashes = tok.count("/")
    k = 1 + slashes - (1 if "//" in tok else 0)  # integers per vertex reference
    joined = "\n".join(body)
    if "#" in joined:
        return None
    s = joined.replace("//", " ").replace("/", " ")
    arr = load_table(s.split("\n"), np.int64)
    if arr is None or arr.shape[0] != len(flines) or arr.shape[1] % k:
        return None
    n = arr.shape[1] // k
    if n < 3 or joined.count("/") != slashes * n * len(flines):
        return None
    flat = np.ascontiguousarray(arr[:, ::k]).ravel()
    return flat, np.full(len(flines), n, dtype=np.int64)


def _face_tokens_slow(flines: list[str], path: str) -> tuple[np.ndarray, np.ndarray]:
    flat: list[int] = []
    counts = np.empty(len(flines), dtype=np.int64)
    for i, line in enumerate(flines):
        toks = line.partition("#")[0].split()[1:]
        if len(toks) < 3:
            raise MeshFormatError(f"face {i} (f line {i + 1}): needs at least 3 vertices, got {len(toks)}", path=path)
        for t in toks:
            head = t.split("/", 1)[0]
            try:
                flat.append(int(head))
            except ValueError:
                raise MeshFormatError(f"face {i} (f line {i + 1}): cannot read {t[:40]!r} as a vertex index", path=path) from None
        counts[i] = len(toks)
    try:
        return np.array(flat, dtype=np.int64), counts
    except OverflowError as exc:
        raise MeshFormatError("a face index does not fit in int64", path=path) from exc


def read_obj(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices and triangles of an OBJ file, unvalidated.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        One row per ``v`` line, in file order (may hold NaN when the file does).
    faces : ndarray, shape (F, 3), int64, or None
        0-based; ``None`` when the file has no ``f`` line (a point cloud). Index 0 of the file
        (invalid in OBJ) becomes -1, so it is reported as out of range downstream.

    Raises
    ------
    MeshFormatError
        Missing or empty file, unreadable numbers (naming the vertex or face), faces with
        fewer than 3 vertices, an OBJ with no vertex at all.
    """
    p = str(path)
    text = decode_text(read_bytes(path), p)
    lines = text.splitlines()
    if _INDENTED.search(text):
        lines = [ln.lstrip() for ln in lines]
    vlines = [ln for ln in lines if ln[:2] in _V]
    flines = [ln for ln in lines if ln[:2] in _F]
    if not vlines:
        raise MeshFormatError("no vertex ('v' line) found: not an OBJ mesh or empty", path=p)
    if any("#" in ln for ln in vlines):
        vlines = [ln.partition("#")[0] for ln in vlines]
    verts = parse_columns(vlines, (1, 2, 3), np.float64, path=p, what="vertex")
    if not flines:
        logger.info("%s: no 'f' line, read as a point cloud of %d points", p, len(verts))
        return verts, None
    fast = _face_tokens_fast(flines)
    flat, counts = fast if fast is not None else _face_tokens_slow(flines, p)
    neg = flat < 0
    if neg.any():
        # Relative indices: -1 is the last vertex listed before that face line.
        is_v = np.fromiter((ln[:2] in _V for ln in lines), dtype=bool, count=len(lines))
        is_f = np.fromiter((ln[:2] in _F for ln in lines), dtype=bool, count=len(lines))
        nv_before = np.cumsum(is_v)[is_f]  # (P,)
        flat = np.where(neg, flat + np.repeat(nv_before, counts), flat - 1)
    else:
        flat = flat - 1
    return verts, triangulate_logged(flat, counts, path=p, log=logger)


def format_obj(verts: np.ndarray, faces: np.ndarray | None) -> bytes:
    """OBJ text of the arrays, coordinates with 17 significant digits (exact float64 round trip)."""
    v = np.asarray(verts, dtype=np.float64)
    parts = ["# written by geodesic_nets\n", ("v %.17g %.17g %.17g\n" * len(v)) % tuple(v.ravel().tolist())]
    if faces is not None and len(faces):
        f = np.asarray(faces, dtype=np.int64) + 1
        parts.append(("f %d %d %d\n" * len(f)) % tuple(f.ravel().tolist()))
    return "".join(parts).encode("ascii")


def write_obj(path: PathLike, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """Write an OBJ file atomically (``v`` and 1-based ``f`` lines only)."""
    atomic_write_bytes(path, format_obj(verts, faces))
