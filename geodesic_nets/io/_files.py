"""File access shared by the readers and writers: checked reads and atomic writes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..atomic import PathLike, atomic_write
from ..errors import MeshFormatError

__all__ = ["PathLike", "read_bytes", "check_path", "atomic_write_bytes", "decode_text"]

logger = logging.getLogger(__name__)


def check_path(path: PathLike) -> Path:
    """The path as a :class:`~pathlib.Path`, checked to be an existing regular file.

    Raises
    ------
    MeshFormatError
        When the file does not exist or is not a regular file.
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise MeshFormatError("no such file", path=str(p))
    if not p.is_file():
        raise MeshFormatError("not a regular file (a directory?)", path=str(p))
    return p


def read_bytes(path: PathLike) -> bytes:
    """The whole content of a non-empty file.

    Raises
    ------
    MeshFormatError
        When the file is missing, unreadable or empty.
    """
    p = check_path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MeshFormatError(f"cannot read the file: {exc.strerror or exc}", path=str(p)) from exc
    if not data.strip():
        raise MeshFormatError("file is empty", path=str(p))
    return data


def decode_text(data: bytes, path: str) -> str:
    """Text of a text-format file; undecodable bytes become U+FFFD (then fail as bad tokens)."""
    if b"\x00" in data:
        raise MeshFormatError("file contains NUL bytes: binary data in a text format", path=path)
    return data.decode("utf-8", errors="replace")


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``, failures reported as :class:`MeshFormatError` naming the file.

    A reader never sees a half-written file, and a failed write leaves an existing file intact.
    """
    p = Path(os.fspath(path))
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise MeshFormatError("the folder to write into does not exist", path=str(p))
    try:
        atomic_write(p, lambda fh: fh.write(data))
    except OSError as exc:
        raise MeshFormatError(f"cannot write the file: {exc.strerror or exc}", path=str(p)) from exc
    logger.debug("wrote %d bytes to %s", len(data), p)
    return p

