"""File access shared by the readers and writers: checked reads and atomic writes."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Union

from ..errors import MeshFormatError

__all__ = ["PathLike", "read_bytes", "check_path", "atomic_write_bytes", "decode_text"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


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


def _target_mode(p: Path) -> int:
    """Permissions of the file being replaced, or those a plain ``open(p, "w")`` would give."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: PathLike, write: "Callable[[IO[bytes]], object]") -> Path:
    """Create or replace ``path`` atomically: the one atomic writer of the package.

    ``write(fh)`` writes the content to a binary handle of a temporary file in the same folder;
    the file is flushed, fsynced, given the mode a new file would get, and renamed to ``path``,
    then the folder is fsynced (best effort). When anything before the rename raises, the
    temporary file is removed, ``path`` is untouched and the exception propagates.
    """
    p = Path(os.fspath(path))
    folder = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _target_mode(p))  # mkstemp makes 0600 files
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (not supported everywhere)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return p
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return p


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

