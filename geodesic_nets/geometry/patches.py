"""Geodesic polar patches around every vertex, by the discrete exponential map.

The patch of a centre ``c`` lists nearby vertices ``q`` with geodesic polar coordinates
``(rho, theta)`` of ``q`` in the tangent frame of ``c``: the input of the patch operators of GCNN,
ACNN and MoNet.

Construction (discrete exponential map, Schmidt et al. 2006, propagated ring by ring)
-------------------------------------------------------------------------------------
For all centres at once, vertices are reached hop by hop (breadth-first rings). A one-ring
neighbour ``j`` gets the exact discrete log map ``u_c(j) = edge_length * exp(1j *
edge_angle[c -> j])``. A vertex ``q`` first reached in ring ``h`` from a parent ``p`` of ring
``h - 1`` gets ``u_c(q) = u_c(p) + exp(1j * phi_c(p)) * edge_length[p -> q] * exp(1j *
edge_angle[p -> q])``, where ``phi_c(p)`` is the accumulated transport angle taking ``p``'s frame
to ``c``'s along the tree path (``phi_c(q) = phi_c(p) - transport[p -> q]``). Among the parents
in ring ``h - 1`` the one giving the smallest ``|u_c(q)|`` is kept (Schmidt's rule rather than
the shortest edge path: on a flat surface every parent gives the same vector, elsewhere the
smallest one comes from the straightest path). ``rho = |u_c(q)|`` and ``theta = arg u_c(q)``.

On a flat surface every edge path sums to the straight vector, so patches are exact wherever
the connection is flat: interior vertices of a planar mesh, and its boundary vertices too with
the connection's default ``boundary="wedge"``. On curved surfaces the error grows with curvature
times patch area (below 1 % in ``rho`` against exact geodesics for patches of a few rings).
Everything is vectorized over centres (grown in blocks of a few thousand); the work is linear
in ``V`` times the patch size. Vertices of other connected components never enter a patch.

Stopping
--------
``radius``: a centre stops growing after the first ring none of whose new vertices has
``rho <= radius``; vertices with ``rho <= radius`` are kept. ``k``: a centre grows until its
rings hold at least ``k`` vertices, plus one more ring as margin; the ``k`` smallest ``rho`` are
kept. Both may be given (the ``k`` nearest within ``radius``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ArgumentError, GeometryError
from ..validation import check_verts
from .connection import levi_civita_connection
from .frames import TangentFrames, vertex_frames
from .transport import Connection

__all__ = ["GeodesicPatches", "geodesic_patches"]

_BLOCK = 4096  # centres grown together (bounds memory, keeps the arrays in cache)


@dataclass(frozen=True)
class GeodesicPatches:
    """Geodesic polar patches of every vertex, flat (CSR-style) grouped by centre.

    Attributes
    ----------
    center : ndarray, shape (P,), int64
        Centre vertex of each entry, non-decreasing.
    neighbor : ndarray, shape (P,), int64
        Patch vertex; the centre itself is the first entry of its patch.
    rho : ndarray, shape (P,), float64
        Geodesic distance estimate (0 for the centre); non-decreasing within a patch.
    theta : ndarray, shape (P,), float64
        Polar angle in ``(-pi, pi]`` of the neighbour in the centre's tangent frame
        (0 for the centre itself).
    offsets : ndarray, shape (V + 1,), int64
        Patch of vertex ``c`` is ``slice(offsets[c], offsets[c + 1])``.
    """

    center: np.ndarray
    neighbor: np.ndarray
    rho: np.ndarray
    theta: np.ndarray
    offsets: np.ndarray

    @property
    def num_verts(self) -> int:
        """Number of vertices (and patches) V."""
        return len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        """Entries per patch (the centre included), shape (V,), int64."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.center)

    def coords(self) -> np.ndarray:
        """Cartesian log-map coordinates ``rho * (cos theta, sin theta)``, shape (P, 2), float64."""
        return self.rho[:, None] * np.stack([np.cos(self.theta), np.sin(self.theta)], axis=1)

    def to_padded(self, max_size: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dense ``(V, kmax)`` view of the patches.

        Parameters
        ----------
        max_size : int, optional
            Width ``kmax``; default the largest patch. Longer patches are truncated (they are
            sorted by ``rho``, so the nearest entries stay).

        Returns
        -------
        index : ndarray, shape (V, kmax), int64
            Neighbour indices; padding slots hold the centre's own index (safe for gathers).
        rho, theta : ndarray, shape (V, kmax), float64
            0 in padding slots.
        mask : ndarray, shape (V, kmax), bool
            True for real entries.
        """
        sizes = self.sizes
        nv = self.num_verts
        kmax = int(sizes.max(initial=0)) if max_size is None else int(max_size)
        if kmax < 0:
            raise ArgumentError(f"max_size must be non-negative, got {max_size!r}")
        rank = np.arange(len(self.center)) - self.offsets[self.center]
        keep = rank < kmax
        row, col = self.center[keep], rank[keep]
        index = np.repeat(np.arange(nv, dtype=np.int64)[:, None], kmax, axis=1)
        rho = np.zeros((nv, kmax))
        theta = np.zeros((nv, kmax))
        mask = np.zeros((nv, kmax), dtype=bool)
        index[row, col] = self.neighbor[keep]
        rho[row, col] = self.rho[keep]
        theta[row, col] = self.theta[keep]
        mask[row, col] = True
        return index, rho, theta, mask


def _positive_int(x, name: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ArgumentError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def _lookup(keys_sorted: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Whether each query key is in the sorted key array, shape like ``query``, bool."""
    if len(keys_sorted) == 0:
        return np.zeros(len(query), dtype=bool)
    pos = np.minimum(np.searchsorted(keys_sorted, query), len(keys_sorted) - 1)
    return keys_sorted[pos] == query


class _EdgeTable:
    """The connection's edges arranged for expansion: per-vertex slices and rotations."""

    def __init__(self, num_verts: int, connection: Connection) -> None:
        src = connection.edge_src
        self.num_verts = num_verts
        self.dst = connection.edge_dst
        self.starts = np.searchsorted(src, np.arange(num_verts + 1))
        self.deg = np.diff(self.starts)
        self.evec = connection.edge_length * np.exp(1j * connection.edge_angle)  # edge in src's frame
        self.back = np.exp(-1j * connection.transport)  # dst's frame -> src's frame
        # outgoing edges as a padded (V, max degree) table when degrees are even enough
        self.max_deg = int(self.deg.max(initial=0))
        self.table = None
        if len(src) and self.max_deg <= 2 * len(src) / max(num_verts, 1) + 2:
            self.table = np.full((num_verts, self.max_deg), -1, dtype=np.int64)
            self.table[src, np.arange(len(src)) - self.starts[src]] = np.arange(len(src))

    def expand(self, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All outgoing edges of ``verts`` (n,): (row in ``verts``, edge index), each (M,)."""
        if self.table is not None:
            e = self.table[verts].ravel()
            rep = np.repeat(np.arange(len(verts), dtype=np.int64), self.max_deg)
            valid = e >= 0
            return rep[valid], e[valid]
        d = self.deg[verts]
        rep = np.repeat(np.arange(len(verts), dtype=np.int64), d)
        e = np.repeat(self.starts[verts] - (np.cumsum(d) - d), d) + np.arange(len(rep))
        return rep, e


def _grow_rings(
    edges: _EdgeTable,
    centers: np.ndarray,
    *,
    k: int | None,
    radius: float | None,
    max_rings: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discrete exponential map of a block of centres, ring by ring.

    Returns flat ``center (N,)`` (positions in ``centers``), ``neighbor (N,)``, ``u (N,)
    complex128`` (log-map coordinates ``x + 1j y`` in the centre's frame) for every vertex reached,
    the centres included, grouped by ring.
    """
    nv, nb = edges.num_verts, len(centers)
    local = np.arange(nb, dtype=np.int64)
    out_c, out_q, out_u = [local], [centers.copy()], [np.zeros(nb, dtype=np.complex128)]
    # The front: entries of the last ring, sorted by key = c * V + q (c local); f_rot takes a
    # vector from q's frame to c's frame (exp(1j * phi_c(q))).
    f_c, f_q = local, centers.copy()
    f_u, f_rot = np.zeros(nb, dtype=np.complex128), np.ones(nb, dtype=np.complex128)
    prev_keys = np.zeros(0, dtype=np.int64)  # ring h - 2
    cur_keys = local * nv + centers  # ring h - 1
    count = np.ones(nb, dtype=np.int64)
    active = np.ones(nb, dtype=bool)
    ring = 0
    while len(f_c) and (max_rings is None or ring < max_rings):
        ring += 1
        # expand every front entry (c, p) along all edges p -> q
        rep, e = edges.expand(f_q)
        cand_key = f_c[rep] * nv + edges.dst[e]
        order = np.argsort(cand_key, kind="stable")
        ks = cand_key[order]
        head = np.ones(len(ks), dtype=bool)
        head[1:] = ks[1:] != ks[:-1]
        # a neighbour of ring h-1 lies in ring h-2, h-1 or h: keep only the new ones
        uniq = ks[head]
        is_new = ~(_lookup(cur_keys, uniq) | _lookup(prev_keys, uniq))
        keep = is_new[np.cumsum(head) - 1]
        order, head = order[keep], head[keep]
        rep, e = rep[order], e[order]
        u = f_u[rep] + f_rot[rep] * edges.evec[e]
        rho2 = u.real * u.real + u.imag * u.imag
        # one entry per (centre, vertex): the parent giving the smallest |u| (first on ties)
        group = np.cumsum(head) - 1
        gmin = np.minimum.reduceat(rho2, np.flatnonzero(head)) if len(rho2) else rho2
        at_min = np.flatnonzero(rho2 == gmin[group])
        first = np.ones(len(at_min), dtype=bool)
        first[1:] = group[at_min[1:]] != group[at_min[:-1]]
        pick = at_min[first]
        n_key = uniq[is_new]
        n_c = f_c[rep[pick]]
        n_q = n_key - n_c * nv
        n_u = u[pick]
        n_rot = f_rot[rep[pick]] * edges.back[e[pick]]  # unit modulus up to rounding
        rho2 = rho2[pick]
        out_c.append(n_c)
        out_q.append(n_q)
        out_u.append(n_u)
        # which centres keep growing
        count_before = count.copy()
        count += np.bincount(n_c, minlength=nb)
        if k is not None:
            active &= count_before < k
        if radius is not None:
            active &= np.bincount(n_c[rho2 <= radius * radius], minlength=nb) > 0
        keep = active[n_c]
        prev_keys, cur_keys = cur_keys, n_key
        f_c, f_q, f_u, f_rot = n_c[keep], n_q[keep], n_u[keep], n_rot[keep]
    return np.concatenate(out_c), np.concatenate(out_q), np.concatenate(out_u)


def _block_patches(
    edges: _EdgeTable, centers: np.ndarray, *, k: int | None, radius: float | None, max_rings: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches of a block of centres: local centre, neighbour, u; sorted by (centre, rho)."""
    c, q, u = _grow_rings(edges, centers, k=k, radius=radius, max_rings=max_rings)
    rho = np.abs(u)
    if radius is not None:
        inside = rho <= radius
        c, q, u, rho = c[inside], q[inside], u[inside], rho[inside]
    # sort by centre, then rho; stable sorts keep the centre (first in ring order) first among
    # rho = 0 and break other ties by ring, then vertex index
    order = np.argsort(rho, kind="stable")
    order = order[np.argsort(c[order], kind="stable")]
    c, q, u = c[order], q[order], u[order]
    if k is not None:
        offsets = np.searchsorted(c, np.arange(len(centers) + 1))
        keep = np.arange(len(c)) - offsets[c] < k
        c, q, u = c[keep], q[keep], u[keep]
    return c, q, u


def geodesic_patches(
    verts: np.ndarray,
    faces: np.ndarray | None = None,
    frames: TangentFrames | None = None,
    connection: Connection | None = None,
    *,
    k: int | None = None,
    radius: float | None = None,
    max_rings: int | None = None,
) -> GeodesicPatches:
    """Geodesic polar patches of every vertex (discrete exponential map, see the module doc).

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, optional
        ``None`` for a point cloud (its connection lives on the k-NN graph).
    frames : TangentFrames, optional
        The gauge in which ``theta`` is measured; default :func:`vertex_frames`.
    connection : Connection, optional
        Default :func:`levi_civita_connection` of ``frames``. When given it must be the
        connection of ``frames`` (its edge angles define the directions).
    k : int, keyword-only
        Patch size, the centre included: the ``k`` nearest vertices by the estimate ``rho``.
    radius : float, keyword-only
        Keep vertices with ``rho <= radius``. At least one of ``k`` and ``radius`` is required.
    max_rings : int, keyword-only
        Hard limit on the number of rings grown (default: no limit).

    Returns
    -------
    GeodesicPatches
        Entries sorted by centre, then by ``rho``; the centre first with ``rho = theta = 0``.
        A patch is smaller than ``k`` when its connected component has fewer vertices.

    Raises
    ------
    GeometryError
        Empty surface, or a connection that does not fit the vertices.
    """
    v = check_verts(verts, error=GeometryError, allow_empty=False)
    if k is None and radius is None:
        raise ArgumentError("give k (patch size) or radius (or both)")
    k = None if k is None else _positive_int(k, "k")
    if radius is not None:
        if isinstance(radius, (bool, np.bool_)) or not np.isscalar(radius) or not (np.isfinite(radius) and radius > 0):
            raise ArgumentError(f"radius must be a positive finite number, got {radius!r}")
        radius = float(radius)
    max_rings = None if max_rings is None else _positive_int(max_rings, "max_rings")
    nv = len(v)
    if frames is None:
        frames = vertex_frames(v, faces)
    elif len(frames.normals) != nv:
        raise GeometryError(f"frames have {len(frames.normals)} vertices, verts have {nv}")
    if connection is None:
        connection = levi_civita_connection(v, faces, frames)
    elif connection.num_verts > nv:
        raise GeometryError(f"connection refers to vertex {connection.num_verts - 1} but there are {nv} vertices")

    edges = _EdgeTable(nv, connection)
    parts_c, parts_q, parts_u = [], [], []
    for start in range(0, nv, _BLOCK):  # blocks of centres bound the memory and stay in cache
        centers = np.arange(start, min(start + _BLOCK, nv), dtype=np.int64)
        c, q, u = _block_patches(edges, centers, k=k, radius=radius, max_rings=max_rings)
        parts_c.append(c + start)
        parts_q.append(q)
        parts_u.append(u)
    c, q, u = np.concatenate(parts_c), np.concatenate(parts_q), np.concatenate(parts_u)
    offsets = np.searchsorted(c, np.arange(nv + 1))
    rho = np.abs(u)
    rho[offsets[:-1]] = 0.0  # the centre, first of its patch
    theta = np.angle(u)
    theta[theta <= -np.pi] = np.pi
    theta[offsets[:-1]] = 0.0
    return GeodesicPatches(
        center=c.astype(np.int64),
        neighbor=q.astype(np.int64),
        rho=rho,
        theta=theta,
        offsets=offsets.astype(np.int64),
    )
