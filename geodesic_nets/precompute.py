"""One pipeline for the operators of many shapes: load, normalize, compute or read from a cache,
in parallel single-threaded processes.

:func:`run_pipeline` is the pipeline; it has two callers:

* :func:`precompute_files` (``geodesic-nets precompute``) fills a cache; a bad file is reported
  in its :class:`PrecomputeResult` and the others finish.
* :func:`geodesic_nets.data.prepare_samples`, which every dataset goes through, takes the
  operators back and raises on (or skips) a bad input.

Every input gives one :class:`ShapeOutcome`, a success or a :class:`ShapeFailure` saying what
kind of failure it was; each caller words the failures its own way.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence, Union

import numpy as np

from .errors import ArgumentError, DependencyError, GeodesicNetsError
from .settings import OperatorSettings
from .surface import Surface

__all__ = [
    "PrecomputeResult",
    "precompute_files",
    "limit_to_one_thread",
    "ShapeFailure",
    "ShapeOutcome",
    "run_pipeline",
]

log = logging.getLogger(__name__)

SurfaceOrPath = Union[Surface, str, "os.PathLike[str]"]

#: failures inside a numerical library: reported for the one input, the others go on
_UNEXPECTED = (MemoryError, ArithmeticError, ValueError, RuntimeError, OSError, IndexError)


@dataclass(frozen=True)
class PrecomputeResult:
    """Outcome for one input file: ``error`` is None on success."""

    path: str
    num_verts: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class ShapeFailure:
    """Why one input failed.

    ``kind``: ``"error"``, a :class:`~geodesic_nets.GeodesicNetsError` (``type_name`` is its
    class); ``"unexpected"``, one of the numerical library's exceptions (MemoryError,
    ArithmeticError, ValueError, RuntimeError, OSError, IndexError); ``"worker"``, the worker
    process failed (``exc`` holds what the pool raised here, e.g. a ``BrokenProcessPool``).
    """

    kind: Literal["error", "unexpected", "worker"]
    type_name: str
    message: str
    exc: BaseException | None = None


@dataclass(frozen=True)
class ShapeOutcome:
    """What the pipeline gives for the input at ``index``: a success or a ``failure``.

    ``what`` names the input (its path, or the surface's name) for messages. ``surface`` and
    ``operators`` are None on failure and when the operators were not asked back; ``info`` is
    the record described in :class:`geodesic_nets.data.PreparedShape`.
    """

    index: int
    what: str
    seconds: float
    surface: Surface | None = None
    operators: Any = None  # SurfaceOperators
    info: dict[str, Any] | None = None
    failure: ShapeFailure | None = None


def limit_to_one_thread() -> None:
    """Worker-process initializer: one BLAS/OpenMP thread (used by every process pool of the package)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual installs
        pass


def _one_thread_worker() -> None:
    import torch

    limit_to_one_thread()
    torch.set_num_threads(1)


def describe(item: SurfaceOrPath, index: int) -> str:
    """How messages name an input: its path, or the surface's name (``surface #index`` without one)."""
    if isinstance(item, Surface):
        return item.name or f"surface #{index}"
    return str(item)


def _process_one(
    index: int, item: SurfaceOrPath, settings: OperatorSettings, cache_dir: str | None, normalize: bool,
    return_operators: bool,
) -> ShapeOutcome:
    """Load (if a path), normalize and compute or read the operators of one input; never raises
    for a bad input (the failure is in the outcome)."""
    what = describe(item, index)
    t0 = time.perf_counter()
    try:
        surface, ops, info = _operators_of(item, settings, cache_dir, normalize)
    except GeodesicNetsError as exc:
        failure = ShapeFailure("error", type(exc).__name__, str(exc))
        return ShapeOutcome(index, what, time.perf_counter() - t0, failure=failure)
    except _UNEXPECTED as exc:
        failure = ShapeFailure("unexpected", type(exc).__name__, str(exc))
        return ShapeOutcome(index, what, time.perf_counter() - t0, failure=failure)
    if not return_operators:
        surface, ops = None, None
    return ShapeOutcome(index, what, time.perf_counter() - t0, surface, ops, info)


def _process_one_on_cluster(*args: Any) -> ShapeOutcome:
    """:func:`_process_one` in a Dask worker, limited to one BLAS/OpenMP thread like the pool's workers."""
    limit_to_one_thread()
    return _process_one(*args)


def _operators_of(
    item: SurfaceOrPath, settings: OperatorSettings, cache_dir: str | None, normalize: bool
) -> tuple[Surface, Any, dict[str, Any]]:
    """(surface as used, its SurfaceOperators, the info record) of one input."""
    from .geometry.elements import face_areas
    from .io import load
    from .io import normalize as normalized
    from .operators import OperatorCache, compute_operators

    surface = item if isinstance(item, Surface) else load(item)
    area = None
    if not surface.is_point_cloud and surface.num_faces > 0:
        area = float(face_areas(surface.verts, surface.faces).sum())
    scale, offset = 1.0, np.zeros(3)
    if normalize:
        res = normalized(surface, center="auto", scale="auto")  # meshes: unit area; clouds: unit radius
        surface, scale, offset = res.surface, res.scale, res.offset
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
    return surface, ops, info


def run_pipeline(
    items: Sequence[SurfaceOrPath],
    take: Callable[[ShapeOutcome], None],
    *,
    settings: OperatorSettings,
    cache_dir: str | None,
    jobs: int,
    normalize: bool,
    return_operators: bool = True,
    progress: bool = True,
    unit: str = "shape",
    desc: str = "operators",
    scheduler: str | None = None,
) -> None:
    """Process every input and hand each outcome to ``take``, in completion order.

    ``jobs`` worker processes (each single-threaded) when ``jobs > 1`` and there are several
    inputs, else this process. A worker that dies (e.g. killed for memory) gives a ``"worker"``
    failure for its input (and, the pool being broken, for those not done yet). If ``take``
    raises, the pool's pending work is cancelled and the exception propagates.
    ``return_operators=False`` leaves the operators in the workers (only the cache is filled).
    ``scheduler``: the address of a Dask distributed scheduler (``tcp://host:8786``) whose
    workers do the work instead of local processes (``jobs`` is then ignored); they must see
    ``cache_dir`` and the input files at the same paths.
    """
    from tqdm import tqdm

    args = (settings, cache_dir, normalize, return_operators)
    bar = tqdm(total=len(items), disable=not progress, unit=unit, desc=desc)
    try:
        if scheduler is not None:
            _run_on_cluster(scheduler, items, args, take, bar)
            return
        if jobs == 1 or len(items) <= 1:
            for i, it in enumerate(items):
                done = _process_one(i, it, *args)
                bar.update(1)
                take(done)
            return
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), initializer=_one_thread_worker)
        try:
            futures = {pool.submit(_process_one, i, it, *args): i for i, it in enumerate(items)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    done = fut.result()
                except Exception as exc:  # the worker failed (BrokenProcessPool: it died)
                    failure = ShapeFailure("worker", type(exc).__name__, str(exc), exc)
                    done = ShapeOutcome(i, describe(items[i], i), 0.0, failure=failure)
                bar.update(1)
                take(done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()


def _run_on_cluster(
    scheduler: str, items: Sequence[SurfaceOrPath], args: tuple, take: Callable[[ShapeOutcome], None], bar: Any
) -> None:
    """The pipeline's work as one Dask task per input on the cluster at ``scheduler``.

    Each task writes its cache entry atomically, so two workers computing one entry (a task
    retried after its worker died, or the same file given twice) both leave a whole entry, and a
    rerun finds the entries already written. A task that keeps killing its workers gives a
    ``"worker"`` failure (Dask's ``KilledWorker``). Connecting waits up to
    ``$GEODESIC_NETS_DASK_TIMEOUT`` seconds (default 30).
    """
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError as exc:
        raise DependencyError(
            "precompute on a Dask cluster needs the distributed package: pip install 'geodesic-nets[dask]'"
        ) from exc
    try:
        timeout = float(os.environ.get("GEODESIC_NETS_DASK_TIMEOUT", "30"))
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise GeodesicNetsError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    try:
        futures = [client.submit(_process_one_on_cluster, i, it, *args, key=f"geodesic-nets-{i}-{describe(it, i)}",
                                 pure=False) for i, it in enumerate(items)]
        index = {f.key: i for i, f in enumerate(futures)}
        with client.as_current():
            for fut in dask_completed(futures):
                i = index[fut.key]
                try:
                    done = fut.result()
                except Exception as exc:  # KilledWorker, a lost connection...
                    failure = ShapeFailure("worker", type(exc).__name__, str(exc), exc)
                    done = ShapeOutcome(i, describe(items[i], i), 0.0, failure=failure)
                bar.update(1)
                take(done)
    finally:
        client.close()


def precompute_files(
    paths: Iterable[str | os.PathLike],
    *,
    cache_dir: str | os.PathLike,
    settings: OperatorSettings,
    jobs: int = 1,
    progress: bool = True,
    normalize: bool = False,
    scheduler: str | None = None,
) -> list[PrecomputeResult]:
    """Compute and cache the operators of every file; a bad file is reported, the rest finish.

    Parameters
    ----------
    paths : iterable of paths
    cache_dir : path
        Cache directory (created if missing).
    settings : OperatorSettings
    jobs : int
        Worker processes (each single-threaded). 1 runs in this process.
    progress : bool
        Show a tqdm progress bar on stderr.
    normalize : bool
        Cache each shape normalized as the datasets normalize it (``io.normalize(center="auto",
        scale="auto")``: meshes centred with unit area, point clouds with unit radius), so that
        training with the same settings and cache directory finds the entries.
    scheduler : str, optional
        Address of a Dask distributed scheduler: the files are processed by its workers (which
        must see the files and ``cache_dir`` at the same paths) instead of local processes.
        Entries already in the cache are read, not recomputed, so a rerun after a failure (a
        killed worker) computes only what is missing.

    Returns
    -------
    list of PrecomputeResult, in input order.
    """
    files = [str(Path(p)) for p in paths]
    if jobs < 1:
        raise ArgumentError(f"jobs must be >= 1, got {jobs}")
    results: dict[int, PrecomputeResult] = {}

    def take(done: ShapeOutcome) -> None:
        num_verts = done.info["num_verts"] if done.info is not None else 0
        results[done.index] = PrecomputeResult(done.what, num_verts, done.seconds, _precompute_error(done))

    run_pipeline(files, take, settings=settings, cache_dir=str(cache_dir), jobs=jobs, normalize=normalize,
                 return_operators=False, progress=progress, unit="mesh", desc="precompute", scheduler=scheduler)
    return [results[i] for i in range(len(files))]


def _precompute_error(done: ShapeOutcome) -> str | None:
    """The ``PrecomputeResult.error`` text of an outcome (None on success)."""
    f = done.failure
    if f is None:
        return None
    if f.kind == "worker":
        return f"worker failed on {done.what}: {f.exc!r}"
    if f.kind == "unexpected":
        return f"{f.type_name} in {done.what}: {f.message}"
    return f"{f.type_name}: {f.message}"
