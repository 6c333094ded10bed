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
    problem = _npy_problem(read_bytes(path))
    if problem:
        raise MeshFormatError(f"not a readable .npy array: {problem}", path=p)
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # anything the checks above missed; numpy's words kept as detail
        raise MeshFormatError(f"not a readable .npy array (numpy: {type(exc).__name__}: {exc})", path=p) from exc
    if not isinstance(arr, np.ndarray):
        raise MeshFormatError(f"expected one array, got {type(arr).__name__}", path=p)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise MeshFormatError(f"expected an array of shape (V, 3), got {arr.shape}", path=p)
    if arr.dtype.kind not in "iuf":
        raise MeshFormatError(f"expected a numeric array, got dtype {arr.dtype}", path=p)
    return np.asarray(arr, dtype=np.float64), None


_NPY_MAGIC = b"\x93NUMPY"


def _npy_problem(data: bytes) -> str | None:
    """What is wrong with the header of a ``.npy`` file, in a sentence, or None.

    Checks the magic string, the format version, that the header fits in the file and is a
    dictionary with ``descr``, ``fortran_order`` and ``shape``, and that the file holds the bytes
    that shape and dtype need.
    """
    import ast

    if not data.startswith(_NPY_MAGIC):
        return "it does not start with the .npy magic string"
    if len(data) < 10:
        return "the file ends inside its preamble"
    major = data[6]
    if major not in (1, 2, 3):
        return f"unknown format version {major}.{data[7]}"
    size_bytes = 2 if major == 1 else 4
    start = 8 + size_bytes
    if len(data) < start:
        return "the file ends inside its preamble"
    header_len = int.from_bytes(data[8:start], "little")
    if start + header_len > len(data):
        return f"the header claims {header_len} bytes but only {len(data) - start} follow (truncated?)"
    try:
        header = ast.literal_eval(data[start : start + header_len].decode("latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        return "its header is not a Python dictionary literal (corrupt)"
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= set(header):
        return "its header lacks descr, fortran_order or shape"
    shape = header["shape"]
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        return f"its shape {shape!r} is not a tuple of non-negative integers"
    try:
        dtype = np.dtype(header["descr"])
    except (TypeError, ValueError):
        return f"its dtype {header['descr']!r} is not a numpy dtype"
    if dtype.hasobject:
        return "it holds Python objects (pickles are refused)"
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = len(data) - start - header_len
    if have < need:
        return f"shape {shape} of {dtype} needs {need} bytes of data but the file holds {have} (truncated)"
    return None


def write_npy(path: PathLike, verts: np.ndarray) -> None:
    """Write the (V, 3) float64 array as ``.npy`` atomically."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(verts, dtype=np.float64), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())
