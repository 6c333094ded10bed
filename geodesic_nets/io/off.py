"""Object File Format (OFF): reader for OFF/COFF/NOFF/CNOFF/STOFF headers, and a writer.

Layout: a keyword line, a counts line ``V F E`` (possibly on the keyword line, possibly after
comment lines), then one vertex per line (the first three numbers; colours, normals or texture
coordinates after them are ignored) and one polygon per line (``n i_1 ... i_n`` then an optional
colour, ignored). Polygons are fan-triangulated; indices are 0-based.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from ..errors import MeshFormatError, UnsupportedFormatError
from ._files import PathLike, atomic_write_bytes, decode_text, read_bytes
from ._text import parse_columns, parse_polygons, strip_comments, triangulate_logged

__all__ = ["read_off", "write_off"]

logger = logging.getLogger(__name__)

_KEYWORD = re.compile(r"^(ST)?C?N?(4)?(n)?OFF$")


def _counts(tokens: list[str], path: str) -> tuple[int, int]:
    if len(tokens) < 2:
        raise MeshFormatError(f"expected a counts line 'V F E', got {' '.join(tokens)[:80]!r}", path=path)
    try:
        nv, nf = int(tokens[0]), int(tokens[1])
    except ValueError:
        raise MeshFormatError(f"cannot read the counts line {' '.join(tokens)[:80]!r}", path=path) from None
    if nv < 0 or nf < 0:
        raise MeshFormatError(f"negative counts in the header: {nv} vertices, {nf} faces", path=path)
    return nv, nf


def read_off(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices and triangles of an OFF file, unvalidated.

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        Exactly the ``V`` vertices of the header, in file order.
    faces : ndarray, shape (F, 3), int64, or None
        Fan-triangulated polygons; ``None`` when the header says 0 faces (a point cloud).

    Raises
    ------
    MeshFormatError
        Missing header, bad counts, fewer vertex or face lines than the header says (checked
        before anything is allocated), unreadable numbers, polygons with fewer than 3 vertices.
    UnsupportedFormatError
        Binary OFF, 4D or n-dimensional OFF.
    """
    p = str(path)
    data = read_bytes(path)
    head = data.lstrip()[:64]
    if re.match(rb"^[A-Z4n]*OFF[ \t]+BINARY", head):
        raise UnsupportedFormatError("binary OFF is not supported", path=p)
    lines = strip_comments(decode_text(data, p))
    if not lines:
        raise MeshFormatError("file is empty", path=p)
    first = lines[0].split()
    if not _KEYWORD.match(first[0]):
        raise MeshFormatError(f"expected an 'OFF' header line, got {lines[0][:80]!r}", path=p)
    if "4" in first[0] or "n" in first[0][:-3]:
        raise UnsupportedFormatError(f"{first[0]} (not 3-dimensional) is not supported", path=p)
    if len(first) > 1:
        nv, nf = _counts(first[1:], p)
        body = 1
    else:
        if len(lines) < 2:
            raise MeshFormatError("truncated: no counts line after the header", path=p)
        nv, nf = _counts(lines[1].split(), p)
        body = 2
    available = len(lines) - body
    if nv > available or nv + nf > available:
        raise MeshFormatError(
            f"truncated: the header says {nv} vertices and {nf} faces but only {available} lines follow",
            path=p,
        )
    if nv + nf < available:
        logger.warning("%s: %d lines after the last face were ignored", p, available - nv - nf)
    verts = parse_columns(lines[body : body + nv], (0, 1, 2), np.float64, path=p, what="vertex")
    if nf == 0:
        return verts, None
    flat, counts = parse_polygons(lines[body + nv : body + nv + nf], path=p, what="face")
    return verts, triangulate_logged(flat, counts, path=p, log=logger)


def format_off(verts: np.ndarray, faces: np.ndarray | None) -> bytes:
    """OFF text of the arrays, coordinates with 17 significant digits (exact float64 round trip)."""
    v = np.asarray(verts, dtype=np.float64)
    f = np.zeros((0, 3), dtype=np.int64) if faces is None else np.asarray(faces, dtype=np.int64)
    parts = [f"OFF\n{len(v)} {len(f)} 0\n", ("%.17g %.17g %.17g\n" * len(v)) % tuple(v.ravel().tolist())]
    parts.append(("3 %d %d %d\n" * len(f)) % tuple(f.ravel().tolist()))
    return "".join(parts).encode("ascii")


def write_off(path: PathLike, verts: np.ndarray, faces: np.ndarray | None) -> None:
    """Write an OFF file atomically."""
    atomic_write_bytes(path, format_off(verts, faces))
