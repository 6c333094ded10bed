"""Point-to-point maps: nearest neighbours in a feature space, and the two conversions between
a point map ``b -> a`` and a functional map ``a -> b``.

Nearest-neighbour searches are blocked: no distance matrix larger than
``block_size x block_size`` is ever formed. Conventions: see
:mod:`geodesic_nets.tasks.functional_maps`.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from ...errors import ArgumentError, GeometryError
from .solve import least_squares
from .validation import check_block_size, check_matrix, check_pointmap, check_same_kind, check_vector

__all__ = ["nearest_neighbor_map", "pointmap_from_fmap", "fmap_from_pointmap", "PointmapMethod"]

PointmapMethod = Literal["transpose", "direct"]

_DEFAULT_BLOCK = 2048


def _nearest(query: torch.Tensor, ref: torch.Tensor, block_size: int) -> torch.Tensor:
    """Index of the nearest row of ``ref`` (R, D) for each row of ``query`` (Q, D), blocked.

    Ties go to the smallest index, as in ``torch.argmin``.
    """
    nq, nr = query.shape[0], ref.shape[0]
    out = torch.empty(nq, dtype=torch.int64, device=query.device)
    if nq == 0:
        return out
    if nr == 0:
        raise GeometryError("cannot search nearest neighbours among 0 reference points")
    for q0 in range(0, nq, block_size):
        q = query[q0 : q0 + block_size]
        best_d = None
        best_i = None
        for r0 in range(0, nr, block_size):
            d = torch.cdist(q, ref[r0 : r0 + block_size])  # (bq, br)
            val, idx = d.min(dim=1)
            idx = idx + r0
            if best_d is None:
                best_d, best_i = val, idx
            else:
                better = val < best_d
                best_d = torch.where(better, val, best_d)
                best_i = torch.where(better, idx, best_i)
        out[q0 : q0 + q.shape[0]] = best_i
    return out


def nearest_neighbor_map(feat_a: torch.Tensor, feat_b: torch.Tensor, *, block_size: int = _DEFAULT_BLOCK) -> torch.Tensor:
    """Point-to-point map ``b -> a`` by nearest neighbours in a feature space.

    Parameters
    ----------
    feat_a : Tensor, shape (V_a, C), float
    feat_b : Tensor, shape (V_b, C), float
    block_size : int, keyword-only
        Distances are computed in blocks of at most ``block_size x block_size``.

    Returns
    -------
    p2p : Tensor, shape (V_b,), int64
        ``p2p[v]``: the vertex of ``a`` whose feature is closest (Euclidean) to ``feat_b[v]``.
    """
    check_matrix("feat_a", feat_a)
    check_matrix("feat_b", feat_b, cols=feat_a.shape[1])
    check_same_kind(feat_a=feat_a, feat_b=feat_b)
    bs = check_block_size(block_size)
    with torch.no_grad():
        return _nearest(feat_b.detach(), feat_a.detach(), bs)


def pointmap_from_fmap(
    C_ab: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    *,
    method: PointmapMethod = "transpose",
    block_size: int = _DEFAULT_BLOCK,
) -> torch.Tensor:
    """Point-to-point map ``b -> a`` encoded by a functional map ``a -> b``.

    Parameters
    ----------
    C_ab : Tensor, shape (K_b, K_a), float
    evecs_a : Tensor, shape (V_a, K_a), float
    evecs_b : Tensor, shape (V_b, K_b), float
    method : {"transpose", "direct"}, keyword-only
        ``"transpose"`` (ZoomOut's choice): each row of ``Phi_b`` (K_b) is matched to the
        nearest row of ``Phi_a C_ab^T`` (the images of the delta functions of ``a``).
        ``"direct"``: each row of ``Phi_b C_ab`` (K_a) to the nearest row of ``Phi_a``, the
        row-wise minimizer of ``||Pi Phi_a - Phi_b C_ab||``. Both agree on an orthogonal
        ``C_ab`` (isometries).
    block_size : int, keyword-only
        Distances are computed in blocks of at most ``block_size x block_size``.

    Returns
    -------
    p2p : Tensor, shape (V_b,), int64
        ``p2p[v]`` is the vertex of ``a`` matched to vertex ``v`` of ``b``; not differentiable.
    """
    check_matrix("C_ab", C_ab)
    kb, ka = C_ab.shape
    check_matrix("evecs_a", evecs_a, cols=ka)
    check_matrix("evecs_b", evecs_b, cols=kb)
    check_same_kind(C_ab=C_ab, evecs_a=evecs_a, evecs_b=evecs_b)
    if method not in get_args(PointmapMethod):
        raise ArgumentError(f"method must be one of {get_args(PointmapMethod)}, got {method!r}")
    bs = check_block_size(block_size)
    with torch.no_grad():
        c = C_ab.detach()
        if method == "transpose":
            return _nearest(evecs_b.detach(), evecs_a.detach() @ c.transpose(0, 1), bs)
        return _nearest(evecs_b.detach() @ c, evecs_a.detach(), bs)


def fmap_from_pointmap(
    p2p: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Functional map ``a -> b`` of a point-to-point map ``b -> a``.

    Parameters
    ----------
    p2p : Tensor, shape (V_b,), int64
        ``p2p[v]`` is the vertex of ``a`` matched to vertex ``v`` of ``b``.
    evecs_a : Tensor, shape (V_a, K_a), float
    evecs_b : Tensor, shape (V_b, K_b), float
    mass_b : Tensor, shape (V_b,), float, optional
        With it, ``C_ab = Phi_b^T M_b Phi_a[p2p]`` (the ``M_b`` inner product, exact inverse of
        an M-orthonormal basis); without it, the least-squares solution
        ``C_ab = pinv(Phi_b) Phi_a[p2p]`` (pyFM / ZoomOut's default).

    Returns
    -------
    C_ab : Tensor, shape (K_b, K_a)
        Differentiable in the eigenvectors.
    """
    check_matrix("evecs_a", evecs_a)
    check_matrix("evecs_b", evecs_b)
    check_same_kind(evecs_a=evecs_a, evecs_b=evecs_b, mass_b=mass_b)
    idx = check_pointmap(p2p, evecs_b.shape[0], evecs_a.shape[0], evecs_a.device)
    pulled = evecs_a[idx]  # (V_b, K_a)
    if mass_b is not None:
        check_vector("mass_b", mass_b, evecs_b.shape[0])
        return evecs_b.transpose(0, 1) @ (mass_b.unsqueeze(1) * pulled)
    return least_squares(evecs_b, pulled)

