"""Building blocks of the synthetic datasets (numpy only, deterministic given a generator).

Sphere-topology shapes are unit directions mapped through a shape function and triangulated by
the convex hull of the directions, so any vertex count and any irregular tessellation is
possible; torus-topology shapes come from a jittered parameter grid. A smooth random
deformation (a twist plus Gaussian radial-basis displacements) makes every instance non-rigidly
different.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.spatial import ConvexHull, cKDTree
from scipy.spatial.transform import Rotation

from ..errors import GeometryError

__all__ = [
    "random_rotation_matrix",
    "fibonacci_directions",
    "random_sphere_directions",
    "sphere_tessellation",
    "torus_grid",
    "smooth_deformation",
    "radial_bump_map",
    "SHAPE_MAPS",
]


def random_rotation_matrix(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation, shape (3, 3), float64."""
    return Rotation.random(random_state=rng).as_matrix()


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
