"""A tamper-evident directory of named arrays: the storage under the operator cache.

The cache knows nothing of what it stores: :meth:`ArrayCache.get_or_compute` takes a key, a
function that computes the value on a miss, and the two functions that turn the value into a dict
of numpy arrays and back (:class:`~geodesic_nets.operators.OperatorCache` supplies them for
operator bundles).

One ``.npz`` file per key. Writes are atomic (a temporary file in the same directory, fsync, then
``os.replace``), so a killed process never leaves a half-written entry under the final name, and
two processes computing the same entry both leave a whole one. Every entry carries a SHA-256
checksum of all its arrays (names, dtypes, shapes and bytes) and its own key, verified on load: a
corrupt, truncated, foreign or altered entry (even one rewritten as a valid ``.npz`` with other
values) is detected, logged, and recomputed; an entry without a checksum (an older writer) is
recomputed too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from .atomic import atomic_write
from .errors import CacheError

__all__ = ["ArrayCache", "default_cache_dir", "array_checksum"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What a decode function may raise on an entry that is not what it should be.
_BAD_ENTRY = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, CacheError)


def default_cache_dir() -> Path:
    """``<user cache dir>/geodesic_nets/operators`` (never inside the installed package)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("geodesic_nets")) / "operators"


def array_checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of every array but ``checksum``: name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == "checksum":
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ArrayCache:
    """A directory of checksummed ``.npz`` entries, one per key.

    Parameters
    ----------
    directory : path, optional
        Created if missing. Default :func:`default_cache_dir`.

    Raises
    ------
    CacheError
        If the directory cannot be created or is not a directory.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot use cache directory {self.directory}: {exc}") from exc
        if not self.directory.is_dir():
            raise CacheError(f"cache path {self.directory} is not a directory")

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` (a file-name-safe string, e.g. a hex digest) lives."""
        return self.directory / f"{key}.npz"

    def read(self, key: str, decode: Callable[[dict[str, np.ndarray]], T]) -> T | None:
        """The decoded entry of ``key``, or ``None`` when absent or bad (a bad entry is logged).

        ``decode`` raising ``ValueError``, ``KeyError``, ``TypeError`` or ``CacheError`` marks the
        entry bad too.
        """
        path = self.entry_path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as a:
                arrays = {k: a[k] for k in a.files}
            if "checksum" not in arrays:
                raise CacheError("entry has no checksum (written by an older version)")
            if str(arrays["checksum"]) != array_checksum(arrays):
                raise CacheError("checksum mismatch: the entry was altered after it was written")
            if str(arrays.get("key")) != key:
                raise CacheError("entry belongs to another key")
            return decode(arrays)
        except _BAD_ENTRY as exc:
            log.warning("ignoring unreadable cache entry %s (%s); recomputing", path, exc)
            return None

    def write(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        """Write ``arrays`` (plus the key and their checksum) atomically; returns the final path."""
        path = self.entry_path(key)
        arrays = dict(arrays, key=np.array(key))
        arrays["checksum"] = np.array(array_checksum(arrays))
        atomic_write(path, lambda fh: np.savez(fh, **arrays))
        return path

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], T],
        *,
        encode: Callable[[T], dict[str, np.ndarray]],
        decode: Callable[[dict[str, np.ndarray]], T],
    ) -> T:
        """The entry of ``key``; on a miss (or a bad entry) ``compute()``, stored, then returned.

        A failed write is logged and the computed value returned all the same.
        """
        value = self.read(key, decode)
        if value is not None:
            return value
        value = compute()
        try:
            self.write(key, encode(value))
        except OSError as exc:
            log.warning("could not write cache entry %s: %s", key, exc)
        return value
