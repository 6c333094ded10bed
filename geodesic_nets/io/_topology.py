"""Vectorized combinatorial checks on raw face arrays, shared by the report and the repair.

All functions take ``faces`` (F, 3) int64 whose indices are in range and whose rows have three
distinct vertices ("proper" faces), unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["EdgeTopology", "edge_topology", "fans_per_vertex", "duplicate_rows", "count_components"]


@dataclass(frozen=True)
class EdgeTopology:
    """Undirected edges of a triangle list and how faces use them.

    Attributes
    ----------
    edges : ndarray, shape (E, 2), int64
        Sorted vertex pairs ``(lo, hi)``, rows sorted.
    face_count : ndarray, shape (E,), int64
        Number of faces using each edge.
    inconsistent : ndarray, shape (E,), bool
        Edges shared by exactly two faces that traverse it in the same direction.
    half_edge : ndarray, shape (3F,), int64
        Edge index of each half-edge ``faces[t, k] -> faces[t, (k+1) % 3]`` (row-major order).
    """

    edges: np.ndarray
    face_count: np.ndarray
    inconsistent: np.ndarray
    half_edge: np.ndarray


def _half_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src = faces.ravel()
    dst = faces[:, [1, 2, 0]].ravel()
    return src, dst


def edge_topology(faces: np.ndarray, num_verts: int) -> EdgeTopology:
    """Edges, their face counts and orientation consistency (see :class:`EdgeTopology`)."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    src, dst = _half_edges(f)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = lo * np.int64(max(num_verts, 1)) + hi
    ukey, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    direction = np.bincount(inv, weights=np.where(src < dst, 1.0, -1.0), minlength=len(ukey))
    edges = np.stack([ukey // max(num_verts, 1), ukey % max(num_verts, 1)], axis=1)
    inconsistent = (count == 2) & (direction != 0)
    return EdgeTopology(edges, count.astype(np.int64), inconsistent, inv)


def fans_per_vertex(faces: np.ndarray, num_verts: int, topo: EdgeTopology | None = None) -> np.ndarray:
    """Number of fans (edge-connected groups of incident faces) around each vertex, (V,) int64.

    Corners of the same vertex are joined when their faces share an edge through that vertex;
    all faces around a non-manifold edge are joined too, so a vertex counts more than one fan
    only where its faces touch at the vertex alone (a bow-tie). Unreferenced vertices get 0.
    """
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if topo is None:
        topo = edge_topology(f, num_verts)
    n_corners = f.size
    src, dst = _half_edges(f)
    corner = np.arange(n_corners, dtype=np.int64)
    c_src = corner
    c_dst = (corner // 3) * 3 + (corner % 3 + 1) % 3
    c_lo = np.where(src < dst, c_src, c_dst)
    c_hi = np.where(src < dst, c_dst, c_src)
    order = np.argsort(topo.half_edge, kind="stable")
    e_sorted = topo.half_edge[order]
    same = e_sorted[1:] == e_sorted[:-1]
    h1, h2 = order[:-1][same], order[1:][same]
    a = np.concatenate([c_lo[h1], c_hi[h1]])
    b = np.concatenate([c_lo[h2], c_hi[h2]])
    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_corners, n_corners))
    n_comp, label = connected_components(graph, directed=False)
    # Corners are only joined to corners of the same vertex: each component is one fan.
    comp_vert = np.zeros(n_comp, dtype=np.int64)
    comp_vert[label] = f.ravel()
    return np.bincount(comp_vert, minlength=num_verts).astype(np.int64)


def count_components(edges: np.ndarray, num_verts: int, used: np.ndarray) -> int:
    """Connected components of the graph ``edges`` among the vertices where ``used`` is True."""
    if num_verts == 0:
        return 0
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = sp.coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(num_verts, num_verts))
    n, _ = connected_components(graph, directed=False)
    return int(n - (num_verts - int(np.count_nonzero(used))))


def duplicate_rows(rows: np.ndarray) -> np.ndarray:
    """For each row, the index of the first row exactly equal to it, shape (N,) int64.

    Float rows are compared by value (``-0.0 == 0.0``); rows with a NaN are never duplicates.
    A row is a duplicate where the result differs from its own index.
    """
    r = np.asarray(rows)
    n = len(r)
    first = np.arange(n, dtype=np.int64)
    ok = np.isfinite(r).all(axis=1) if r.dtype.kind == "f" else np.ones(n, dtype=bool)
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return first
    sub = r[idx] + 0.0 if r.dtype.kind == "f" else r[idx]  # -0.0 -> 0.0
    order = np.lexsort(sub.T[::-1])  # stable: equal rows stay in index order
    s = sub[order]
    starts = np.ones(len(s), dtype=bool)
    starts[1:] = (s[1:] != s[:-1]).any(axis=1)
    group = np.cumsum(starts) - 1
    first[idx[order]] = idx[order[starts]][group]
    return first
