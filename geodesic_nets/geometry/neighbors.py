"""Nearest-neighbour graphs for point clouds."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["knn", "knn_edges"]


def knn(points: np.ndarray, k: int, *, include_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of every point.

    Returns
    -------
    index : ndarray, shape (V, k), int64
        Neighbour indices, nearest first (the point itself excluded unless ``include_self``).
    dist : ndarray, shape (V, k), float64
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    kk = min(k + (0 if include_self else 1), n)
    dist, idx = cKDTree(pts).query(pts, k=kk)
    dist = np.asarray(dist).reshape(n, kk)
    idx = np.asarray(idx, dtype=np.int64).reshape(n, kk)
    if not include_self:
        # Drop the point itself (normally column 0; with duplicates it may sit elsewhere).
        is_self = idx == np.arange(n)[:, None]
        keep = ~is_self
        no_self = keep.all(axis=1)
        keep[no_self, -1] = False
        idx = idx[keep].reshape(n, kk - 1)
        dist = dist[keep].reshape(n, kk - 1)
    return idx, dist


def knn_edges(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetrized k-nearest-neighbour graph as directed edges sorted by (src, dst), each (E,)."""
    idx, _ = knn(points, k)
    n = len(points)
    src = np.repeat(np.arange(n), idx.shape[1])
    dst = idx.ravel()
    a, b = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = a != b
    key = np.unique(a[keep] * max(n, 1) + b[keep])  # sorted by (src, dst)
    return key // max(n, 1), key % max(n, 1)
