"""OperatorCache: operator bundles in an :class:`~geodesic_nets.cache.ArrayCache`.

An entry is keyed by the SHA-256 of the exact geometry, the settings and
:data:`CACHE_FORMAT_VERSION`. Its arrays are named after the registry's fields (a dense field by
its name; a sparse one as ``name.data``, ``name.indices``, ``name.indptr``, ``name.shape``; a
dataclass as ``name.<its field>``; an absent optional field not at all), so the encoding follows
the registry when an operator is added. A loaded entry is checked against the registry's shapes,
the settings and the surface before it is returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ..cache import ArrayCache
from ..errors import CacheError
from ..settings import OperatorSettings
from ..surface import Surface
from .bundle import SurfaceOperators
from .compute import compute_bundle
from .fields import OPERATOR_FIELDS, TENSOR_FIELDS, stage_of

__all__ = ["OperatorCache", "CACHE_FORMAT_VERSION", "encode_operators", "decode_operators", "check_operators"]

#: Bump when the meaning or layout of a cached operator changes; old entries are then ignored.
CACHE_FORMAT_VERSION = 2


def encode_operators(ops: SurfaceOperators) -> dict[str, np.ndarray]:
    """The arrays of an entry (see the module docstring for the names)."""
    out: dict[str, np.ndarray] = {"verts": np.asarray(ops.verts)}
    out["faces"] = np.zeros((0, 3), np.int64) if ops.faces is None else ops.faces
    out["is_point_cloud"] = np.array(ops.faces is None)
    for f in OPERATOR_FIELDS:
        value = getattr(ops, f.name)
        if value is None:
            continue
        if f.kind == "array":
            out[f.name] = np.asarray(value)
        elif f.kind == "sparse":
            m = sp.csr_matrix(value)
            out[f"{f.name}.data"], out[f"{f.name}.indices"] = m.data, m.indices
            out[f"{f.name}.indptr"], out[f"{f.name}.shape"] = m.indptr, np.asarray(m.shape)
        else:
            for g in dataclasses.fields(value):
                out[f"{f.name}.{g.name}"] = np.asarray(getattr(value, g.name))
    out["timings.names"] = np.array(list(ops.timings.keys()), dtype=str)
    out["timings.values"] = np.array(list(ops.timings.values()), dtype=np.float64)
    return out


def _decode_field(a: dict[str, np.ndarray], name: str, kind: Any) -> Any:
    if kind == "array":
        return a.get(name)
    if kind == "sparse":
        if f"{name}.data" not in a:
            return None
        shape = tuple(int(s) for s in a[f"{name}.shape"])
        return sp.csr_matrix((a[f"{name}.data"], a[f"{name}.indices"], a[f"{name}.indptr"]), shape=shape)
    names = [g.name for g in dataclasses.fields(kind)]
    if not any(f"{name}.{n}" in a for n in names):
        return None
    return kind(**{n: a[f"{name}.{n}"] for n in names})


def decode_operators(a: dict[str, np.ndarray], settings: OperatorSettings) -> SurfaceOperators:
    """The bundle stored in the arrays ``a``, checked with :func:`check_operators`.

    Raises
    ------
    CacheError
        On a missing array or a bundle that does not fit its own shapes or ``settings``.
    """
    try:
        values = {f.name: _decode_field(a, f.name, f.kind) for f in OPERATOR_FIELDS}
        ops = SurfaceOperators(
            verts=a["verts"],
            faces=None if bool(a["is_point_cloud"]) else a["faces"],
            settings=settings,
            timings=dict(zip(a["timings.names"].tolist(), a["timings.values"].tolist())),
            **values,
        )
    except KeyError as exc:
        raise CacheError(f"entry lacks array {exc}") from None
    problems = check_operators(ops)
    if problems:
        raise CacheError("inconsistent cached operators: " + "; ".join(problems))
    return ops


def check_operators(ops: SurfaceOperators) -> list[str]:
    """What is wrong with ``ops`` by the registry (empty when nothing is).

    Every field must be present exactly when its stage is enabled by ``ops.settings``; every tensor
    must have the registry's shape with the dimensions (V, F, E, K, P, S) consistent across
    fields; floating arrays must be finite.
    """
    problems = []
    for f in OPERATOR_FIELDS:
        expected = stage_of(f.name).enabled(ops.settings)
        if (getattr(ops, f.name) is not None) != expected:
            problems.append(f"{f.name} is {'missing' if expected else 'present but not asked for'}")
    if problems:
        return problems
    dims: dict[str, int] = {"V": int(np.asarray(ops.verts).shape[0])}
    if ops.settings.anisotropic is not None:
        dims["S"] = ops.settings.anisotropic.num_kernels
    for t in TENSOR_FIELDS:
        value = t.read(ops)
        if value is None:
            continue
        if len(value.shape) != len(t.shape):
            problems.append(f"{t.name} has shape {tuple(value.shape)}, expected {t.shape}")
            continue
        for size, want in zip(value.shape, t.shape):
            want = dims.setdefault(want, int(size)) if isinstance(want, str) else want
            if int(size) != want:
                problems.append(f"{t.name} has shape {tuple(value.shape)}, expected {t.shape} with {dims}")
                break
        data = value.data if sp.issparse(value) else np.asarray(value)
        if t.dtype != "index" and not np.isfinite(data).all():
            problems.append(f"{t.name} has non-finite entries")
    return problems


class OperatorCache:
    """A directory of cached operator bundles.

    Parameters
    ----------
    directory : path, optional
        Created if missing. Default :func:`~geodesic_nets.default_cache_dir`.

    Raises
    ------
    CacheError
        If the directory cannot be created or is not a directory.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.arrays = ArrayCache(directory)
        self.directory = self.arrays.directory

    def key(self, surface: Surface, settings: OperatorSettings) -> str:
        """Hex SHA-256 of the exact geometry, the settings and the cache format version."""
        h = hashlib.sha256()
        h.update(f"geodesic_nets-operators-v{CACHE_FORMAT_VERSION}\n".encode())
        h.update(surface.geometry_hash().encode())
        h.update(settings.to_json().encode())
        return h.hexdigest()

    def path(self, surface: Surface, settings: OperatorSettings) -> Path:
        return self.arrays.entry_path(self.key(surface, settings))

    def _decoder(self, surface: Surface, settings: OperatorSettings) -> Callable[[dict], SurfaceOperators]:
        def decode(arrays: dict[str, np.ndarray]) -> SurfaceOperators:
            ops = decode_operators(arrays, settings)
            if not np.array_equal(ops.verts, surface.verts):
                raise CacheError("cached vertices differ from the surface")
            return ops

        return decode

    def load(self, surface: Surface, settings: OperatorSettings) -> SurfaceOperators | None:
        """The cached bundle, or ``None`` when absent or unreadable (a bad entry is logged)."""
        return self.arrays.read(self.key(surface, settings), self._decoder(surface, settings))

    def store(self, surface: Surface, settings: OperatorSettings, ops: SurfaceOperators) -> Path:
        """Write ``ops`` atomically; returns the final path."""
        return self.arrays.write(self.key(surface, settings), encode_operators(ops))

    def get_or_compute(
        self,
        surface: Surface,
        settings: OperatorSettings,
        compute: Callable[[Surface, OperatorSettings], SurfaceOperators] | None = None,
    ) -> SurfaceOperators:
        """Load the bundle for ``(surface, settings)``, computing and storing it on a miss.

        ``compute`` defaults to :func:`~geodesic_nets.operators.compute.compute_bundle`.
        """
        compute = compute_bundle if compute is None else compute
        return self.arrays.get_or_compute(
            self.key(surface, settings),
            lambda: compute(surface, settings),
            encode=encode_operators,
            decode=self._decoder(surface, settings),
        )
