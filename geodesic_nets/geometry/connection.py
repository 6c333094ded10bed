"""Discrete Levi-Civita connection: parallel transport between neighbouring tangent frames.

Sign conventions (``i -> j`` is directed edge ``e``)
---------------------------------------------------
* ``edge_angle[e]``: polar angle (counter-clockwise about the normal, from ``basis_x``) of the
  direction of ``j`` seen from ``i``, in the frame of ``i``; ``edge_length[e] * exp(1j *
  edge_angle[e])`` is the discrete log map of ``j`` at ``i``.
* ``transport[e]``: a tangent vector with polar angle ``a`` in the frame of ``i`` has polar angle
  ``a + transport[e]`` in the frame of ``j`` after parallel transport along the edge. In complex
  form ``z_j = exp(1j * transport[e]) * z_i``. For meshes ``transport[i->j] = edge_angle[j->i] +
  pi - edge_angle[i->j]``, so ``transport[j->i] = -transport[i->j]`` (mod 2 pi).
* A gauge change ``frames.rotated(phi)`` changes ``edge_angle[e]`` by ``-phi[i]`` and
  ``transport[e]`` by ``phi[i] - phi[j]``.
* Holonomy of a loop traversed counter-clockwise (region on the left, normals outward) is
  ``+`` the enclosed curvature: ``~ +area`` for a small loop on the unit sphere.

Meshes use the intrinsic *vertex tangent space* discretization (as in the vector heat method):
the corner angles around vertex ``i`` are rescaled to sum to ``2 pi`` (interior) and the outgoing
edges get the cumulative rescaled angle, counted counter-clockwise from the frame's reference edge
(:func:`~geodesic_nets.geometry.frames.reference_neighbors`) and offset by the polar angle of
that edge in the given frame (0 for :func:`vertex_frames`, ``-phi`` for rotated frames). At
boundary vertices the angles keep their true sum by default (``boundary="wedge"``: planar
domains, corners included, are exactly flat) or are rescaled to sum to ``pi``
(``boundary="half_disk"``, geometry-central's convention for the vector heat method).
Vertices whose one-ring is not a single consistently oriented fan (non-manifold, inconsistent
orientation, a vertex touching degenerate faces, zero angle sum) fall back to the extrinsic
projected angle ``atan2(d . y, d . x)`` of the edge vector ``d``.

Point clouds use the symmetrized k-NN graph; angles are extrinsic (projected edges) and the
transport is the minimal rotation taking ``n_i`` to ``n_j``, measured in ``j``'s frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import GeometryError
from .elements import corner_angles, directed_edges
from .frames import TangentFrames, _as_faces, _as_verts, _reference_from_edges
from .neighbors import knn_edges
from .validate import check_point_cloud

__all__ = [
    "Connection",
    "levi_civita_connection",
    "transport_vectors",
    "transport_along_path",
    "connection_laplacian",
    "holonomy",
    "wrap_angle",
]


def wrap_angle(a: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to ``(-pi, pi]``, same shape, float64."""
    a = np.asarray(a, dtype=np.float64)
    return np.pi - np.mod(np.pi - a, 2.0 * np.pi)


