"""Distances from many sources with any single-source solver, a block of rows at a time.

:func:`geodesic_distance_blocks`, :func:`geodesic_distance_matrix` and
:func:`pairwise_geodesic_distances` hold at most ``block_size`` rows of length V in memory.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

import numpy as np

from ..errors import ArgumentError, GeometryError
from .validate import _check_indices

__all__ = [
    "GeodesicSolver",
    "geodesic_distance_blocks",
    "geodesic_distance_matrix",
    "pairwise_geodesic_distances",
]


class GeodesicSolver(Protocol):
    """What the many-source functions need: a vertex count and a single-source distance."""

    @property
    def num_verts(self) -> int: ...

    def distance(self, source: int) -> np.ndarray: ...


def _check_block_size(block_size) -> int:
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ArgumentError(f"block_size must be a positive integer, got {block_size!r}")
    return int(block_size)


def geodesic_distance_blocks(
    solver: GeodesicSolver, sources: Sequence[int] | np.ndarray, *, block_size: int = 256
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Distances from many sources, yielded a block of rows at a time.

    Parameters
    ----------
    solver : HeatGeodesicSolver, ExactGeodesicSolver or anything with ``num_verts`` and
        ``distance(source) -> (V,)``
    sources : array-like of int, shape (S,)
    block_size : int, keyword-only
        At most this many rows per block; peak memory is ``block_size * V`` floats.

    Yields
    ------
    sources_chunk : ndarray, shape (b,), int64
        The next ``b <= block_size`` sources, in the given order.
    dist : ndarray, shape (b, V), float64
        ``dist[i]`` is the solve with source ``sources_chunk[i]``.
    """
    bs = _check_block_size(block_size)  # validated now, not at the first next()
    nv = int(solver.num_verts)
    return _blocks(solver, _check_indices(sources, nv), bs, nv)


def _blocks(solver: GeodesicSolver, src: np.ndarray, bs: int, nv: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(src), bs):
        chunk = src[start : start + bs]
        block = np.empty((len(chunk), nv), dtype=np.float64)
        for i, s in enumerate(chunk):
            block[i] = solver.distance(int(s))
        yield chunk, block


def geodesic_distance_matrix(
    solver: GeodesicSolver,
    sources: Sequence[int] | np.ndarray,
    targets: Sequence[int] | np.ndarray | None = None,
    *,
    block_size: int = 256,
) -> np.ndarray:
    """Distance matrix between sources and targets, computed block by block.

    Parameters
    ----------
    solver : see :func:`geodesic_distance_blocks`
    sources : array-like of int, shape (S,)
    targets : array-like of int, shape (T,), optional
        Default: all V vertices.
    block_size : int, keyword-only
        Rows solved at once; only the ``targets`` columns of each block are kept, so memory is
        ``S * T + block_size * V`` floats.

    Returns
    -------
    dist : ndarray, shape (S, T), float64
        ``dist[i, j] = d(sources[i], targets[j])`` from the solve with ``sources[i]`` as
        source (the heat distance is not exactly symmetric).
    """
    nv = int(solver.num_verts)
    src = _check_indices(sources, nv)
    tgt = None if targets is None else _check_indices(targets, nv, what="target")
    out = np.empty((len(src), nv if tgt is None else len(tgt)), dtype=np.float64)
    row = 0
    for chunk, block in geodesic_distance_blocks(solver, src, block_size=block_size):
        out[row : row + len(chunk)] = block if tgt is None else block[:, tgt]
        row += len(chunk)
    return out


def pairwise_geodesic_distances(
    solver: GeodesicSolver,
    src: Sequence[int] | np.ndarray,
    dst: Sequence[int] | np.ndarray,
    *,
    block_size: int = 256,
    symmetrize: bool = False,
) -> np.ndarray:
    """Distances of N vertex pairs, ``d(src[n], dst[n])``, one solve per distinct source.

    Parameters
    ----------
    solver : see :func:`geodesic_distance_blocks`
    src, dst : array-like of int, shape (N,)
    block_size : int, keyword-only
        Distinct sources solved per block; memory is ``block_size * V + O(N)`` floats.
    symmetrize : bool, keyword-only
        ``False``: the value at ``dst[n]`` of the solve from ``src[n]``. ``True``: the mean of
        both directions (also solves from the distinct ``dst`` vertices).

    Returns
    -------
    dist : ndarray, shape (N,), float64
    """
    if not isinstance(symmetrize, (bool, np.bool_)):
        raise ArgumentError(f"symmetrize must be a bool, got {symmetrize!r}")
    nv = int(solver.num_verts)
    a = _check_indices(src, nv, what="src")
    b = _check_indices(dst, nv, what="dst")
    if a.shape != b.shape:
        raise GeometryError(f"src and dst must have the same length, got {a.shape[0]} and {b.shape[0]}")
    if symmetrize:
        return 0.5 * (
            _pairwise_one_way(solver, a, b, block_size) + _pairwise_one_way(solver, b, a, block_size)
        )
    return _pairwise_one_way(solver, a, b, block_size)


def _pairwise_one_way(solver: GeodesicSolver, a: np.ndarray, b: np.ndarray, block_size: int) -> np.ndarray:
    out = np.empty(len(a), dtype=np.float64)
    if len(a) == 0:
        return out
    uniq, inv = np.unique(a, return_inverse=True)  # inv: pair -> row in uniq
    order = np.argsort(inv, kind="stable")  # pairs grouped by source, sources in uniq order
    starts = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    row0 = 0
    for chunk, block in geodesic_distance_blocks(solver, uniq, block_size=block_size):
        pairs = order[starts[row0] : starts[row0 + len(chunk)]]
        out[pairs] = block[inv[pairs] - row0, b[pairs]]
        row0 += len(chunk)
    return out
