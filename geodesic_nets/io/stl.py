"""STL (binary and ASCII): a triangle soup whose exactly equal corners are merged into vertices.

STL stores three float32 corners per triangle and no vertex list. The reader merges corners
whose coordinates are *exactly* equal (after float32 -> float64, with -0.0 equal to 0.0) into
one vertex, numbered in order of first appearance; nothing is merged within a tolerance.
Non-finite corners are never merged, so they stay visible to :func:`geodesic_nets.io.inspect`.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import MeshFormatError
from ._files import PathLike, atomic_write_bytes, read_bytes

__all__ = ["read_stl", "write_stl", "merge_exact"]

logger = logging.getLogger(__name__)

_RECORD = np.dtype([("normal", "<f4", (3,)), ("corners", "<f4", (3, 3)), ("attr", "<u2")])


def merge_exact(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge rows with exactly equal coordinates, numbering them in order of first appearance.

    Parameters
    ----------
    points : ndarray, shape (N, 3), float64

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        The distinct rows, in order of first appearance (non-finite rows are all kept).
    index : ndarray, shape (N,), int64
        ``verts[index[i]] == points[i]``.
    """
    pts = np.asarray(points, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    n = len(pts)
    key = np.zeros(n, dtype=np.int64)
    finite = np.isfinite(pts).all(axis=1)
    fin_idx = np.flatnonzero(finite)
    if len(fin_idx):
        _, first, inv = np.unique(pts[fin_idx], axis=0, return_index=True, return_inverse=True)
        key[fin_idx] = fin_idx[first][inv.ravel()]  # index of the first equal row
    key[~finite] = np.flatnonzero(~finite)
    reps = np.flatnonzero(key == np.arange(n))  # first appearances, increasing
    new_of_rep = np.full(n, -1, dtype=np.int64)
    new_of_rep[reps] = np.arange(len(reps))
    return np.asarray(points, dtype=np.float64)[reps], new_of_rep[key]


def _corners_ascii(data: bytes, path: str) -> np.ndarray:
    toks = data.decode("utf-8", errors="replace").split()
    arr = np.array(toks, dtype=object)
    at = np.flatnonzero(arr == "vertex")
    if len(at) % 3:
        raise MeshFormatError(f"ASCII STL with {len(at)} 'vertex' lines, not a multiple of 3 (truncated?)", path=path)
    if len(at) and at[-1] + 3 >= len(toks):
        raise MeshFormatError("truncated: the last 'vertex' line has fewer than 3 numbers", path=path)
    n_facets = sum(1 for t in toks if t == "facet")
    if n_facets * 3 != len(at):
        raise MeshFormatError(f"ASCII STL with {n_facets} facets but {len(at)} vertices", path=path)
    cols = arr[(at[:, None] + np.arange(1, 4)).ravel()] if len(at) else np.zeros(0, dtype=object)
    try:
        return np.array(cols.tolist(), dtype=np.float64).reshape(-1, 3)
    except ValueError:
        bad = next(i for i, t in enumerate(cols.tolist()) if not _is_float(t))
        raise MeshFormatError(
            f"corner {bad // 3}: cannot read {str(cols[bad])[:40]!r} as a number", path=path
        ) from None


def _is_float(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def read_stl(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an STL file, exactly equal corners merged.

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        Distinct corner positions in order of first appearance.
    faces : ndarray, shape (F, 3), int64
        One triangle per STL facet, in file order.

    Raises
    ------
    MeshFormatError
        Neither a binary STL whose size matches its triangle count nor a readable ASCII STL.
    """
    p = str(path)
    data = read_bytes(path)
    n_bin = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0]) if len(data) >= 84 else -1
    if n_bin >= 0 and len(data) == 84 + _RECORD.itemsize * n_bin:
        recs = np.frombuffer(data, dtype=_RECORD, count=n_bin, offset=84)
        corners = recs["corners"].reshape(-1, 3).astype(np.float64)
    elif data.lstrip()[:5].lower() == b"solid":
        corners = _corners_ascii(data, p)
    elif n_bin >= 0:
        raise MeshFormatError(
            f"binary STL header says {n_bin} triangles ({84 + _RECORD.itemsize * n_bin} bytes)"
            f" but the file has {len(data)} bytes (truncated or corrupt)",
            path=p,
        )
    else:
        raise MeshFormatError("not an STL file: too short for binary and no 'solid' keyword", path=p)
    verts, index = merge_exact(corners)
    logger.info("%s: %d STL corners merged into %d vertices (exact equality)", p, len(corners), len(verts))
    return verts, index.reshape(-1, 3)


def format_stl(verts: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary STL bytes (coordinates rounded to float32, as the format requires)."""
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    tri = v[f]  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    rec = np.zeros(len(f), dtype=_RECORD)
    rec["normal"] = n
    rec["corners"] = tri
    header = b"binary STL written by geodesic_nets".ljust(80, b" ")
    return header + np.uint32(len(f)).astype("<u4").tobytes() + rec.tobytes()


def write_stl(path: PathLike, verts: np.ndarray, faces: np.ndarray) -> None:
    """Write a binary STL file atomically; the vertex list itself is not stored by STL."""
    atomic_write_bytes(path, format_stl(verts, faces))
