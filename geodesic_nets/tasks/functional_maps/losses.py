"""Losses of deep functional maps, supervised and unsupervised.

Conventions as in :mod:`geodesic_nets.tasks.functional_maps`: ``C_ab`` (K_b, K_a) carries functions on
``a`` to functions on ``b``; a point map ``b -> a`` is a (V_b, V_a) matrix whose row ``v`` puts
weight on the vertices of ``a`` matched to vertex ``v`` of ``b``.

* :func:`supervised_fmap_loss`: ``||C_ab - C_ab^true||_F^2`` (GeomFmaps, Donati et al. 2020).
* :func:`bijectivity_loss`, :func:`orthogonality_loss`, :func:`laplacian_commutativity_loss`:
  the structural penalties of SURFMNet (Roufosse et al. 2019), which need no ground truth.
* :func:`soft_pointmap` and :func:`coupling_loss`: the consistency between the functional map
  and the soft point map given by feature similarity (a row-wise softmax of cosine
  similarities with a temperature), as in "Unsupervised Learning of Robust Spectral Shape
  Matching" (ULRSSM, Cao et al. 2023): ``||C_ab - Phi_b^T M_b P_ba Phi_a||_F^2``.

Every loss is a sum of squares over the matrix entries (no mean over entries), so that it is
zero exactly at the maps it rewards and its scale does not depend on the batch.
"""

from __future__ import annotations

import torch

from ...errors import ArgumentError, GeodesicNetsError
from .solve import normalized_spectra
from .validation import check_matrix

__all__ = [
    "supervised_fmap_loss",
    "bijectivity_loss",
    "orthogonality_loss",
    "laplacian_commutativity_loss",
    "soft_pointmap",
    "coupling_loss",
]


