"""Opt-in disk cache of :class:`~geodesic_nets.operators.SurfaceOperators`.

One ``.npz`` file per (geometry, settings, format version), named by the SHA-256 of the three.
Writes are atomic (a temporary file in the same directory, fsync, then ``os.replace``), so a
killed process never leaves a half-written entry under the final name. Every entry carries a
SHA-256 checksum of all its arrays (names, dtypes, shapes and bytes), verified on load: a corrupt,
truncated, foreign or altered entry (even one rewritten as a valid ``.npz`` with other values)
is detected, logged, and recomputed; an entry without a checksum (an older writer) is
recomputed too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .errors import CacheError
from .geometry.connection import Connection
from .geometry.frames import TangentFrames
from .geometry.patches import GeodesicPatches
from .settings import OperatorSettings
from .surface import Surface

__all__ = ["OperatorCache", "default_cache_dir", "CACHE_FORMAT_VERSION"]

log = logging.getLogger(__name__)

#: Bump when the meaning or layout of a cached operator changes; old entries are then ignored.
CACHE_FORMAT_VERSION = 2

_SPARSE = ("laplacian", "gradient")
_DENSE = ("verts", "mass", "evals", "evecs")


def default_cache_dir() -> Path:
    """``<user cache dir>/geodesic_nets/operators`` (never inside the installed package)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("geodesic_nets")) / "operators"


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of every array but ``checksum``: name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == "checksum":
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _to_arrays(ops) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {name: np.asarray(getattr(ops, name)) for name in _DENSE}
    out["faces"] = np.zeros((0, 3), np.int64) if ops.faces is None else ops.faces
    out["is_point_cloud"] = np.array(ops.faces is None)
    for name in _SPARSE:
        m = getattr(ops, name).tocsr()
        out[f"{name}.data"], out[f"{name}.indices"] = m.data, m.indices
        out[f"{name}.indptr"], out[f"{name}.shape"] = m.indptr, np.asarray(m.shape)
    out["has_patches"] = np.array(ops.patches is not None)
    if ops.patch_kernels is not None:
        out["patch_kernels"] = ops.patch_kernels
    for group in ("frames", "connection", "patches"):
        obj = getattr(ops, group)
        if obj is None:
            continue
        for f in dataclasses.fields(obj):
            out[f"{group}.{f.name}"] = np.asarray(getattr(obj, f.name))
    out["timings.names"] = np.array(list(ops.timings.keys()), dtype=str)
    out["timings.values"] = np.array(list(ops.timings.values()), dtype=np.float64)
    return out


def _from_arrays(a, settings: OperatorSettings):
    from .operators import SurfaceOperators

    def sparse(name: str) -> sp.csr_matrix:
        shape = tuple(int(s) for s in a[f"{name}.shape"])
        return sp.csr_matrix((a[f"{name}.data"], a[f"{name}.indices"], a[f"{name}.indptr"]), shape=shape)

    def group(cls, prefix: str):
        return cls(**{f.name: a[f"{prefix}.{f.name}"] for f in dataclasses.fields(cls)})

    ops = SurfaceOperators(
        verts=a["verts"],
        faces=None if bool(a["is_point_cloud"]) else a["faces"],
        mass=a["mass"],
        laplacian=sparse("laplacian"),
        evals=a["evals"],
        evecs=a["evecs"],
        gradient=sparse("gradient"),
        frames=group(TangentFrames, "frames"),
        connection=group(Connection, "connection"),
        settings=settings,
        patches=group(GeodesicPatches, "patches") if bool(a["has_patches"]) else None,
        patch_kernels=a["patch_kernels"] if "patch_kernels" in a else None,
        timings=dict(zip(a["timings.names"].tolist(), a["timings.values"].tolist())),
    )
    v = ops.num_verts
    consistent = (
        ops.mass.shape == (v,)
        and ops.evecs.shape == (v, ops.evals.shape[0])
        and ops.laplacian.shape == (v, v)
        and ops.gradient.shape == (v, v)
        and ops.frames.normals.shape == (v, 3)
        and np.isfinite(ops.evecs).all()
        and (settings.patch_size == 0) == (ops.patches is None)
        and (settings.anisotropic is None) == (ops.patch_kernels is None)
        and (
            ops.patch_kernels is None
            or ops.patch_kernels.shape == (len(ops.patches), settings.anisotropic.num_kernels)
        )
    )
    if not consistent:
        raise ValueError("inconsistent shapes in cached operators")
    return ops


class OperatorCache:
    """A directory of cached operator bundles.

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

    def key(self, surface: Surface, settings: OperatorSettings) -> str:
        """Hex SHA-256 of the exact geometry, the settings and the cache format version."""
        h = hashlib.sha256()
        h.update(f"geodesic_nets-operators-v{CACHE_FORMAT_VERSION}\n".encode())
        h.update(surface.geometry_hash().encode())
        h.update(settings.to_json().encode())
        return h.hexdigest()

    def path(self, surface: Surface, settings: OperatorSettings) -> Path:
        return self.directory / f"{self.key(surface, settings)}.npz"

    def load(self, surface: Surface, settings: OperatorSettings):
        """The cached bundle, or ``None`` when absent or unreadable (a bad entry is logged)."""
        path = self.path(surface, settings)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as a:
                arrays = {k: a[k] for k in a.files}
            if "checksum" not in arrays:
                raise ValueError("entry has no checksum (written by an older version)")
            if str(arrays["checksum"]) != _checksum(arrays):
                raise ValueError("checksum mismatch: the entry was altered after it was written")
            if str(arrays["key"]) != path.stem:
                raise ValueError("entry belongs to another key")
            ops = _from_arrays(arrays, settings)
            if not np.array_equal(ops.verts, surface.verts):
                raise ValueError("cached vertices differ from the surface")
            return ops
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable cache entry %s (%s); recomputing", path, exc)
            return None

    def store(self, surface: Surface, settings: OperatorSettings, ops) -> Path:
        """Write ``ops`` atomically; returns the final path."""
        path = self.path(surface, settings)
        arrays = _to_arrays(ops)
        arrays["key"] = np.array(path.stem)
        arrays["checksum"] = np.array(_checksum(arrays))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    def get_or_compute(self, surface: Surface, settings: OperatorSettings):
        """Load the bundle for ``(surface, settings)``, computing and storing it on a miss."""
        from .operators import _compute

        ops = self.load(surface, settings)
        if ops is not None:
            return ops
        ops = _compute(surface, settings)
        try:
            self.store(surface, settings, ops)
        except OSError as exc:
            log.warning("could not write cache entry for %s: %s", surface, exc)
        return ops
