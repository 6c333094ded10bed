"""Random torus-topology meshes: a jittered, randomly phased parameter grid."""

from __future__ import annotations

import numpy as np

__all__ = ["torus_grid", "torus_grid_size"]


def torus_grid(
    n_major: int, n_minor: int, rng: np.random.Generator, *, jitter: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A jittered ``n_major x n_minor`` parameter grid of the torus, randomly phased.

    Returns
    -------
    u, w : ndarray, shape (V,), float64
        Angles around the axis and around the tube, in ``[0, 2 pi)``.
    faces : ndarray, shape (F, 3), int64
        Two triangles per grid cell, ``F = 2 V``.
    """
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    du = (i + rng.uniform() + rng.uniform(-jitter, jitter, i.shape)) * (2 * np.pi / n_major)
    dw = (j + rng.uniform() + rng.uniform(-jitter, jitter, j.shape)) * (2 * np.pi / n_minor)
    idx = np.arange(n_major * n_minor).reshape(n_major, n_minor)
    b = np.roll(idx, -1, axis=0)
    c = np.roll(idx, -1, axis=1)
    d = np.roll(b, -1, axis=1)
    faces = np.concatenate([np.stack([idx, b, d], -1).reshape(-1, 3), np.stack([idx, d, c], -1).reshape(-1, 3)])
    return np.mod(du.ravel(), 2 * np.pi), np.mod(dw.ravel(), 2 * np.pi), faces.astype(np.int64)


def torus_grid_size(v: int, aspect: float) -> tuple[int, int]:
    """Grid size with about ``v`` vertices and cells about square for ``R / r = aspect``."""
    n_minor = max(6, int(round(np.sqrt(v / aspect))))
    return max(8, int(round(v / n_minor))), n_minor
