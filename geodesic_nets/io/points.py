"""Point-cloud files: whitespace-separated text (``.xyz``, ``.txt``) and numpy ``.npy``."""

from __future__ import annotations

import numpy as np

from ..errors import MeshFormatError
from ._files import PathLike, atomic_write_bytes, check_path, decode_text, read_bytes
from ._text import parse_columns, strip_comments

__all__ = ["read_xyz", "write_xyz", "read_npy", "write_npy"]


def read_xyz(path: PathLike) -> tuple[np.ndarray, None]:
    """Points from a text file: one point per line, the first 3 columns are x y z.

    Further columns (normals, colours) are ignored; ``#`` starts a comment.

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
    faces : None
    """
    p = str(path)
    lines = strip_comments(decode_text(read_bytes(path), p))
    if not lines:
        raise MeshFormatError("file is empty (only comments)", path=p)
    return parse_columns(lines, (0, 1, 2), np.float64, path=p, what="point"), None


def write_xyz(path: PathLike, verts: np.ndarray) -> None:
    """Write ``x y z`` lines atomically, 17 significant digits (exact float64 round trip)."""
    v = np.asarray(verts, dtype=np.float64)
    atomic_write_bytes(path, (("%.17g %.17g %.17g\n" * len(v)) % tuple(v.ravel().tolist())).encode("ascii"))


def read_npy(path: PathLike) -> tuple[np.ndarray, None]:
    """Points from a ``.npy`` array of shape (V, 3) (pickled objects are refused).

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
    faces : None
    """
    p = str(check_path(path))
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, TokenError, ...
        raise MeshFormatError(f"cannot read the .npy array: {type(exc).__name__}: {exc}", path=p) from exc
    if not isinstance(arr, np.ndarray):
        raise MeshFormatError(f"expected one array, got {type(arr).__name__}", path=p)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise MeshFormatError(f"expected an array of shape (V, 3), got {arr.shape}", path=p)
    if arr.dtype.kind not in "iuf":
        raise MeshFormatError(f"expected a numeric array, got dtype {arr.dtype}", path=p)
    return np.asarray(arr, dtype=np.float64), None


def write_npy(path: PathLike, verts: np.ndarray) -> None:
    """Write the (V, 3) float64 array as ``.npy`` atomically."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(verts, dtype=np.float64), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())
