"""Vertex tangent frames (gauges) for meshes and point clouds.

A gauge at vertex ``i`` is a right-handed orthonormal frame ``(basis_x[i], basis_y[i],
normals[i])`` with ``basis_y = normals x basis_x``. Tangent vectors are stored as their two
coordinates in that frame, or as a complex number ``x + 1j y``; the *polar angle* of a tangent
vector is ``atan2(y, x)``, counter-clockwise about the normal.

Conventions
-----------
Meshes
    Normals are the angle-weighted vertex normals. The x axis is the tangent-plane projection of
    a deterministic *reference edge* (:func:`reference_neighbors`): the longest incident edge, ties
    within a relative ``1e-9`` broken by the smallest neighbour index. Frames therefore move with
    the mesh under rigid motions and follow a vertex renumbering (away from ties).
Point clouds
    Normals are PCA normals over ``n_neighbors`` neighbours, oriented consistently by propagating
    the orientation over a minimum spanning tree of the neighbour graph (edge weight
    ``1 - |n_i . n_j|``), then flipped per connected component so that on average they point away
    from the component's centroid. The x axis is the projected direction of the nearest neighbour.
Fallbacks (never NaN)
    A mesh vertex whose angle-weighted normal vanishes (isolated vertex, cancelling faces) takes
    its area-weighted normal, and if that vanishes too, ``+z``. A vertex whose reference direction
    projects to (nearly) zero, or that has no neighbour, takes the projection of the coordinate axis
    least aligned with its normal as x axis (these fallbacks are not rigid-motion invariant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from ..errors import ArgumentError
from ..validation import check_faces, check_verts
from .elements import directed_edges, vertex_normals
from .neighbors import knn

__all__ = ["TangentFrames", "vertex_frames", "reference_neighbors"]

_TIE_RTOL = 1e-9


@dataclass(frozen=True)
class TangentFrames:
    """Per-vertex right-handed orthonormal frames.

    Attributes
    ----------
    normals : ndarray, shape (V, 3), float64
        Unit normals.
    basis_x : ndarray, shape (V, 3), float64
        Unit tangent x axes, orthogonal to ``normals``.
    basis_y : ndarray, shape (V, 3), float64
        ``cross(normals, basis_x)``.
    """

    normals: np.ndarray
    basis_x: np.ndarray
    basis_y: np.ndarray

    def __len__(self) -> int:
        return len(self.normals)

    def rotated(self, angles: np.ndarray) -> "TangentFrames":
        """Gauge change: rotate every tangent basis counter-clockwise about its normal.

        Parameters
        ----------
        angles : array, shape (V,), float64
            Rotation angle ``phi[i]`` of each frame. A tangent vector with polar angle ``a`` in the
            old frame has polar angle ``a - phi[i]`` in the new one.

        Returns
        -------
        TangentFrames
        """
        a = np.asarray(angles, dtype=np.float64)
        if a.shape != (len(self.normals),):
            raise ArgumentError(f"expected angles of shape ({len(self.normals)},), got {a.shape}")
        c, s = np.cos(a)[:, None], np.sin(a)[:, None]
        return TangentFrames(
            self.normals, c * self.basis_x + s * self.basis_y, -s * self.basis_x + c * self.basis_y
        )

    def to_local(self, vectors: np.ndarray) -> np.ndarray:
        """Coordinates of 3D vectors (projected onto each tangent plane), (V, 3) -> (V, 2)."""
        v = np.asarray(vectors, dtype=np.float64)
        return np.stack(
            [np.einsum("ij,ij->i", v, self.basis_x), np.einsum("ij,ij->i", v, self.basis_y)], axis=1
        )

    def to_world(self, coords: np.ndarray) -> np.ndarray:
        """3D tangent vectors from frame coordinates, (V, 2) -> (V, 3)."""
        c = np.asarray(coords, dtype=np.float64)
        return c[:, :1] * self.basis_x + c[:, 1:2] * self.basis_y


def _as_verts(verts: np.ndarray) -> np.ndarray:
    return check_verts(verts)


def _as_faces(faces: np.ndarray, num_verts: int) -> np.ndarray:
    return check_faces(faces, num_verts)


def _verts_in_frames(verts: np.ndarray, frames: "TangentFrames", n_neighbors: int) -> tuple[np.ndarray, int]:
    """Checked ``verts`` and ``n_neighbors`` of an operator built in ``frames`` (one frame a vertex)."""
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ArgumentError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    v = _as_verts(verts)
    if len(frames.normals) != len(v):
        raise ArgumentError(f"frames have {len(frames.normals)} vertices, verts have {len(v)}")
    return v, int(n_neighbors)


def reference_neighbors(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The neighbour defining each mesh vertex's reference edge.

    The reference edge of vertex ``i`` is its longest incident edge; lengths within a relative
    ``1e-9`` of the longest count as ties, broken by the smallest neighbour index.

    Returns
    -------
    ndarray, shape (V,), int64
        Neighbour index, ``-1`` for vertices without an edge.
    """
    v = _as_verts(verts)
    f = _as_faces(faces, len(v))
    return _reference_from_edges(v, *directed_edges(f, len(v)))


