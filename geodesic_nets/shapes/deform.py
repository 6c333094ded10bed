"""Random changes of a generated shape: a smooth non-rigid deformation (a stretch, a twist and
Gaussian radial-basis displacements), a random placement (scale and rotation), a random vertex
order. Numpy only, deterministic given a generator."""

from __future__ import annotations

import numpy as np

from ..geometry.rotations import random_rotation_matrix

__all__ = ["smooth_deformation", "random_placement", "shuffle_vertices"]


def smooth_deformation(
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    amplitude: float = 0.2,
    n_centers: int = 6,
    width: float = 0.5,
    twist: float = 0.5,
    stretch: float = 0.15,
) -> np.ndarray:
    """A random smooth non-rigid deformation of ``points`` (N, 3).

    A stretch along three random orthogonal axes by factors uniform in ``[1 - stretch,
    1 + stretch]``, a twist about a random axis through the centroid (rotation angle ``t * s``
    at signed height ``s`` along the axis, ``t`` uniform in ``[-twist, twist]``), then a
    displacement field ``sum_k a_k exp(-|x - c_k|^2 / (2 width^2))`` with ``n_centers`` centres
    ``c_k`` drawn among the points and random vectors ``a_k`` of length ``amplitude`` times a
    uniform factor in ``[0.3, 1]``. Each step is smooth and invertible for the default sizes
    on shapes of unit size, so the result does not self-intersect.

    Returns
    -------
    ndarray, shape (N, 3), float64
    """
    x = np.asarray(points, dtype=np.float64)
    centre = x.mean(axis=0)
    if stretch > 0:
        q = random_rotation_matrix(rng)
        x = centre + ((x - centre) @ q) * rng.uniform(1 - stretch, 1 + stretch, 3) @ q.T
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    rel = x - centre
    angle = rng.uniform(-twist, twist) * (rel @ axis)  # (N,)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    # Rodrigues' formula per point, all about the same axis.
    rel = rel * cos + np.cross(axis, rel) * sin + np.outer(rel @ axis, axis) * (1 - cos)
    x = centre + rel
    if n_centers > 0:
        centres = x[rng.choice(len(x), size=min(n_centers, len(x)), replace=False)]
        vec = rng.normal(size=(len(centres), 3))
        vec *= (rng.uniform(0.3, 1.0, len(centres)) * amplitude / np.linalg.norm(vec, axis=1))[:, None]
        d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)  # (N, n_centers)
        x = x + np.exp(-d2 / (2 * width**2)) @ vec
    return x


def random_placement(
    points: np.ndarray, rng: np.random.Generator, *, rotate: bool, scale_range=(0.7, 1.4)
) -> np.ndarray:
    """Random uniform scale and (optionally) uniform random rotation of ``points`` (N, 3)."""
    if rotate:
        points = points @ random_rotation_matrix(rng).T
    return points * rng.uniform(*scale_range)


def shuffle_vertices(verts: np.ndarray, faces: np.ndarray, rng: np.random.Generator):
    """New vertex ``j`` is old vertex ``perm[j]``; returns verts, faces, perm, inverse."""
    perm = rng.permutation(len(verts))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return verts[perm], inv[faces], perm, inv
