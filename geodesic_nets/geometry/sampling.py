"""Farthest-point sampling of vertices."""

from __future__ import annotations

import numpy as np

__all__ = ["farthest_points"]


def farthest_points(verts: np.ndarray, n: int) -> np.ndarray:
    """``n`` vertex indices spread by Euclidean farthest-point sampling from vertex 0 (deterministic).

    Parameters
    ----------
    verts : array, shape (V, 3)
    n : int

    Returns
    -------
    ndarray, shape (min(n, V),), int64
        Distinct indices (ties go to the smallest index).
    """
    v = np.asarray(verts, dtype=np.float64)
    n = min(int(n), len(v))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.zeros(n, dtype=np.int64)
    dist = np.linalg.norm(v - v[0], axis=1)
    for k in range(1, n):
        chosen[k] = int(np.argmax(dist))
        dist = np.minimum(dist, np.linalg.norm(v - v[chosen[k]], axis=1))
    return chosen
