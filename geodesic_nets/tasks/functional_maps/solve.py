"""Functional maps from descriptors: the regularized least-squares layer of deep functional maps.

* :func:`least_squares`: a bitwise reproducible least-squares solve.
* :func:`spectral_coefficients`: ``Phi^T M F``.
* :func:`commutativity_mask`: the Laplacian-commutativity or resolvent penalty weights.
* :func:`fmap_from_features`: the differentiable solve of GeomFmaps (Donati et al. 2020) with
  that penalty (Ren et al. 2019).

Conventions: see :mod:`geodesic_nets.tasks.functional_maps`.
"""

from __future__ import annotations

import torch

from ...errors import ArgumentError, GeodesicNetsError, GeometryError
from .validation import check_matrix, check_same_kind, check_vector

__all__ = ["least_squares", "spectral_coefficients", "commutativity_mask", "fmap_from_features"]


def least_squares(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least-squares solution of ``a x = b``, bitwise reproducible on the CPU.

    ``torch.linalg.lstsq``'s default CPU driver, LAPACK ``gelsy`` (QR with column pivoting),
    reads its pivot array ``jpvt`` as an input (a non-zero entry pins that column in front), but
    torch allocates that array uninitialized (``at::empty``; pytorch/pytorch#71222, #187411): the
    pivoting, and so the last bits of the result, depend on whatever the allocator hands out,
    and change from call to call on identical inputs. Here the CPU uses ``gelsd`` (SVD based,
    NumPy's choice, no such input), other devices torch's default (``gels`` on CUDA, the only
    driver there).

    Parameters
    ----------
    a : Tensor, shape (M, N), float
    b : Tensor, shape (M, R), float
        Same device and dtype as ``a``.

    Returns
    -------
    x : Tensor, shape (N, R)
        Differentiable in ``a`` and ``b``.
    """
    check_matrix("a", a)
    check_matrix("b", b, rows=a.shape[0])
    check_same_kind(a=a, b=b)
    driver = "gelsd" if a.device.type == "cpu" else None
    return torch.linalg.lstsq(a, b, driver=driver).solution


def spectral_coefficients(feat: torch.Tensor, evecs: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """Coefficients of per-vertex functions in an M-orthonormal eigenbasis: ``Phi^T M F``.

    Parameters
    ----------
    feat : Tensor, shape (V, C), float
    evecs : Tensor, shape (V, K), float
    mass : Tensor, shape (V,), float
        Lumped (diagonal) masses.

    Returns
    -------
    coefs : Tensor, shape (K, C)
    """
    check_matrix("evecs", evecs)
    nv = evecs.shape[0]
    check_matrix("feat", feat, rows=nv)
    check_vector("mass", mass, nv)
    check_same_kind(evecs=evecs, feat=feat, mass=mass)
    return evecs.transpose(0, 1) @ (mass.unsqueeze(1) * feat)  # (K, C)


def _resolvent_parts(lam: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``1 / (lam^gamma - i)``."""
    p = lam.pow(gamma)
    den = p * p + 1.0
    return p / den, 1.0 / den


def normalized_spectra(evals_a: torch.Tensor, evals_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both spectra divided by their common maximum, negative round-off clipped to 0.

    This makes the commutativity penalty and loss independent of the shapes' scale. Shapes
    (K_a,), (K_b,) in and out; a zero (or empty) spectrum is left as it is.
    """
    la = evals_a.clamp_min(0.0)
    lb = evals_b.clamp_min(0.0)
    top = torch.maximum(la.max(), lb.max()) if la.numel() and lb.numel() else la.new_tensor(0.0)
    scale = torch.where(top > 0, top, torch.ones_like(top))
    return la / scale, lb / scale


def commutativity_mask(
    evals_a: torch.Tensor, evals_b: torch.Tensor, *, resolvent_gamma: float | None = 0.5
) -> torch.Tensor:
    """Penalty weights ``D`` of the Laplacian-commutativity term ``sum_ij D_ij C_ij^2``.

    Both spectra are divided by their common maximum (negative round-off is clipped to 0).

    * ``resolvent_gamma=None``: ``D_ij = (lambda^b_i - lambda^a_j)^2``, the entrywise form of
      ``||C Lambda_a - Lambda_b C||^2``.
    * ``resolvent_gamma=g``: the resolvent mask of Ren et al. 2019 (as in GeomFmaps),
      ``D_ij = |r(lambda^b_i) - r(lambda^a_j)|^2`` with ``r(x) = 1 / (x^g - i)``, i.e.
      ``(Re r_b - Re r_a)^2 + (Im r_b - Im r_a)^2``; it saturates at high frequencies.

    Parameters
    ----------
    evals_a : Tensor, shape (K_a,), float
    evals_b : Tensor, shape (K_b,), float
    resolvent_gamma : float or None, keyword-only

    Returns
    -------
    mask : Tensor, shape (K_b, K_a)
        Non-negative; zero where the two eigenvalues are equal.
    """
    if not isinstance(evals_a, torch.Tensor) or evals_a.dim() != 1 or not evals_a.is_floating_point():
        raise GeodesicNetsError(f"evals_a must be a 1-D floating tensor, got {getattr(evals_a, 'shape', evals_a)!r}")
    if not isinstance(evals_b, torch.Tensor) or evals_b.dim() != 1 or not evals_b.is_floating_point():
        raise GeodesicNetsError(f"evals_b must be a 1-D floating tensor, got {getattr(evals_b, 'shape', evals_b)!r}")
    check_same_kind(evals_a=evals_a, evals_b=evals_b)
    if resolvent_gamma is not None:
        if isinstance(resolvent_gamma, bool) or not isinstance(resolvent_gamma, (int, float)) or not resolvent_gamma > 0:
            raise ArgumentError(f"resolvent_gamma must be a positive number or None, got {resolvent_gamma!r}")
    la, lb = normalized_spectra(evals_a, evals_b)
    if resolvent_gamma is None:
        return (lb.unsqueeze(1) - la.unsqueeze(0)).square()
    re_a, im_a = _resolvent_parts(la, float(resolvent_gamma))
    re_b, im_b = _resolvent_parts(lb, float(resolvent_gamma))
    return (re_b.unsqueeze(1) - re_a.unsqueeze(0)).square() + (im_b.unsqueeze(1) - im_a.unsqueeze(0)).square()


# ---------------------------------------------------------------------------- features -> fmap
def fmap_from_features(
    feat_a: torch.Tensor,
    feat_b: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    mass_a: torch.Tensor,
    mass_b: torch.Tensor,
    evals_a: torch.Tensor,
    evals_b: torch.Tensor,
    *,
    lambda_: float = 1e-3,
    resolvent_gamma: float | None = 0.5,
) -> torch.Tensor:
    """Regularized least-squares functional map from corresponding descriptors (differentiable).

    With ``A = Phi_a^T M_a F_a`` (K_a, C) and ``B = Phi_b^T M_b F_b`` (K_b, C) (channel ``c`` of
    ``feat_a`` is meant to correspond to channel ``c`` of ``feat_b``), returns::

        C_ab = argmin_C ||C A - B||_F^2 + lambda_ * sum_ij D_ij C_ij^2

    with ``D`` from :func:`commutativity_mask`. The objective separates over the rows ``c_i`` of
    ``C``: each solves ``(A A^T + lambda_ diag(D_i)) c_i = A B_i^T``, a (K_a, K_a) system; the
    K_b systems are solved in one batched call, so the result is differentiable in every input.

    Parameters
    ----------
    feat_a : Tensor, shape (V_a, C), float
    feat_b : Tensor, shape (V_b, C), float
    evecs_a : Tensor, shape (V_a, K_a), float
        ``mass_a``-orthonormal eigenvectors of shape ``a``.
    evecs_b : Tensor, shape (V_b, K_b), float
    mass_a : Tensor, shape (V_a,), float
    mass_b : Tensor, shape (V_b,), float
    evals_a : Tensor, shape (K_a,), float
    evals_b : Tensor, shape (K_b,), float
    lambda_ : float, keyword-only
        Weight of the commutativity penalty (>= 0; 0 is plain least squares and needs
        ``A A^T`` invertible, i.e. at least K_a independent descriptors).
    resolvent_gamma : float or None, keyword-only
        Resolvent mask exponent (GeomFmaps uses 0.5); ``None``: the squared eigenvalue
        differences.

    Returns
    -------
    C_ab : Tensor, shape (K_b, K_a)
        Maps functions on ``a`` to functions on ``b`` (see the module docstring). All inputs on
        one device with one dtype.

    Raises
    ------
    GeodesicNetsError
        Inconsistent shapes, devices or dtypes.
    GeometryError
        A singular system (e.g. ``lambda_ = 0`` with too few descriptors).
    """
    if isinstance(lambda_, bool) or not isinstance(lambda_, (int, float)) or not lambda_ >= 0:
        raise ArgumentError(f"lambda_ must be a non-negative number, got {lambda_!r}")
    check_matrix("evecs_a", evecs_a)
    check_matrix("evecs_b", evecs_b)
    (va, ka), (vb, kb) = evecs_a.shape, evecs_b.shape
    check_matrix("feat_a", feat_a, rows=va)
    check_matrix("feat_b", feat_b, rows=vb, cols=feat_a.shape[1])
    check_vector("evals_a", evals_a, ka)
    check_vector("evals_b", evals_b, kb)
    check_same_kind(feat_a=feat_a, feat_b=feat_b, evecs_a=evecs_a, evecs_b=evecs_b, evals_a=evals_a, evals_b=evals_b)
    coef_a = spectral_coefficients(feat_a, evecs_a, mass_a)  # (K_a, C)
    coef_b = spectral_coefficients(feat_b, evecs_b, mass_b)  # (K_b, C)
    mask = commutativity_mask(evals_a, evals_b, resolvent_gamma=resolvent_gamma)  # (K_b, K_a)
    gram = coef_a @ coef_a.transpose(0, 1)  # (K_a, K_a)
    lhs = gram.unsqueeze(0) + float(lambda_) * torch.diag_embed(mask)  # (K_b, K_a, K_a)
    rhs = coef_b @ coef_a.transpose(0, 1)  # (K_b, K_a): row i is A B_i^T
    try:
        return torch.linalg.solve(lhs, rhs.unsqueeze(-1)).squeeze(-1)  # (K_b, K_a)
    except RuntimeError as exc:  # torch.linalg.LinAlgError is a RuntimeError
        raise GeometryError(
            f"the functional-map system is singular ({feat_a.shape[1]} descriptors for K_a = {ka},"
            f" lambda_ = {lambda_}): {exc}"
        ) from exc

