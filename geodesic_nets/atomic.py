"""The package's one atomic file writer (layer 1: the cache, io and tasks all write through it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Union

__all__ = ["atomic_write"]

PathLike = Union[str, "os.PathLike[str]"]


def _target_mode(p: Path) -> int:
    """Permissions of the file being replaced, or those a plain ``open(p, "w")`` would give."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not supported everywhere)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def atomic_write(path: PathLike, write: "Callable[[IO[bytes]], object]") -> Path:
    """Create or replace ``path`` atomically.

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
    _fsync_folder(folder)
    return p
