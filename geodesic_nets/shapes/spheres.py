"""Random sphere-topology meshes: well-spread unit directions, the convex hull on them, and
star-shaped maps from directions to surface points (so any vertex count and any irregular
tessellation is possible; numpy only, deterministic given a generator)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from ..errors import GeometryError
from ..geometry.rotations import random_rotation_matrix

__all__ = [
    "fibonacci_directions",
    "random_sphere_directions",
    "sphere_tessellation",
    "radial_bump_map",
    "SHAPE_MAPS",
]


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (Fibonacci lattice), shape (n, 3), float64."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0**0.5) * i
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def random_sphere_directions(
    n: int, rng: np.random.Generator, *, fixed: np.ndarray | None = None, jitter: float = 0.25
) -> np.ndarray:
    """About ``n`` well-spread unit vectors in random position, the ``fixed`` ones first.

    A randomly rotated Fibonacci lattice of ``n`` points, each moved tangentially by up to
    ``jitter`` times the lattice spacing; lattice points closer than 0.6 spacing to a ``fixed``
    direction are dropped, so ``fixed`` (P, 3) unit vectors can be kept exactly.

    Returns
    -------
    ndarray, shape (N, 3), float64
        ``out[:P] == fixed`` exactly; N is close to ``max(n, P)``.
    """
    spacing = np.sqrt(4.0 * np.pi / n)
    pts = fibonacci_directions(n) @ random_rotation_matrix(rng).T
    step = rng.normal(size=pts.shape)
    step -= (step * pts).sum(1, keepdims=True) * pts  # tangential
    step /= np.linalg.norm(step, axis=1, keepdims=True) + 1e-12
    pts = pts + step * rng.uniform(0.0, jitter * spacing, (n, 1))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    if fixed is None or len(fixed) == 0:
        return pts
    d, _ = cKDTree(fixed).query(pts)
    return np.concatenate([fixed, pts[d > 0.6 * spacing]])


def sphere_tessellation(dirs: np.ndarray) -> np.ndarray:
    """Outward-oriented triangles of the convex hull of unit vectors (a sphere mesh on them).

    Returns
    -------
    ndarray, shape (F, 3), int64
        ``F = 2 N - 4``; every direction is a vertex.

    Raises
    ------
    GeometryError
        When some direction is not a hull vertex (a duplicate or near-duplicate direction).
    """
    hull = ConvexHull(dirs)
    faces = hull.simplices.astype(np.int64)
    if len(np.unique(faces)) != len(dirs):
        raise GeometryError(f"{len(dirs) - len(np.unique(faces))} directions are not on the hull (near-duplicates)")
    a, b, c = dirs[faces[:, 0]], dirs[faces[:, 1]], dirs[faces[:, 2]]
    inward = (np.cross(b - a, c - a) * (a + b + c)).sum(1) < 0
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return faces



def radial_bump_map(rng: np.random.Generator, *, n_bumps: int = 8, axes=(1.3, 1.0, 0.8)) -> Callable[[np.ndarray], np.ndarray]:
    """A random asymmetric star-shaped blob: maps unit directions (N, 3) to surface points (N, 3).

    ``x(d) = r(d) * d * axes`` with ``r(d) = 1 + sum_k h_k exp(-|d - c_k|^2 / 0.18)``,
    ``n_bumps`` random unit centres ``c_k`` and heights ``h_k`` in ``[-0.15, 0.45]``: a few
    protrusions, generically without any symmetry.
    """
    centres = rng.normal(size=(n_bumps, 3))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    heights = rng.uniform(-0.15, 0.45, n_bumps)
    scale = np.asarray(axes, dtype=np.float64)

    def shape(d: np.ndarray) -> np.ndarray:
        d2 = ((d[:, None, :] - centres[None]) ** 2).sum(-1)
        r = 1.0 + np.exp(-d2 / 0.18) @ heights
        return d * r[:, None] * scale

    return shape


def _sphere(d: np.ndarray) -> np.ndarray:
    return d.copy()


def _ellipsoid(d: np.ndarray) -> np.ndarray:
    return d * np.array([1.9, 0.75, 0.75])


def _bumpy_box(d: np.ndarray) -> np.ndarray:
    box = d / (np.abs(d) ** 6).sum(1, keepdims=True) ** (1 / 6)  # rounded cube (superellipsoid)
    bumps = 1.0 + 0.1 * np.sin(4 * d[:, 0]) * np.sin(4 * d[:, 1]) * np.sin(4 * d[:, 2])
    return box * bumps[:, None] * np.array([1.15, 1.0, 0.6])  # flattened: a bumpy slab


def _peanut(d: np.ndarray) -> np.ndarray:
    r = 0.55 + 0.9 * d[:, 0] ** 2  # 1.45 at the lobes' tips, 0.55 at the waist
    return d * r[:, None] * np.array([1.3, 1.0, 1.0])


#: Shape functions of the genus-0 classes of :class:`~geodesic_nets.data.SyntheticShapes`:
#: unit directions (N, 3) -> points (N, 3), star-shaped (never self-intersecting).
SHAPE_MAPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sphere": _sphere,
    "ellipsoid": _ellipsoid,
    "bumpy_box": _bumpy_box,
    "peanut": _peanut,
}
