"""Meshes the package generates itself: spheres, planes, tori, single triangles.

They serve as closed-form references in the tests, as the embedded default of the demo, and as
the seeds of the synthetic datasets. All are deterministic.
"""

from __future__ import annotations

import numpy as np

from ..surface import Surface

__all__ = [
    "icosphere",
    "uv_sphere",
    "plane_grid",
    "torus",
    "single_triangle",
    "sphere_point_cloud",
    "bumpy_sphere",
]


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> Surface:
    """Subdivided icosahedron projected to a sphere; ``10 * 4**s + 2`` vertices."""
    t = (1.0 + 5.0**0.5) / 2.0
    v = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]],
        dtype=np.float64,
    )
    f = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]],
        dtype=np.int64,
    )
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for _ in range(subdivisions):
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        e.sort(axis=1)
        uniq, inv = np.unique(e, axis=0, return_inverse=True)
        mid = v[uniq[:, 0]] + v[uniq[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = inv.reshape(3, -1).T + len(v)  # (F, 3): midpoint of edges (01, 12, 20)
        v = np.concatenate([v, mid])
        a, b, c = f[:, 0], f[:, 1], f[:, 2]
        m01, m12, m20 = m[:, 0], m[:, 1], m[:, 2]
        f = np.concatenate(
            [np.stack(x, 1) for x in ((a, m01, m20), (b, m12, m01), (c, m20, m12), (m01, m12, m20))]
        )
    return Surface(v * radius, f, name=f"icosphere({subdivisions})")


def uv_sphere(n_lat: int = 32, n_lon: int = 64, radius: float = 1.0) -> Surface:
    """Latitude-longitude sphere with a pole vertex at each end (rings of constant latitude)."""
    theta = np.linspace(0.0, np.pi, n_lat + 1)[1:-1]
    phi = np.linspace(0.0, 2 * np.pi, n_lon, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    v = np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]]) * radius
    idx = 1 + np.arange((n_lat - 1) * n_lon).reshape(n_lat - 1, n_lon)
    nxt = np.roll(idx, -1, axis=1)
    faces = [np.stack([np.zeros(n_lon, np.int64), idx[0], nxt[0]], 1)]
    a, b, c, d = idx[:-1], nxt[:-1], idx[1:], nxt[1:]
    faces.append(np.stack([a, c, d], -1).reshape(-1, 3))
    faces.append(np.stack([a, d, b], -1).reshape(-1, 3))
    south = len(v) - 1
    faces.append(np.stack([np.full(n_lon, south), nxt[-1], idx[-1]], 1))
    return Surface(v, np.concatenate(faces).astype(np.int64), name=f"uv_sphere({n_lat},{n_lon})")


def plane_grid(n: int = 16, size: float = 1.0, *, jitter: float = 0.0, seed: int = 0) -> Surface:
    """Flat ``n x n``-cell square grid in the z=0 plane, side ``size``, centred at the origin.

    ``jitter`` moves interior vertices in-plane by up to that fraction of a cell (seeded), which
    breaks the grid's symmetry while keeping it flat.
    """
    x = np.linspace(-size / 2, size / 2, n + 1)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    v = np.stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)], 1)
    if jitter:
        rng = np.random.default_rng(seed)
        interior = (np.abs(v[:, 0]) < size / 2 - 1e-12) & (np.abs(v[:, 1]) < size / 2 - 1e-12)
        v[interior, :2] += rng.uniform(-1, 1, (int(interior.sum()), 2)) * jitter * size / n
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
    f = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return Surface(v, f, name=f"plane_grid({n})")


def torus(n_major: int = 48, n_minor: int = 24, major_radius: float = 1.0, minor_radius: float = 0.35) -> Surface:
    """Torus of revolution around the z axis, a regular ``n_major x n_minor`` quad grid split in two."""
    u = np.linspace(0, 2 * np.pi, n_major, endpoint=False)
    w = np.linspace(0, 2 * np.pi, n_minor, endpoint=False)
    uu, ww = np.meshgrid(u, w, indexing="ij")
    r = major_radius + minor_radius * np.cos(ww)
    v = np.stack([r * np.cos(uu), r * np.sin(uu), minor_radius * np.sin(ww)], -1).reshape(-1, 3)
    idx = np.arange(n_major * n_minor).reshape(n_major, n_minor)
    b = np.roll(idx, -1, axis=0)
    c = np.roll(idx, -1, axis=1)
    d = np.roll(b, -1, axis=1)
    f = np.concatenate([np.stack([idx, b, d], -1).reshape(-1, 3), np.stack([idx, d, c], -1).reshape(-1, 3)])
    return Surface(v, f, name=f"torus({n_major},{n_minor})")


def single_triangle() -> Surface:
    """The right triangle (0,0,0), (1,0,0), (0,1,0)."""
    return Surface(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([[0, 1, 2]]), name="triangle")


def sphere_point_cloud(n: int = 2000, radius: float = 1.0, seed: int = 0) -> Surface:
    """``n`` points on a sphere, a Fibonacci lattice (nearly uniform) with a seeded jitter."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    rng = np.random.default_rng(seed)
    phi = phi + rng.uniform(-0.1, 0.1, n)
    r = np.sqrt(1 - z * z)
    v = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1) * radius
    return Surface(v, None, name=f"sphere_point_cloud({n})")


def bumpy_sphere(subdivisions: int = 4, *, amplitude: float = 0.15, n_bumps: int = 6, seed: int = 0) -> Surface:
    """An icosphere pushed in and out by ``n_bumps`` seeded Gaussian bumps (a smooth blob)."""
    s = icosphere(subdivisions)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_bumps, 3))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    heights = rng.uniform(-1.0, 1.0, n_bumps) * amplitude
    d2 = ((s.verts[:, None, :] - centers[None]) ** 2).sum(-1)  # (V, n_bumps)
    r = 1.0 + (heights[None] * np.exp(-d2 / 0.3)).sum(1)
    return Surface(s.verts * r[:, None], s.faces, name=f"bumpy_sphere({subdivisions}, seed={seed})")