@dataclass(frozen=True)
class Connection:
    """Parallel transport along the directed edges of a mesh or a neighbour graph.

    Attributes
    ----------
    edge_src, edge_dst : ndarray, shape (E,), int64
        Directed edges sorted by ``(src, dst)``; both directions are present.
    transport : ndarray, shape (E,), float64
        Rotation angle, in ``(-pi, pi]``, of the transport from the frame of ``src`` to the frame
        of ``dst`` (see the module docstring).
    edge_angle : ndarray, shape (E,), float64
        Polar angle, in ``(-pi, pi]``, of the edge ``src -> dst`` in the frame of ``src``.
    edge_length : ndarray, shape (E,), float64
        Euclidean edge length.
    """

    edge_src: np.ndarray
    edge_dst: np.ndarray
    transport: np.ndarray
    edge_angle: np.ndarray
    edge_length: np.ndarray

    @property
    def num_verts(self) -> int:
        """One more than the largest vertex index used by an edge (0 without edges)."""
        if len(self.edge_src) == 0:
            return 0
        return int(max(self.edge_src.max(), self.edge_dst.max())) + 1

    def edge_index(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Index of the edges ``src[k] -> dst[k]``, shape like ``src``, int64.

        Raises
        ------
        GeometryError
            If one of the pairs is not an edge (naming the first such pair).
        """
        s = np.asarray(src, dtype=np.int64)
        d = np.asarray(dst, dtype=np.int64)
        n = max(self.num_verts, int(s.max(initial=0)) + 1, int(d.max(initial=0)) + 1)
        keys = self.edge_src * n + self.edge_dst
        q = s * n + d
        if len(keys) == 0:
            pos = np.zeros(q.shape, dtype=np.int64)
            ok = np.zeros(q.shape, dtype=bool)
        else:
            pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
            ok = keys[pos] == q
        if not np.all(ok):
            k = np.flatnonzero(~np.ravel(ok))[0]
            raise GeometryError(
                f"vertices {int(np.ravel(s)[k])} and {int(np.ravel(d)[k])} are not joined by an edge"
            )
        return pos

    def reverse_index(self) -> np.ndarray:
        """Index of the reverse edge ``dst -> src`` of every edge, shape (E,), int64."""
        return self.edge_index(self.edge_dst, self.edge_src)


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def _extrinsic_angles(v: np.ndarray, frames: TangentFrames, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    d = v[dst] - v[src]
    return np.arctan2(
        np.einsum("ij,ij->i", d, frames.basis_y[src]), np.einsum("ij,ij->i", d, frames.basis_x[src])
    )


def _rotation_transport(frames: TangentFrames, src: np.ndarray, dst: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Angle of the minimal rotation n_src -> n_dst applied to x_src, measured in dst's frame."""
    a, b = frames.normals[src], frames.normals[dst]
    x = frames.basis_x[src]
    c = np.einsum("ij,ij->i", a, b)
    w = np.cross(a, b)
    anti = 1.0 + c < 1e-12
    den = np.where(anti, 1.0, 1.0 + c)
    wx = np.cross(w, x)
    rx = x + wx + np.cross(w, wx) / den[:, None]
    if anti.any():  # rotation by pi about a tangent axis (the projected edge, else x itself)
        u = d[anti] - np.einsum("ij,ij->i", d[anti], a[anti])[:, None] * a[anti]
        un = np.linalg.norm(u, axis=1, keepdims=True)
        u = np.where(un > 0, u / np.where(un > 0, un, 1.0), x[anti])
        xa = x[anti]
        rx[anti] = 2.0 * np.einsum("ij,ij->i", u, xa)[:, None] * u - xa
    return np.arctan2(
        np.einsum("ij,ij->i", rx, frames.basis_y[dst]), np.einsum("ij,ij->i", rx, frames.basis_x[dst])
    )


def _list_rank(pred: np.ndarray, weight: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``weight`` along ``pred`` pointers up to a self-pointing root (pointer jumping).

    Returns the accumulated sums and the final pointers (the root reached, or not, after enough
    doublings to cover lists of length ``max_len``).
    """
    val = weight.copy()
    ptr = pred.copy()
    for _ in range(int(np.ceil(np.log2(max(max_len, 1)))) + 1):
        val = val + val[ptr]
        ptr = ptr[ptr]
    return val, ptr


def _intrinsic_angles(
    v: np.ndarray,
    f: np.ndarray,
    frames: TangentFrames,
    src: np.ndarray,
    dst: np.ndarray,
    boundary: str,
) -> np.ndarray:
    """Edge angles by the vertex-tangent-space construction (extrinsic fallback per vertex)."""
    nv, ne = len(v), len(src)
    angle = _extrinsic_angles(v, frames, src, dst)
    degenerate = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])
    irregular = np.zeros(nv, dtype=bool)
    irregular[f[degenerate].ravel()] = True
    fg = f[~degenerate]
    if len(fg) == 0 or ne == 0:
        return angle
    alpha_f = corner_angles(v, fg)
    # Corners k = c * F + f: vertex, edge to the next corner's vertex, edge to the previous one.
    vert = fg.T.ravel()
    nxt = np.roll(fg, -1, axis=1).T.ravel()
    prv = np.roll(fg, -2, axis=1).T.ravel()
    alpha = alpha_f.T.ravel()
    nc = len(vert)
    keys = src * nv + dst
    e_next = np.searchsorted(keys, vert * nv + nxt)
    e_prev = np.searchsorted(keys, vert * nv + prv)
    # Corner whose first (resp. second) side is a given edge; duplicates make the vertex irregular.
    count_next = np.bincount(e_next, minlength=ne)
    count_prev = np.bincount(e_prev, minlength=ne)
    irregular[src[(count_next > 1) | (count_prev > 1)]] = True
    corner_of_next = np.full(ne, -1, dtype=np.int64)
    corner_of_next[e_next] = np.arange(nc)
    corner_of_prev = np.full(ne, -1, dtype=np.int64)
    corner_of_prev[e_prev] = np.arange(nc)
    # Counter-clockwise order: the predecessor of corner k ends on k's first side.
    pred = corner_of_prev[e_next]
    deg = np.bincount(src, minlength=nv)
    n_corner = np.bincount(vert, minlength=nv)
    n_head = np.bincount(vert[pred < 0], minlength=nv)
    theta = np.bincount(vert, weights=alpha, minlength=nv)
    interior = (n_head == 0) & (n_corner == deg)
    on_boundary = (n_head == 1) & (n_corner == deg - 1)
    irregular |= ~(interior | on_boundary) | ~(theta > 1e-12)
    irregular[n_corner == 0] = True
    # Root corner: the chain head on the boundary, the corner starting at the reference edge inside.
    ref = _reference_from_edges(v, src, dst)
    root = np.full(nv, -1, dtype=np.int64)
    heads = np.flatnonzero(pred < 0)
    root[vert[heads]] = heads
    has_ref = (ref >= 0) & interior & ~irregular
    e_ref_int = np.searchsorted(keys, np.flatnonzero(has_ref) * nv + ref[has_ref])
    root[has_ref] = corner_of_next[e_ref_int]
    irregular |= root < 0
    # Break every fan at its root, then accumulate the corner angles along the fan.
    is_root = np.zeros(nc, dtype=bool)
    is_root[root[~irregular]] = True
    bad = is_root | irregular[vert] | (pred < 0)
    ptr = np.where(bad, np.arange(nc), pred)
    weight = np.where(bad, 0.0, alpha[np.maximum(pred, 0)])
    cum, reached = _list_rank(ptr, weight, int(n_corner.max()))
    broken = (reached != root[vert]) & ~irregular[vert]
    irregular[vert[broken]] = True
    # Cumulative angle of every edge from the root's first side (last boundary edge: via prev).
    k_next = corner_of_next
    k_prev = corner_of_prev
    cum_e = np.where(k_next >= 0, cum[np.maximum(k_next, 0)], cum[k_prev] + alpha[k_prev])
    scale = np.ones(nv)
    ok = ~irregular
    scale[ok & interior] = 2.0 * np.pi / theta[ok & interior]
    if boundary == "half_disk":
        scale[ok & on_boundary] = np.pi / theta[ok & on_boundary]
    rel = scale[src] * cum_e
    # Offset: relative angle of the reference edge, and its polar angle in the given frame.
    e_ref = np.searchsorted(keys, np.arange(nv) * nv + np.maximum(ref, 0))
    e_ref = np.minimum(e_ref, ne - 1)
    offset = np.zeros(nv)
    offset[ok] = angle[e_ref[ok]] - rel[e_ref[ok]]
    reg_edge = ok[src]
    angle[reg_edge] = rel[reg_edge] + offset[src[reg_edge]]
    return angle


def levi_civita_connection(
    verts: np.ndarray,
    faces: np.ndarray | None,
    frames: TangentFrames,
    *,
    n_neighbors: int = 30,
    boundary: Literal["half_disk", "wedge"] = "wedge",
) -> Connection:
    """Discrete Levi-Civita connection in the gauge ``frames``.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, or None
        ``None`` for a point cloud (edges: symmetrized ``n_neighbors``-NN graph).
    frames : TangentFrames
        The gauge, e.g. from :func:`~geodesic_nets.geometry.frames.vertex_frames`.
    n_neighbors : int
        Neighbours of the point-cloud graph (meshes use their edges).
    boundary : {"half_disk", "wedge"}
        Meshes only: keep the true angle sum at boundary vertices (default; exactly flat on a
        planar domain, corners included) or rescale it to ``pi`` (geometry-central's convention).

    Returns
    -------
    Connection
        See the module docstring for the sign conventions.
    """
    if boundary not in ("half_disk", "wedge"):
        raise ValueError(f"boundary must be 'half_disk' or 'wedge', got {boundary!r}")
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    v = _as_verts(verts)
    if len(frames.normals) != len(v):
        raise ValueError(f"frames have {len(frames.normals)} vertices, verts have {len(v)}")
    if faces is None:
        src, dst = knn_edges(v, int(n_neighbors)) if len(v) > 1 else (np.zeros(0, np.int64),) * 2
        angle = _extrinsic_angles(v, frames, src, dst)
        transport = _rotation_transport(frames, src, dst, v[dst] - v[src])
    else:
        f = _as_faces(faces, len(v))
        src, dst = directed_edges(f, len(v))
        angle = _intrinsic_angles(v, f, frames, src, dst, boundary)
        nv = len(v)
        rev = np.searchsorted(src * nv + dst, dst * nv + src)
        transport = angle[rev] + np.pi - angle
    return Connection(
        edge_src=src.astype(np.int64),
        edge_dst=dst.astype(np.int64),
        transport=wrap_angle(transport),
        edge_angle=wrap_angle(angle),
        edge_length=np.linalg.norm(v[dst] - v[src], axis=1),
    )


# --------------------------------------------------------------------------------------------
# Using a connection
# --------------------------------------------------------------------------------------------


def _rotate(coords: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    x, y = coords[..., 0], coords[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def transport_vectors(connection: Connection, edge_index: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Parallel transport tangent vectors along edges.

    Parameters
    ----------
    connection : Connection
    edge_index : array, shape (N,), int64
        Edge along which each vector travels (from the frame of its src to that of its dst).
    coords : array, shape (N, 2), float64
        Coordinates in the frame of ``edge_src[edge_index]``.

    Returns
    -------
    ndarray, shape (N, 2), float64
        Coordinates in the frame of ``edge_dst[edge_index]``.
    """
    e = np.asarray(edge_index, dtype=np.int64)
    c = np.asarray(coords, dtype=np.float64)
    if c.shape != e.shape + (2,):
        raise ValueError(f"expected coords of shape {e.shape + (2,)}, got {c.shape}")
    return _rotate(c, connection.transport[e])


def _path_angle(connection: Connection, path: Sequence[int]) -> float:
    p = np.asarray(path, dtype=np.int64).ravel()
    if len(p) < 2:
        return 0.0
    e = connection.edge_index(p[:-1], p[1:])
    return float(np.sum(connection.transport[e]))


def transport_along_path(connection: Connection, path: Sequence[int], coords: np.ndarray) -> np.ndarray:
    """Transport one tangent vector along a path of adjacent vertices.

    Parameters
    ----------
    path : sequence of int, length P
        Vertex indices; consecutive ones must be joined by an edge.
    coords : array, shape (2,), float64
        Coordinates in the frame of ``path[0]``.

    Returns
    -------
    ndarray, shape (2,), float64
        Coordinates in the frame of ``path[-1]``.
    """
    c = np.asarray(coords, dtype=np.float64)
    if c.shape != (2,):
        raise ValueError(f"expected coords of shape (2,), got {c.shape}")
    return _rotate(c, _path_angle(connection, path))


def holonomy(connection: Connection, loop: Sequence[int]) -> float:
    """Rotation angle of a vector transported once around a closed vertex loop.

    Parameters
    ----------
    loop : sequence of int
        Vertices of the loop; it is closed automatically when ``loop[-1] != loop[0]``.

    Returns
    -------
    float
        In ``(-pi, pi]``; counter-clockwise loops enclosing positive curvature give positive
        angles (the enclosed angle defect on a mesh).
    """
    p = list(np.asarray(loop, dtype=np.int64).ravel())
    if len(p) and p[-1] != p[0]:
        p.append(p[0])
    return float(wrap_angle(_path_angle(connection, p)))


# --------------------------------------------------------------------------------------------
# Connection Laplacian
# --------------------------------------------------------------------------------------------


def _cotan_edge_weights(v: np.ndarray, f: np.ndarray, connection: Connection) -> np.ndarray:
    """``(cot a + cot b) / 2`` on every directed edge of the connection, shape (E,)."""
    nv = len(v)
    keys = connection.edge_src * nv + connection.edge_dst
    w = np.zeros(len(keys))
    for c in range(3):
        i, j, k = f[:, c], f[:, (c + 1) % 3], f[:, (c + 2) % 3]
        e1, e2 = v[j] - v[i], v[k] - v[i]
        cross = np.linalg.norm(np.cross(e1, e2), axis=1)
        dot = np.einsum("ij,ij->i", e1, e2)
        cot = np.divide(dot, cross, out=np.zeros_like(dot), where=cross > 0)
        valid = j != k
        for a, b in ((j, k), (k, j)):
            pos = np.searchsorted(keys, a[valid] * nv + b[valid])
            pos = np.minimum(pos, len(keys) - 1)
            hit = keys[pos] == a[valid] * nv + b[valid]
            np.add.at(w, pos[hit], 0.5 * cot[valid][hit])
    return w


def _robust_cloud_weights(v: np.ndarray, connection: Connection) -> np.ndarray:
    import robust_laplacian

    check_point_cloud(v)
    lap, _ = robust_laplacian.point_cloud_laplacian(v, n_neighbors=int(min(30, len(v) - 1)))
    lap = sp.csr_matrix(lap)
    return -np.asarray(lap[connection.edge_src, connection.edge_dst]).ravel()


def connection_laplacian(
    verts: np.ndarray,
    faces: np.ndarray | None,
    connection: Connection,
    *,
    weights: Literal["cotan", "uniform"] = "cotan",
) -> sp.csr_matrix:
    """Connection (Bochner) Laplacian acting on complex tangent-vector coordinates.

    ``u^H L u = sum over undirected edges of w_ij |u_j - exp(1j transport[i->j]) u_i|^2``, i.e.
    ``L[i, i] = sum_j w_ij`` and ``L[j, i] = -w_ij exp(1j transport[i->j])``.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, or None
    connection : Connection
    weights : {"cotan", "uniform"}
        ``"cotan"``: the cotan weights ``(cot a + cot b) / 2`` on a mesh (the off-diagonal of
        ``-igl.cotmatrix``); on a point cloud the weights of ``robust_laplacian``'s point-cloud
        Laplacian on the connection's edges (its entries on other pairs are dropped).
        ``"uniform"``: 1 on every edge.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), complex128
        Hermitian; positive semidefinite when the weights are non-negative (e.g. Delaunay meshes).
        Use it with a mass matrix (vertex areas) for the generalized eigenproblem.
    """
    if weights not in ("cotan", "uniform"):
        raise ValueError(f"weights must be 'cotan' or 'uniform', got {weights!r}")
    v = _as_verts(verts)
    nv = len(v)
    src, dst = connection.edge_src, connection.edge_dst
    if weights == "uniform":
        w = np.ones(len(src))
    elif faces is None:
        w = _robust_cloud_weights(v, connection) if len(src) else np.zeros(0)
    else:
        w = _cotan_edge_weights(v, _as_faces(faces, nv), connection) if len(src) else np.zeros(0)
    diag = np.bincount(src, weights=w, minlength=nv)
    off = -w * np.exp(1j * connection.transport)
    rows = np.concatenate([dst, np.arange(nv)])
    cols = np.concatenate([src, np.arange(nv)])
    vals = np.concatenate([off, diag.astype(np.complex128)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(nv, nv))