def _reference_from_edges(v: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """:func:`reference_neighbors` given the sorted directed edges."""
    out = np.full(len(v), -1, dtype=np.int64)
    if len(src) == 0:
        return out
    length = np.linalg.norm(v[dst] - v[src], axis=1)
    longest = np.zeros(len(v))
    np.maximum.at(longest, src, length)
    cand = length >= longest[src] * (1.0 - _TIE_RTOL)
    # Edges are sorted by (src, dst): the first candidate of each src has the smallest dst.
    first_src, first = np.unique(src[cand], return_index=True)
    out[first_src] = dst[cand][first]
    return out


def _fallback_axis(normals: np.ndarray) -> np.ndarray:
    """Unit tangent vectors: projection of the coordinate axis least aligned with each normal."""
    axis = np.eye(3)[np.argmin(np.abs(normals), axis=1)]
    t = axis - np.einsum("ij,ij->i", axis, normals)[:, None] * normals
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def _frames_from_directions(normals: np.ndarray, directions: np.ndarray, valid: np.ndarray) -> TangentFrames:
    """Frames whose x axis is the tangent projection of ``directions`` (fallback where invalid)."""
    d = np.where(valid[:, None], directions, 0.0)
    t = d - np.einsum("ij,ij->i", d, normals)[:, None] * normals
    tn = np.linalg.norm(t, axis=1)
    good = valid & (tn > 1e-12 * np.linalg.norm(d, axis=1)) & (tn > 0)
    x = _fallback_axis(normals)
    x[good] = t[good] / tn[good, None]
    y = np.cross(normals, x)
    return TangentFrames(normals, x, y)


def _mesh_frames(v: np.ndarray, f: np.ndarray) -> TangentFrames:
    n = vertex_normals(v, f, weighting="angle") if len(f) else np.zeros_like(v)
    zero = np.linalg.norm(n, axis=1) == 0
    if zero.any() and len(f):
        n[zero] = vertex_normals(v, f, weighting="area")[zero]
        zero = np.linalg.norm(n, axis=1) == 0
    n[zero] = (0.0, 0.0, 1.0)
    ref = reference_neighbors(v, f)
    has = ref >= 0
    d = np.zeros_like(v)
    d[has] = v[ref[has]] - v[has]
    return _frames_from_directions(n, d, has)


def _pca_normals(v: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Unoriented PCA normals (V, 3) and the neighbour indices (V, k) used for them."""
    idx, _ = knn(v, n_neighbors)
    nb = np.concatenate([np.arange(len(v))[:, None], idx], axis=1)
    p = v[nb]  # (V, k+1, 3)
    p = p - p.mean(axis=1, keepdims=True)
    cov = np.einsum("vki,vkj->vij", p, p)
    _, vecs = np.linalg.eigh(cov)
    return np.ascontiguousarray(vecs[:, :, 0]), idx


def _orient_normals(v: np.ndarray, normals: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Consistently orient normals over an MST of the neighbour graph, outward per component."""
    nv = len(v)
    if nv == 0 or idx.shape[1] == 0:
        out = normals.copy()
        flip = np.einsum("ij,ij->i", out, v - v.mean(0)) < 0 if nv else np.zeros(0, bool)
        out[flip] *= -1
        return out
    src = np.repeat(np.arange(nv), idx.shape[1])
    dst = idx.ravel()
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = 1.0 - np.abs(np.einsum("ij,ij->i", normals[src], normals[dst])) + 1e-9
    graph = sp.coo_matrix((np.clip(w, 1e-9, None), (src, dst)), shape=(nv, nv)).tocsr()
    graph = graph.maximum(graph.T)
    tree = csgraph.minimum_spanning_tree(graph)
    tree = tree + tree.T
    n_comp, labels = csgraph.connected_components(tree, directed=False)
    # A virtual root joined to the first vertex of every component makes one BFS reach all.
    roots = np.unique(labels, return_index=True)[1]
    t = tree.tocoo()
    rows = np.concatenate([t.row, np.full(n_comp, nv), roots])
    cols = np.concatenate([t.col, roots, np.full(n_comp, nv)])
    full = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(nv + 1, nv + 1))
    _, pred = csgraph.breadth_first_order(full, nv, directed=False, return_predecessors=True)
    parent = pred[:nv].astype(np.int64)
    parent[roots] = nv
    # Relative sign to the parent, then the product along the path to the root (pointer jumping).
    nrm = np.concatenate([normals, np.zeros((1, 3))])
    sign = np.where(np.einsum("ij,ij->i", normals, nrm[parent]) < 0, -1.0, 1.0)
    sign = np.concatenate([sign, [1.0]])
    ptr = np.concatenate([parent, [nv]])
    for _ in range(int(np.ceil(np.log2(nv + 1))) + 1):
        sign = sign * sign[ptr]
        ptr = ptr[ptr]
    out = normals * sign[:nv, None]
    # Outward on average from each component's centroid.
    counts = np.bincount(labels, minlength=n_comp).astype(np.float64)
    centroid = np.stack([np.bincount(labels, weights=v[:, k], minlength=n_comp) for k in range(3)], 1)
    centroid /= counts[:, None]
    score = np.bincount(labels, weights=np.einsum("ij,ij->i", out, v - centroid[labels]), minlength=n_comp)
    out[score[labels] < 0] *= -1
    return out


def _cloud_frames(v: np.ndarray, n_neighbors: int) -> TangentFrames:
    if len(v) == 0:
        return TangentFrames(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)))
    normals, idx = _pca_normals(v, n_neighbors)
    normals = _orient_normals(v, normals, idx)
    has = np.full(len(v), idx.shape[1] > 0)
    d = np.zeros_like(v)
    if idx.shape[1] > 0:
        d = v[idx[:, 0]] - v
    return _frames_from_directions(normals, d, has)


def vertex_frames(verts: np.ndarray, faces: np.ndarray | None = None, *, n_neighbors: int = 30) -> TangentFrames:
    """Tangent frames at every vertex of a mesh or point cloud.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, optional
        ``None`` for a point cloud.
    n_neighbors : int
        Neighbours of the PCA normals of a point cloud (meshes do not use it).

    Returns
    -------
    TangentFrames
        See the module docstring for the construction and its fallbacks.
    """
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ArgumentError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    v = _as_verts(verts)
    if faces is None:
        return _cloud_frames(v, int(n_neighbors))
    return _mesh_frames(v, _as_faces(faces, len(v)))
