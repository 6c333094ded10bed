"""Precompute operator bundles of many files into a cache, in parallel processes."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import GeodesicNetsError
from .settings import OperatorSettings

__all__ = ["PrecomputeResult", "precompute_files", "limit_to_one_thread"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrecomputeResult:
    """Outcome for one input file: ``error`` is None on success."""

    path: str
    num_verts: int
    seconds: float
    error: str | None = None


def limit_to_one_thread() -> None:
    """Worker-process initializer: one BLAS/OpenMP thread (used by every process pool of the package)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual installs
        pass


def _work(path: str, settings: OperatorSettings, cache_dir: str, normalize: bool) -> PrecomputeResult:
    from .operators import OperatorCache
    from .io import load
    from .io import normalize as normalized

    t0 = time.perf_counter()
    try:
        surface = load(path)
        if normalize:
            surface = normalized(surface, center="auto", scale="auto").surface
        OperatorCache(cache_dir).get_or_compute(surface, settings)
        return PrecomputeResult(path, surface.num_verts, time.perf_counter() - t0)
    except GeodesicNetsError as exc:
        return PrecomputeResult(path, 0, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    except (MemoryError, ArithmeticError, ValueError, RuntimeError) as exc:
        # Unexpected failures inside a numerical library: report the file, keep the others going.
        return PrecomputeResult(path, 0, time.perf_counter() - t0, f"{type(exc).__name__} in {path}: {exc}")


def precompute_files(
    paths: Iterable[str | os.PathLike],
    *,
    cache_dir: str | os.PathLike,
    settings: OperatorSettings,
    jobs: int = 1,
    progress: bool = True,
    normalize: bool = False,
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

    Returns
    -------
    list of PrecomputeResult, in input order.
    """
    from tqdm import tqdm

    files = [str(Path(p)) for p in paths]
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    results: dict[str, PrecomputeResult] = {}
    bar = tqdm(total=len(files), disable=not progress, unit="mesh", desc="precompute")
    if jobs == 1:
        for f in files:
            results[f] = _work(f, settings, str(cache_dir), normalize)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=limit_to_one_thread) as pool:
            futures = {pool.submit(_work, f, settings, str(cache_dir), normalize): f for f in files}
            for fut in as_completed(futures):
                f = futures[fut]
                try:
                    results[f] = fut.result()
                except Exception as exc:  # a worker died (e.g. killed for memory): report, go on
                    results[f] = PrecomputeResult(f, 0, 0.0, f"worker failed on {f}: {exc!r}")
                bar.update(1)
    bar.close()
    return [results[f] for f in files]