def _frobenius2(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum()


def supervised_fmap_loss(C_ab: torch.Tensor, C_true: torch.Tensor) -> torch.Tensor:
    """``||C_ab - C_true||_F^2``.

    Parameters
    ----------
    C_ab, C_true : Tensor, shape (K_b, K_a)

    Returns
    -------
    Tensor, shape ()
    """
    check_matrix("C_ab", C_ab)
    if C_true.shape != C_ab.shape:
        raise GeodesicNetsError(f"C_true has shape {tuple(C_true.shape)}, C_ab {tuple(C_ab.shape)}")
    return _frobenius2(C_ab - C_true)


def bijectivity_loss(C_ab: torch.Tensor, C_ba: torch.Tensor) -> torch.Tensor:
    """``||C_ba C_ab - I||^2 + ||C_ab C_ba - I||^2``: the two maps invert each other.

    Parameters
    ----------
    C_ab : Tensor, shape (K_b, K_a)
    C_ba : Tensor, shape (K_a, K_b)

    Returns
    -------
    Tensor, shape ()
    """
    check_matrix("C_ab", C_ab)
    check_matrix("C_ba", C_ba)
    kb, ka = C_ab.shape
    if C_ba.shape != (ka, kb):
        raise GeodesicNetsError(f"C_ba must have shape ({ka}, {kb}) for C_ab of shape ({kb}, {ka}), got {tuple(C_ba.shape)}")
    eye_a = torch.eye(ka, dtype=C_ab.dtype, device=C_ab.device)
    eye_b = torch.eye(kb, dtype=C_ab.dtype, device=C_ab.device)
    return _frobenius2(C_ba @ C_ab - eye_a) + _frobenius2(C_ab @ C_ba - eye_b)


def orthogonality_loss(C_ab: torch.Tensor) -> torch.Tensor:
    """``||C_ab^T C_ab - I||^2``: an area-preserving map has an orthogonal functional map.

    Parameters
    ----------
    C_ab : Tensor, shape (K_b, K_a)

    Returns
    -------
    Tensor, shape ()
    """
    check_matrix("C_ab", C_ab)
    eye = torch.eye(C_ab.shape[1], dtype=C_ab.dtype, device=C_ab.device)
    return _frobenius2(C_ab.transpose(0, 1) @ C_ab - eye)


def laplacian_commutativity_loss(C_ab: torch.Tensor, evals_a: torch.Tensor, evals_b: torch.Tensor) -> torch.Tensor:
    """``||C_ab Lambda_a - Lambda_b C_ab||^2`` with both spectra divided by their common maximum.

    An isometry commutes with the Laplacians. The division makes the loss independent of the
    shapes' scale (and keeps it of the order of the other penalties).

    Parameters
    ----------
    C_ab : Tensor, shape (K_b, K_a)
    evals_a : Tensor, shape (K_a,)
    evals_b : Tensor, shape (K_b,)

    Returns
    -------
    Tensor, shape ()
    """
    check_matrix("C_ab", C_ab)
    kb, ka = C_ab.shape
    if evals_a.shape != (ka,) or evals_b.shape != (kb,):
        raise GeodesicNetsError(
            f"evals_a and evals_b must have shapes ({ka},) and ({kb},), got {tuple(evals_a.shape)} and {tuple(evals_b.shape)}")
    la, lb = normalized_spectra(evals_a, evals_b)
    return _frobenius2(C_ab * la.unsqueeze(0) - lb.unsqueeze(1) * C_ab)


def check_temperature(temperature) -> float:
    """``temperature`` as a float, or a ValueError unless it is a positive number."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ArgumentError(f"temperature must be a positive number, got {temperature!r}")
    return float(temperature)


def soft_pointmap(feat_b: torch.Tensor, feat_a: torch.Tensor, *, temperature: float = 0.07) -> torch.Tensor:
    """Soft point map ``b -> a`` from feature similarity.

    ``P[v, u] = softmax_u(<f_b[v], f_a[u]> / temperature)`` with unit-length feature rows
    (cosine similarity), so every row is a probability distribution over the vertices of ``a``.
    As ``temperature -> 0`` it becomes the nearest-neighbour map in feature space.

    Parameters
    ----------
    feat_b : Tensor, shape (V_b, C)
    feat_a : Tensor, shape (V_a, C)
    temperature : float, keyword-only
        Positive.

    Returns
    -------
    P_ba : Tensor, shape (V_b, V_a)
        Rows sum to 1; differentiable in both feature sets. A dense matrix: V_b x V_a floats.
    """
    temperature = check_temperature(temperature)
    if feat_a.dim() != 2 or feat_b.dim() != 2 or feat_a.shape[1] != feat_b.shape[1]:
        raise GeodesicNetsError(
            f"features must be (V, C) with one C, got {tuple(feat_b.shape)} and {tuple(feat_a.shape)}")
    fa = torch.nn.functional.normalize(feat_a, dim=1)
    fb = torch.nn.functional.normalize(feat_b, dim=1)
    return torch.softmax(fb @ fa.transpose(0, 1) / float(temperature), dim=1)  # (V_b, V_a)


def coupling_loss(
    C_ab: torch.Tensor, P_ba: torch.Tensor, evecs_a: torch.Tensor, evecs_b: torch.Tensor, mass_b: torch.Tensor
) -> torch.Tensor:
    """``||C_ab - Phi_b^T M_b P_ba Phi_a||^2``: the functional map agrees with the point map.

    ``Phi_b^T M_b P_ba Phi_a`` is the functional map of the (soft) point map ``b -> a``, as
    :func:`~geodesic_nets.tasks.functional_maps.fmap_from_pointmap` computes it for a hard one.

    Parameters
    ----------
    C_ab : Tensor, shape (K_b, K_a)
    P_ba : Tensor, shape (V_b, V_a)
    evecs_a : Tensor, shape (V_a, K_a)
    evecs_b : Tensor, shape (V_b, K_b)
        ``mass_b``-orthonormal.
    mass_b : Tensor, shape (V_b,)

    Returns
    -------
    Tensor, shape ()
    """
    check_matrix("C_ab", C_ab)
    kb, ka = C_ab.shape
    vb, va = P_ba.shape
    if evecs_a.shape != (va, ka) or evecs_b.shape != (vb, kb) or mass_b.shape != (vb,):
        raise GeodesicNetsError(
            f"inconsistent shapes: C_ab {tuple(C_ab.shape)}, P_ba {tuple(P_ba.shape)}, evecs_a {tuple(evecs_a.shape)},"
            f" evecs_b {tuple(evecs_b.shape)}, mass_b {tuple(mass_b.shape)}")
    C_est = evecs_b.transpose(0, 1) @ (mass_b.unsqueeze(1) * (P_ba @ evecs_a))  # (K_b, K_a)
    return _frobenius2(C_ab - C_est)
