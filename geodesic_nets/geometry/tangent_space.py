"""Edge angles of a mesh by the intrinsic vertex-tangent-space construction.

The corner angles around each vertex form a fan; walking it counter-clockwise from a root corner
gives every outgoing edge a cumulative angle, rescaled to sum to ``2 pi`` at interior vertices
(and to ``pi`` at boundary vertices with ``boundary="half_disk"``; with ``boundary="wedge"`` the
true angle sum is kept). Vertices whose one-ring is not a single consistently oriented fan fall
back to the extrinsic projected angle. See :mod:`geodesic_nets.geometry.connection` for the
conventions.

Corners are numbered ``k = c * F + f`` (corner ``c`` of non-degenerate face ``f``); edges are the
sorted directed edges ``src -> dst`` of the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .elements import corner_angles
from .frames import TangentFrames, _reference_from_edges

__all__: list[str] = []


def _extrinsic_angles(v: np.ndarray, frames: TangentFrames, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    d = v[dst] - v[src]
    return np.arctan2(
        np.einsum("ij,ij->i", d, frames.basis_y[src]), np.einsum("ij,ij->i", d, frames.basis_x[src])
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


@dataclass(frozen=True)
class _Corners:
    """The corners of the non-degenerate faces and the fans they form around their vertices."""

    vert: np.ndarray  # (C,) int64: the corner's vertex
    alpha: np.ndarray  # (C,) float64: its angle
    pred: np.ndarray  # (C,) int64: the corner before it counter-clockwise, -1 for a fan's head
    of_next: np.ndarray  # (E,) int64: the corner whose first side is edge e, -1 if none
    of_prev: np.ndarray  # (E,) int64: the corner whose second side is edge e, -1 if none


def _corner_table(
    v: np.ndarray, fg: np.ndarray, src: np.ndarray, keys: np.ndarray, irregular: np.ndarray
) -> _Corners:
    """Corners of the faces ``fg`` linked into fans; marks vertices with duplicate corners irregular."""
    nv, ne = len(v), len(src)
    alpha_f = corner_angles(v, fg)
    # Corners k = c * F + f: vertex, edge to the next corner's vertex, edge to the previous one.
    vert = fg.T.ravel()
    nxt = np.roll(fg, -1, axis=1).T.ravel()
    prv = np.roll(fg, -2, axis=1).T.ravel()
    alpha = alpha_f.T.ravel()
    nc = len(vert)
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
    return _Corners(vert=vert, alpha=alpha, pred=pred, of_next=corner_of_next, of_prev=corner_of_prev)


def _classify_fans(
    corners: _Corners, src: np.ndarray, nv: int, irregular: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(interior, on_boundary, theta)`` per vertex, shape (V,) each; theta is the angle sum.

    A vertex is interior when its fan closes (no head, one corner per edge), on the boundary when
    it is one open fan; anything else, or a zero angle sum, marks it irregular.
    """
    deg = np.bincount(src, minlength=nv)
    n_corner = np.bincount(corners.vert, minlength=nv)
    n_head = np.bincount(corners.vert[corners.pred < 0], minlength=nv)
    theta = np.bincount(corners.vert, weights=corners.alpha, minlength=nv)
    interior = (n_head == 0) & (n_corner == deg)
    on_boundary = (n_head == 1) & (n_corner == deg - 1)
    irregular |= ~(interior | on_boundary) | ~(theta > 1e-12)
    irregular[n_corner == 0] = True
    return interior, on_boundary, theta


def _fan_roots(
    corners: _Corners, keys: np.ndarray, ref: np.ndarray, interior: np.ndarray, irregular: np.ndarray
) -> np.ndarray:
    """Root corner of every vertex's fan, shape (V,), int64 (-1 marks the vertex irregular).

    The chain head on the boundary, the corner starting at the reference edge inside.
    """
    nv = len(ref)
    root = np.full(nv, -1, dtype=np.int64)
    heads = np.flatnonzero(corners.pred < 0)
    root[corners.vert[heads]] = heads
    has_ref = (ref >= 0) & interior & ~irregular
    e_ref_int = np.searchsorted(keys, np.flatnonzero(has_ref) * nv + ref[has_ref])
    root[has_ref] = corners.of_next[e_ref_int]
    irregular |= root < 0
    return root


def _cumulative_edge_angles(corners: _Corners, root: np.ndarray, irregular: np.ndarray) -> np.ndarray:
    """Angle of every edge from its fan's root, unscaled, shape (E,); broken fans turn irregular."""
    vert, alpha, pred = corners.vert, corners.alpha, corners.pred
    nc = len(vert)
    # Break every fan at its root, then accumulate the corner angles along the fan.
    is_root = np.zeros(nc, dtype=bool)
    is_root[root[~irregular]] = True
    bad = is_root | irregular[vert] | (pred < 0)
    ptr = np.where(bad, np.arange(nc), pred)
    weight = np.where(bad, 0.0, alpha[np.maximum(pred, 0)])
    cum, reached = _list_rank(ptr, weight, int(np.bincount(vert).max()))
    broken = (reached != root[vert]) & ~irregular[vert]
    irregular[vert[broken]] = True
    # Cumulative angle of every edge from the root's first side (last boundary edge: via prev).
    k_next = corners.of_next
    k_prev = corners.of_prev
    return np.where(k_next >= 0, cum[np.maximum(k_next, 0)], cum[k_prev] + alpha[k_prev])


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
    irregular = np.zeros(nv, dtype=bool)  # (V,) updated in place by each step below
    irregular[f[degenerate].ravel()] = True
    fg = f[~degenerate]
    if len(fg) == 0 or ne == 0:
        return angle
    keys = src * nv + dst
    corners = _corner_table(v, fg, src, keys, irregular)
    interior, on_boundary, theta = _classify_fans(corners, src, nv, irregular)
    ref = _reference_from_edges(v, src, dst)
    root = _fan_roots(corners, keys, ref, interior, irregular)
    cum_e = _cumulative_edge_angles(corners, root, irregular)
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
