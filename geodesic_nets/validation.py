"""The one validator of vertex, face and index arrays, called at the edge of every layer.

:class:`~geodesic_nets.Surface`, the readers and the geometry entry points all check their arrays
here, so a bad array gets the same message wherever it enters. Each function takes the exception
class to raise (``InvalidSurfaceError`` for a surface being built, ``GeometryError`` for a
computation's input) and a ``what`` naming the input in the message (a file or surface name).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import GeodesicNetsError, InvalidSurfaceError

__all__ = ["check_verts", "check_faces", "check_index", "check_indices"]


def _prefix(what: str | None) -> str:
    return f"{what}: " if what else ""


def check_verts(
    verts: Any,
    *,
    what: str | None = None,
    error: type[GeodesicNetsError] = InvalidSurfaceError,
    allow_empty: bool = True,
) -> np.ndarray:
    """Vertex positions as a C-contiguous float64 array of shape (V, 3), every entry finite.

    Raises
    ------
    error
        Not numeric, not (V, 3), empty (unless ``allow_empty``), or a non-finite coordinate (the
        message names the first such vertex and counts them).
    """
    where = _prefix(what)
    try:
        v = np.ascontiguousarray(verts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"{where}vertices are not numeric: {exc}") from None
    if v.ndim != 2 or v.shape[1] != 3:
        raise error(f"{where}expected verts of shape (V, 3), got {v.shape}")
    if not allow_empty and len(v) == 0:
        raise error(f"{where}the surface is empty (0 vertices)")
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise error(f"{where}vertex {i} has a non-finite coordinate {v[i].tolist()} ({int(bad.sum())} such vertices)")
    return v


def check_faces(
    faces: Any,
    num_verts: int,
    *,
    what: str | None = None,
    error: type[GeodesicNetsError] = InvalidSurfaceError,
    allow_empty: bool = True,
) -> np.ndarray:
    """Triangle indices as a C-contiguous int64 array of shape (F, 3), each in ``[0, num_verts)``.

    Integral floats are accepted (some formats store indices as floats); an empty array of any
    shape is (0, 3) unless ``allow_empty`` is False.

    Raises
    ------
    error
        Not (F, 3), not integers, an index out of range (the message names the first such face
        and counts them), or empty when ``allow_empty`` is False.
    """
    where = _prefix(what)
    f = np.asarray(faces)
    if f.size == 0:
        if not allow_empty:
            raise error(f"{where}empty mesh: no faces (pass faces=None for a point cloud)")
        f = f.reshape(0, 3)
    if f.ndim != 2 or f.shape[1] != 3:
        raise error(f"{where}expected faces of shape (F, 3), got {f.shape}")
    if f.dtype.kind == "f":
        if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
            raise error(f"{where}face indices are not integers")
    elif f.dtype.kind not in "iu":
        raise error(f"{where}face indices have dtype {f.dtype}, expected an integer dtype")
    f = np.ascontiguousarray(f, dtype=np.int64)
    out = ((f < 0) | (f >= num_verts)).any(axis=1)
    if out.any():
        j = int(np.flatnonzero(out)[0])
        raise error(
            f"{where}face {j} references vertex {f[j].tolist()} but there are {num_verts} vertices"
            f" ({int(out.sum())} such faces)"
        )
    return f


def check_index(
    index: Any, num_verts: int, *, what: str = "source", error: type[GeodesicNetsError] = InvalidSurfaceError
) -> int:
    """One vertex index as a Python int in ``[0, num_verts)``."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise error(f"{what} must be an integer vertex index, got {index!r}")
    i = int(index)
    if not 0 <= i < num_verts:
        raise error(f"{what} vertex {i} is out of range for a surface of {num_verts} vertices")
    return i


def check_indices(
    indices: Any, num_verts: int, *, what: str = "source", error: type[GeodesicNetsError] = InvalidSurfaceError
) -> np.ndarray:
    """Vertex indices as a 1-D int64 array (a scalar becomes one entry), each in ``[0, num_verts)``."""
    a = np.asarray(indices)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise error(f"{what} indices must be a 1-D array, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise error(f"{what} indices have dtype {a.dtype}, expected an integer dtype")
    a = a.astype(np.int64)
    bad = (a < 0) | (a >= num_verts)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise error(f"{what} vertex {int(a[k])} (position {k}) is out of range for a surface of {num_verts} vertices")
    return a
