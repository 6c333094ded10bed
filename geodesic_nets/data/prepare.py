"""Load, normalize and compute the operators of many shapes, in parallel, with an optional cache.

:func:`prepare_samples` is the one loader every dataset of :mod:`geodesic_nets.data` goes
through: files (or generated :class:`~geodesic_nets.Surface` objects) in, torch operator
bundles out, each with a record of what was done to it (original area, scale, offset).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from .. import errors as _errors
from ..errors import GeodesicNetsError, GeometryError
from ..geometry.elements import face_areas
from ..operators import OperatorTensors, SurfaceOperators
from ..settings import OperatorSettings
from ..surface import Surface

__all__ = ["PreparedShape", "prepare_samples"]

log = logging.getLogger(__name__)

SurfaceOrPath = Union[Surface, str, "os.PathLike[str]"]


@dataclass(frozen=True, eq=False)
class PreparedShape:
    """One input of :func:`prepare_samples`, loaded, normalized, with its operators.

    Attributes
    ----------
    index : int
        Position of the input in the sequence given to :func:`prepare_samples` (inputs skipped
        with ``skip_bad=True`` leave gaps).
    surface : Surface
        The surface the operators belong to (normalized unless ``normalize=False``); vertex
        order and count are those of the file.
    operators : OperatorTensors
        On the CPU, floating tensors of the requested dtype.
    info : dict
        JSON-able record: ``"path"`` (str or None), ``"num_verts"``, ``"num_faces"``,
        ``"area"`` (total area before normalization; None for a point cloud), ``"scale"``
        (float) and ``"offset"`` (3 floats) with ``normalized = (original - offset) * scale``,
        and ``"cache_hit"`` (bool, or None without a cache).
    """

    index: int
    surface: Surface
    operators: OperatorTensors
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Done:
    """What a worker sends back: either a result or an error (type name and message)."""

    index: int
    surface: Surface | None = None
    operators: SurfaceOperators | None = None
    info: dict[str, Any] | None = None
    error_type: str | None = None
    error: str | None = None


def _describe(item: SurfaceOrPath, index: int) -> str:
    if isinstance(item, Surface):
        return item.name or f"surface #{index}"
    return str(item)


def _normalize(surface: Surface) -> tuple[Surface, float, np.ndarray]:
    from ..io import normalize

    res = normalize(surface, center="auto", scale="auto")  # meshes: unit area; clouds: unit radius
    return res.surface, res.scale, res.offset


def _prepare_one(
    index: int,
    item: SurfaceOrPath,
    settings: OperatorSettings,
    cache_dir: str | None,
    normalize: bool,
) -> _Done:
    """Load (if a path), normalize and compute operators of one input; never raises."""
    from ..operators import OperatorCache
    from ..io import load
    from ..operators import compute_operators

    what = _describe(item, index)
    try:
        surface = item if isinstance(item, Surface) else load(item)
        area = None
        if not surface.is_point_cloud and surface.num_faces > 0:
            area = float(face_areas(surface.verts, surface.faces).sum())
        scale, offset = 1.0, np.zeros(3)
        if normalize:
            surface, scale, offset = _normalize(surface)
        cache_hit = None
        if cache_dir is not None:
            cache = OperatorCache(cache_dir)
            cache_hit = cache.path(surface, settings).exists()
            ops = cache.get_or_compute(surface, settings)
        else:
            ops = compute_operators(surface, settings=settings)
        info = {
            "path": None if isinstance(item, Surface) else str(item),
            "num_verts": surface.num_verts,
            "num_faces": surface.num_faces,
            "area": area,
            "scale": float(scale),
            "offset": [float(x) for x in offset],
            "cache_hit": cache_hit,
        }
        return _Done(index, surface, ops, info)
    except GeodesicNetsError as exc:
        return _Done(index, error_type=type(exc).__name__, error=_with_name(str(exc), what))
    except (MemoryError, ArithmeticError, ValueError, RuntimeError, OSError, IndexError) as exc:
        # A failure inside a numerical library: report it as a geometry problem of this input.
        return _Done(index, error_type="GeometryError", error=_with_name(f"{type(exc).__name__}: {exc}", what))


def _with_name(message: str, what: str) -> str:
    return message if what in message else f"{what}: {message}"


def _raise(done: _Done) -> None:
    cls = getattr(_errors, done.error_type or "", None)
    if not (isinstance(cls, type) and issubclass(cls, GeodesicNetsError)):
        cls = GeometryError
    raise cls(done.error)


def _one_thread() -> None:
    from ..precompute import limit_to_one_thread

    limit_to_one_thread()
    torch.set_num_threads(1)


def prepare_samples(
    items: Sequence[SurfaceOrPath],
    *,
    settings: OperatorSettings,
    cache_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    progress: bool = True,
    normalize: bool = True,
    dtype: torch.dtype = torch.float32,
    skip_bad: bool = False,
    desc: str = "operators",
) -> list[PreparedShape]:
    """Load, normalize and compute the operators of every input.

    Parameters
    ----------
    items : sequence of Surface or path
        Mesh or point-cloud files (read with :func:`geodesic_nets.io.load`, which keeps the
        file's vertex order and count) or surfaces already in memory.
    settings : OperatorSettings
    cache_dir : path, optional
        Read and write operator bundles in this :class:`~geodesic_nets.OperatorCache`
        directory; ``None`` computes without touching the disk.
    jobs : int
        Worker processes, each single-threaded; 1 works in this process.
    progress : bool
        Show a tqdm progress bar on stderr.
    normalize : bool
        Meshes: centre at the area-weighted centroid and scale to total area 1
        (:func:`geodesic_nets.io.normalize` with ``center="auto", scale="area"``). Point
        clouds: centre at the mean, scale to unit radius.
    dtype : torch.dtype
        Floating dtype of the returned operator tensors.
    skip_bad : bool
        Skip an input that cannot be loaded or processed, with a logged warning, instead of
        raising.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list of PreparedShape
        In input order; ``PreparedShape.index`` is the position of each in ``items``.

    Raises
    ------
    GeodesicNetsError
        The first bad input (its file or surface name in the message; the subclass says what
        went wrong: :class:`~geodesic_nets.MeshFormatError`, :class:`~geodesic_nets.GeometryError`,
        ...), unless ``skip_bad``.
    """
    from tqdm import tqdm

    if not isinstance(settings, OperatorSettings):
        raise TypeError(f"settings must be an OperatorSettings, got {type(settings).__name__}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
    items = list(items)
    for i, it in enumerate(items):
        if not isinstance(it, (Surface, str, os.PathLike)):
            raise TypeError(f"item {i} must be a Surface or a path, got {type(it).__name__}")
    cache = None if cache_dir is None else os.fspath(Path(cache_dir))
    if cache is not None:
        from ..operators import OperatorCache

        OperatorCache(cache)  # CacheError here, not in every worker

    done: dict[int, _Done] = {}
    bar = tqdm(total=len(items), disable=not progress, unit="shape", desc=desc)

    def take(d: _Done) -> None:
        bar.update(1)
        if d.error is not None:
            if not skip_bad:
                bar.close()
                _raise(d)
            log.warning("skipping %s", d.error)
        done[d.index] = d

    if jobs == 1 or len(items) <= 1:
        for i, it in enumerate(items):
            take(_prepare_one(i, it, settings, cache, normalize))
    else:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), initializer=_one_thread)
        try:
            futures = {pool.submit(_prepare_one, i, it, settings, cache, normalize): i for i, it in enumerate(items)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    d = fut.result()
                except BrokenProcessPool as exc:  # a worker died (e.g. killed for memory)
                    d = _Done(i, error_type="GeodesicNetsError", error=f"worker died on {_describe(items[i], i)}: {exc!r}")
                take(d)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()

    out = []
    for i in sorted(done):
        d = done[i]
        if d.error is None:
            out.append(PreparedShape(i, d.surface, d.operators.to("cpu", dtype), d.info))
    return out
