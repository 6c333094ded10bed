"""Load, normalize and compute the operators of many shapes, in parallel, with an optional cache.

:func:`prepare_samples` is the one loader every dataset of :mod:`geodesic_nets.data` goes
through: files (or generated :class:`~geodesic_nets.Surface` objects) in, torch operator
bundles out, each with a record of what was done to it (original area, scale, offset). The work
itself is the package's one pipeline, :func:`geodesic_nets.precompute.run_pipeline`, which
``geodesic-nets precompute`` uses too; this module words its failures as exceptions.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import errors as _errors
from ..errors import ArgumentError, GeodesicNetsError, GeometryError
from ..operators import OperatorTensors
from ..precompute import ShapeOutcome, SurfaceOrPath, run_pipeline
from ..settings import OperatorSettings
from ..surface import Surface

__all__ = ["PreparedShape", "prepare_samples"]

log = logging.getLogger(__name__)

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


def _with_name(message: str, what: str) -> str:
    return message if what in message else f"{what}: {message}"


def _exception(done: ShapeOutcome) -> Exception:
    """The exception of a failed outcome: a GeodesicNetsError subclass naming the input, or, for a
    worker that failed without dying, what the pool raised (a bug, not a bad input)."""
    f = done.failure
    if f.kind == "worker":
        if isinstance(f.exc, BrokenProcessPool):  # a worker died (e.g. killed for memory)
            return GeodesicNetsError(f"worker died on {done.what}: {f.exc!r}")
        return f.exc
    if f.kind == "unexpected":  # a failure inside a numerical library: a geometry problem of this input
        return GeometryError(_with_name(f"{f.type_name}: {f.message}", done.what))
    cls = getattr(_errors, f.type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, GeodesicNetsError)):
        cls = GeometryError
    return cls(_with_name(f.message, done.what))


def _checked_items(items: Sequence[SurfaceOrPath], *, settings, jobs, dtype) -> list[SurfaceOrPath]:
    """``items`` as a list, after checking every argument of :func:`prepare_samples` but the cache."""
    if not isinstance(settings, OperatorSettings):
        raise ArgumentError(f"settings must be an OperatorSettings, got {type(settings).__name__}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ArgumentError(f"jobs must be an int >= 1, got {jobs!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ArgumentError(f"dtype must be a floating torch dtype, got {dtype!r}")
    items = list(items)
    for i, it in enumerate(items):
        if not isinstance(it, (Surface, str, os.PathLike)):
            raise ArgumentError(f"item {i} must be a Surface or a path, got {type(it).__name__}")
    return items


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
    items = _checked_items(items, settings=settings, jobs=jobs, dtype=dtype)
    cache = None if cache_dir is None else os.fspath(Path(cache_dir))
    if cache is not None:
        from ..operators import OperatorCache

        OperatorCache(cache)  # CacheError here, not in every worker

    done: dict[int, ShapeOutcome] = {}

    def take(d: ShapeOutcome) -> None:
        if d.failure is not None:
            exc = _exception(d)
            if not skip_bad or exc is d.failure.exc:
                raise exc
            log.warning("skipping %s", exc)
        done[d.index] = d

    run_pipeline(items, take, settings=settings, cache_dir=cache, jobs=jobs, normalize=normalize,
                 progress=progress, unit="shape", desc=desc)
    return [PreparedShape(i, d.surface, d.operators.to("cpu", dtype), d.info)
            for i, d in sorted(done.items()) if d.failure is None]
