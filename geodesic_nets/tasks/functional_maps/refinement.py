"""ZoomOut (Melzi et al. 2019): refine a functional map by spectral upsampling.

Conventions: see :mod:`geodesic_nets.tasks.functional_maps`.
"""

from __future__ import annotations

import torch

from ...errors import ArgumentError, GeodesicNetsError, GeometryError
from .pointmaps import _DEFAULT_BLOCK, PointmapMethod, fmap_from_pointmap, pointmap_from_fmap
from .validation import check_index_set, check_matrix

__all__ = ["zoomout"]


def zoomout(
    C_ab: torch.Tensor,
    evecs_a: torch.Tensor,
    evecs_b: torch.Tensor,
    *,
    k_final: int,
    step: int = 1,
    mass_b: torch.Tensor | None = None,
    method: PointmapMethod = "transpose",
    block_size: int = _DEFAULT_BLOCK,
    samples_a: torch.Tensor | None = None,
    samples_b: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ZoomOut (Melzi et al. 2019): refine a functional map by spectral upsampling.

    Starting from ``C_ab`` (k_b, k_a), alternate: point map from the current map
    (:func:`pointmap_from_fmap`), then the functional map of that point map with ``step`` more
    eigenfunctions on each side (:func:`fmap_from_pointmap`), until (k_final, k_final).

    With ``samples_a`` and ``samples_b`` (the fast variant of the ZoomOut paper, also pyFM's
    ``subsample``), the iterations only map the sampled vertices of ``b`` to the sampled
    vertices of ``a`` and fit each functional map by least squares on those rows
    (``pinv(Phi_b[S_b]) Phi_a[p2p]``); the final point map is computed for every vertex of
    ``b`` over every vertex of ``a``. Each iteration then costs ``|S_b| x |S_a|`` distances
    instead of ``V_b x V_a``, and every fit reuses one QR factorization of ``Phi_b[S_b]``.

    Parameters
    ----------
    C_ab : Tensor, shape (k_b, k_a), float
        Initial map ``a -> b``; ``k_a, k_b <= k_final``.
    evecs_a : Tensor, shape (V_a, K_a), float
        At least ``k_final`` columns; only the first ``k`` are used at each step.
    evecs_b : Tensor, shape (V_b, K_b), float
        At least ``k_final`` columns.
    k_final : int, keyword-only
    step : int, keyword-only
        Eigenfunctions added per iteration.
    mass_b : Tensor, shape (V_b,), optional
        See :func:`fmap_from_pointmap` (not used with samples: the fit is least squares).
    method, block_size
        See :func:`pointmap_from_fmap`.
    samples_a : Tensor, shape (S_a,), int64, optional
    samples_b : Tensor, shape (S_b,), int64, optional
        Vertex subsets for the iterations (both or neither), e.g. farthest-point samples; each
        needs at least ``k_final`` well-spread vertices for the least-squares fits.

    Returns
    -------
    C_ab : Tensor, shape (k_final, k_final)
        The refined map (no gradient).
    p2p : Tensor, shape (V_b,), int64
        Its point map ``b -> a``.
    """
    _check_zoomout(C_ab, evecs_a, evecs_b, k_final=k_final, step=step)
    if (samples_a is None) != (samples_b is None):
        raise GeodesicNetsError("give both samples_a and samples_b, or neither")
    with torch.no_grad():
        phi_a, phi_b = evecs_a.detach(), evecs_b.detach()
        c = C_ab.detach()
        if samples_a is None:
            mb = None if mass_b is None else mass_b.detach()
            c = _upsample(c, phi_a, phi_b, k_final=k_final, step=step, mass_b=mb, method=method,
                          block_size=block_size)
        else:
            c = _upsample_on_samples(c, phi_a, phi_b, samples_a, samples_b, k_final=k_final, step=step,
                                     method=method, block_size=block_size)
        p2p = pointmap_from_fmap(c, phi_a[:, :k_final], phi_b[:, :k_final], method=method, block_size=block_size)
    return c, p2p


def _check_zoomout(C_ab, evecs_a, evecs_b, *, k_final, step) -> None:
    check_matrix("C_ab", C_ab)
    check_matrix("evecs_a", evecs_a)
    check_matrix("evecs_b", evecs_b)
    for name, v in (("k_final", k_final), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArgumentError(f"{name} must be a positive int, got {v!r}")
    kb, ka = C_ab.shape
    if max(ka, kb) > k_final:
        raise GeodesicNetsError(f"the initial map is {kb} x {ka}, larger than k_final = {k_final}")
    for name, ev in (("evecs_a", evecs_a), ("evecs_b", evecs_b)):
        if ev.shape[1] < k_final:
            raise GeodesicNetsError(f"{name} has {ev.shape[1]} columns, fewer than k_final = {k_final}")


def _upsample(c, phi_a, phi_b, *, k_final, step, mass_b, method, block_size) -> torch.Tensor:
    """The iterations over every vertex: ``c`` (k_b, k_a) -> (k_final, k_final)."""
    kb, ka = c.shape
    while c.shape != (k_final, k_final):
        p2p = pointmap_from_fmap(c, phi_a[:, :ka], phi_b[:, :kb], method=method, block_size=block_size)
        ka, kb = min(ka + step, k_final), min(kb + step, k_final)
        c = fmap_from_pointmap(p2p, phi_a[:, :ka], phi_b[:, :kb], mass_b)
    return c


def _upsample_on_samples(c, phi_a, phi_b, samples_a, samples_b, *, k_final, step, method, block_size) -> torch.Tensor:
    """The iterations over the sampled vertices only, least-squares fits on one QR factorization."""
    kb, ka = c.shape
    sub_a = phi_a[check_index_set("samples_a", samples_a, phi_a.shape[0], phi_a.device)]  # (S_a, K_a)
    sub_b = phi_b[check_index_set("samples_b", samples_b, phi_b.shape[0], phi_b.device)]  # (S_b, K_b)
    if sub_b.shape[0] < k_final:
        raise GeodesicNetsError(f"{sub_b.shape[0]} samples of b cannot fit {k_final} eigenfunctions")
    # one QR for every fit: the first kb columns of Phi_b[S_b] are Q[:, :kb] R[:kb, :kb]
    q, r = torch.linalg.qr(sub_b[:, :k_final])  # (S_b, k_final), (k_final, k_final)
    if not bool((r.diagonal().abs() > 1e-10 * r.diagonal().abs().max()).all()):
        raise GeometryError("the samples of b do not determine the eigenfunctions (rank-deficient fit)")
    while c.shape != (k_final, k_final):
        p2p = pointmap_from_fmap(c, sub_a[:, :ka], sub_b[:, :kb], method=method, block_size=block_size)
        ka, kb = min(ka + step, k_final), min(kb + step, k_final)
        rhs = q[:, :kb].transpose(0, 1) @ sub_a[p2p, :ka]  # (kb, ka)
        c = torch.linalg.solve_triangular(r[:kb, :kb], rhs, upper=True)
    return c
