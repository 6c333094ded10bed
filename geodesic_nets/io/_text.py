"""Vectorized parsing of whitespace-separated numeric lines, shared by the text readers.

The fast path hands all lines to numpy's C tokenizer (``np.loadtxt``); only when that fails does
a slow pass walk the lines to name the first offending one in the error message.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from ..errors import MeshFormatError

__all__ = ["load_table", "parse_columns", "parse_polygons", "fan_triangulate", "triangulate_logged",
           "strip_comments"]


def load_table(lines: list[str], dtype: type, usecols: tuple[int, ...] | None = None) -> np.ndarray | None:
    """``np.loadtxt`` of ``lines`` (shape (len(lines), columns)), or None when numpy cannot read them.

    Integer columns must hold integers: numpy 1.x's ``loadtxt`` reads ``"3.5"`` as 3 with a
    ``DeprecationWarning`` (numpy 2 refuses it); that warning is turned into a failure here, so
    every numpy gives the caller's slow path, and its error message, the same lines.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            return np.loadtxt(lines, dtype=dtype, usecols=usecols, comments=None, ndmin=2)
    except (ValueError, OverflowError, TypeError, DeprecationWarning):
        return None


def strip_comments(text: str) -> list[str]:
    """Non-empty lines of ``text`` with ``#`` comments removed (handles ``\\r\\n``)."""
    if "#" in text:
        lines = (ln.partition("#")[0].strip() for ln in text.splitlines())
    else:
        lines = (ln.strip() for ln in text.splitlines())
    return [ln for ln in lines if ln]


def _convert(tok: str, dtype: type) -> float | int:
    if dtype is np.int64:
        return int(tok)
    return float(tok)


def parse_columns(
    lines: list[str], cols: tuple[int, ...], dtype: type, *, path: str, what: str
) -> np.ndarray:
    """Columns ``cols`` of every line, shape (len(lines), len(cols)), ``dtype`` (float64 or int64).

    Lines may carry more columns than needed (colours, normals); the extra ones are not read.

    Raises
    ------
    MeshFormatError
        Naming the first ``what`` (e.g. "vertex 12") with too few columns or a bad token.
    """
    n, k = len(lines), len(cols)
    if n == 0:
        return np.zeros((0, k), dtype=dtype)
    arr = load_table(lines, dtype, cols)
    if arr is not None and arr.shape == (n, k):
        return arr
    kind = "an integer" if dtype is np.int64 else "a number"
    rows = []
    for i, line in enumerate(lines):
        toks = line.split()
        if len(toks) <= max(cols):
            raise MeshFormatError(
                f"{what} {i}: expected at least {max(cols) + 1} values, got {len(toks)}: {line[:80]!r}",
                path=path,
            )
        row = []
        for c in cols:
            try:
                row.append(_convert(toks[c], dtype))
            except (ValueError, OverflowError):
                raise MeshFormatError(f"{what} {i}: cannot read {toks[c][:40]!r} as {kind}", path=path) from None
        rows.append(row)
    try:
        return np.array(rows, dtype=dtype).reshape(n, k)
    except OverflowError as exc:
        raise MeshFormatError(f"{what}: an index does not fit in int64", path=path) from exc


def fan_triangulate(flat: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split polygons into triangle fans around their first vertex.

    Parameters
    ----------
    flat : ndarray, shape (sum(counts),), int64
        Vertex indices of all polygons, one after the other.
    counts : ndarray, shape (P,), int64
        Number of vertices of each polygon, all >= 3.

    Returns
    -------
    faces : ndarray, shape (sum(counts - 2), 3), int64
        Triangles ``(p0, p_k, p_k+1)`` for ``k = 1 .. n-2`` of each polygon, in polygon order.
    polygon : ndarray, shape (F,), int64
        Index of the polygon each triangle came from.
    """
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    ntri = counts - 2
    polygon = np.repeat(np.arange(len(counts), dtype=np.int64), ntri)
    tri_start = np.concatenate([[0], np.cumsum(ntri)[:-1]]).astype(np.int64)
    k = np.arange(len(polygon), dtype=np.int64) - np.repeat(tri_start, ntri) + 1  # 1 .. n-2
    base = np.repeat(starts, ntri)
    faces = np.stack([flat[base], flat[base + k], flat[base + k + 1]], axis=1)
    return faces.astype(np.int64, copy=False), polygon


def triangulate_logged(flat: np.ndarray, counts: np.ndarray, *, path: str, log: logging.Logger) -> np.ndarray:
    """:func:`fan_triangulate`'s faces, (F, 3) int64, saying on ``log`` (info) how many polygons it split."""
    faces, _ = fan_triangulate(flat, counts)
    if np.any(counts > 3):
        log.info("%s: %d polygons with more than 3 vertices were fan-triangulated", path, int((counts > 3).sum()))
    return faces


def parse_polygons(lines: list[str], *, path: str, what: str = "face") -> tuple[np.ndarray, np.ndarray]:
    """Polygons written as ``n i_1 ... i_n [anything]`` per line (OFF faces, ASCII PLY faces).

    Returns
    -------
    flat : ndarray, shape (sum(counts),), int64
    counts : ndarray, shape (P,), int64
        Polygon sizes; a polygon with fewer than 3 vertices is an error.
    """
    n = len(lines)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Fast path: all triangles.
    arr = load_table(lines, np.int64, (0, 1, 2, 3))
    if arr is not None and arr.shape == (n, 4) and np.all(arr[:, 0] == 3):
        return arr[:, 1:].ravel(), np.full(n, 3, dtype=np.int64)
    flat: list[int] = []
    counts = np.empty(n, dtype=np.int64)
    for i, line in enumerate(lines):
        toks = line.split()
        try:
            m = int(toks[0])
        except (ValueError, OverflowError):
            raise MeshFormatError(f"{what} {i}: cannot read the vertex count {toks[0][:40]!r}", path=path) from None
        if m < 3:
            raise MeshFormatError(f"{what} {i}: a polygon needs at least 3 vertices, got {m}", path=path)
        if len(toks) < m + 1:
            raise MeshFormatError(
                f"{what} {i}: says {m} vertices but lists {len(toks) - 1}: {line[:80]!r}", path=path
            )
        for t in toks[1 : m + 1]:
            try:
                flat.append(int(t))
            except (ValueError, OverflowError):
                raise MeshFormatError(f"{what} {i}: cannot read {t[:40]!r} as a vertex index", path=path) from None
        counts[i] = m
    try:
        flat_arr = np.array(flat, dtype=np.int64)
    except OverflowError as exc:
        raise MeshFormatError(f"{what}: a vertex index does not fit in int64", path=path) from exc
    return flat_arr, counts
