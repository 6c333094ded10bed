"""Spectral point descriptors: heat kernel signature (HKS) and wave kernel signature (WKS).

Both are functions of an eigenbasis ``(evals, evecs)`` of ``L phi = lambda M phi`` with
M-orthonormal ``evecs`` (see :func:`geodesic_nets.geometry.spectral.eigen_basis`); they depend on
the eigenvectors only through ``phi_k(x)^2``, hence not on their signs, and (when the truncation
does not split a degenerate eigenspace) not on the basis chosen inside an eigenspace. They are
therefore invariant to rigid motions and equivariant to vertex permutations.

* HKS (Sun, Ovsjanikov, Guibas 2009): ``h(x, t) = sum_k exp(-lambda_k t) phi_k(x)^2``.
* WKS (Aubry, Schlickewei, Cremers 2011): ``w(x, e) = sum_k f_e(lambda_k) phi_k(x)^2 /
  sum_k f_e(lambda_k)`` with log-normal band-pass filters
  ``f_e(lambda) = exp(-(e - log lambda)^2 / (2 sigma^2))``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import ArgumentError, GeometryError

__all__ = ["hks", "hks_times", "wks", "wks_energies"]

HksNormalization = Literal["none", "heat_trace"]

# Eigenvalues below this fraction of the largest are treated as zero (constant functions).
_ZERO_REL = 1e-8


def _check_basis(evals: np.ndarray, evecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lam = np.asarray(evals, dtype=np.float64).ravel()
    phi = np.asarray(evecs, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[1] != lam.shape[0]:
        raise GeometryError(f"expected evecs of shape (V, {lam.shape[0]}) for {lam.shape[0]} eigenvalues, got {phi.shape}")
    if lam.size == 0:
        raise GeometryError("empty eigenbasis (K = 0)")
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(phi))):
        raise GeometryError("eigenvalues and eigenvectors must be finite")
    return lam, phi


def _nonzero(lam: np.ndarray) -> np.ndarray:
    """Mask of the eigenvalues that are not (numerically) zero."""
    top = float(np.abs(lam).max())
    return lam > _ZERO_REL * top if top > 0 else np.zeros(lam.shape, dtype=bool)


def hks_times(evals: np.ndarray, n: int = 16) -> np.ndarray:
    """Log-spaced diffusion times ``4 ln 10 / lambda_max ... 4 ln 10 / lambda_1`` (Sun et al.).

    Parameters
    ----------
    evals : ndarray, shape (K,)
        Eigenvalues; ``lambda_1`` is the smallest non-zero one, ``lambda_max`` the largest.
    n : int
        Number of times.

    Returns
    -------
    times : ndarray, shape (n,), float64, ascending
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"n must be a positive integer, got {n!r}")
    lam = np.asarray(evals, dtype=np.float64).ravel()
    nz = lam[_nonzero(lam)] if lam.size else lam
    if nz.size == 0:
        raise GeometryError("hks_times needs at least one non-zero eigenvalue")
    t_min = 4.0 * np.log(10.0) / nz.max()
    t_max = 4.0 * np.log(10.0) / nz.min()
    return np.geomspace(t_min, t_max, n) if n > 1 else np.array([np.sqrt(t_min * t_max)])


def hks(
    evals: np.ndarray,
    evecs: np.ndarray,
    times: np.ndarray | None = None,
    *,
    normalization: HksNormalization = "none",
) -> np.ndarray:
    """Heat kernel signature.

    Parameters
    ----------
    evals : ndarray, shape (K,), float64
    evecs : ndarray, shape (V, K), float64
        M-orthonormal eigenvectors.
    times : ndarray, shape (T,), optional
        Diffusion times; default :func:`hks_times` ``(evals, 16)``.
    normalization : {"none", "heat_trace"}
        ``"heat_trace"`` divides each column by ``sum_k exp(-lambda_k t)`` (Sun et al.'s scaled
        HKS, which removes the dependence on the total area at small times).

    Returns
    -------
    ndarray, shape (V, T), float64
        ``h[x, j] = sum_k exp(-lambda_k t_j) phi_k(x)^2``.
    """
    if normalization not in ("none", "heat_trace"):
        raise ArgumentError(f"normalization must be 'none' or 'heat_trace', got {normalization!r}")
    lam, phi = _check_basis(evals, evecs)
    t = hks_times(lam) if times is None else np.asarray(times, dtype=np.float64).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)) or (t < 0).any():
        raise ArgumentError("times must be a non-empty array of finite non-negative numbers")
    filt = np.exp(-np.outer(np.clip(lam, 0.0, None), t))  # (K, T)
    out = (phi * phi) @ filt  # (V, T)
    if normalization == "heat_trace":
        out /= filt.sum(axis=0)[None, :]
    return out


def wks_energies(evals: np.ndarray, n_energies: int = 16, *, sigma_factor: float = 7.0) -> tuple[np.ndarray, float]:
    """Log-energies and filter width of the WKS.

    The ``n_energies`` centres are evenly spaced in ``[log lambda_1, log lambda_max]`` (over the
    non-zero eigenvalues) and ``sigma = sigma_factor * spacing``.

    Returns
    -------
    energies : ndarray, shape (n_energies,), float64
    sigma : float
    """
    if isinstance(n_energies, bool) or not isinstance(n_energies, (int, np.integer)) or n_energies < 1:
        raise ArgumentError(f"n_energies must be a positive integer, got {n_energies!r}")
    if not (np.isfinite(sigma_factor) and sigma_factor > 0):
        raise ArgumentError(f"sigma_factor must be a positive number, got {sigma_factor!r}")
    lam = np.asarray(evals, dtype=np.float64).ravel()
    nz = lam[_nonzero(lam)] if lam.size else lam
    if nz.size == 0:
        raise GeometryError("the WKS needs at least one non-zero eigenvalue")
    lo, hi = float(np.log(nz.min())), float(np.log(nz.max()))
    energies = np.linspace(lo, hi, n_energies)
    spacing = (hi - lo) / max(n_energies - 1, 1)
    if spacing <= 0:  # a single distinct non-zero eigenvalue
        spacing = 1.0
    return energies, float(sigma_factor * spacing)


def wks(evals: np.ndarray, evecs: np.ndarray, *, n_energies: int = 16, sigma_factor: float = 7.0) -> np.ndarray:
    """Wave kernel signature (Aubry et al. 2011), normalized per energy.

    Parameters
    ----------
    evals : ndarray, shape (K,), float64
    evecs : ndarray, shape (V, K), float64
        M-orthonormal eigenvectors.
    n_energies : int
        Number of log-energies (see :func:`wks_energies`).
    sigma_factor : float
        Filter width in units of the energy spacing.

    Returns
    -------
    ndarray, shape (V, n_energies), float64
        ``w[x, j] = sum_k f_j(lambda_k) phi_k(x)^2 / sum_k f_j(lambda_k)``; zero eigenvalues
        (constant functions) are left out.
    """
    lam, phi = _check_basis(evals, evecs)
    energies, sigma = wks_energies(lam, n_energies, sigma_factor=sigma_factor)
    nz = _nonzero(lam)
    log_lam = np.log(lam[nz])  # (K',)
    filt = np.exp(-((energies[None, :] - log_lam[:, None]) ** 2) / (2.0 * sigma * sigma))  # (K', n)
    norm = filt.sum(axis=0)  # (n,)
    return (phi[:, nz] ** 2) @ (filt / norm[None, :])
