"""Functional maps: from features, to and from point-to-point maps, ZoomOut refinement.

Convention
----------
A functional map ``C_ab`` of shape (K_b, K_a) carries functions on shape ``a`` to functions on
shape ``b`` in truncated eigenbases ``Phi_a`` (V_a, K_a), ``Phi_b`` (V_b, K_b), both orthonormal
for their lumped masses (``Phi^T M Phi = I``)::

    f_b ~ Phi_b C_ab Phi_a^T M_a f_a

It is the spectral form of a point-to-point map ``T: b -> a`` stored as ``p2p`` (V_b,) int64
(``p2p[v]`` is the vertex of ``a`` matched to vertex ``v`` of ``b``): the map pulls functions
back, ``f_b = f_a o T`` (``f_b = Pi f_a`` with ``Pi[v, p2p[v]] = 1``), so
``C_ab = Phi_b^+ Pi Phi_a`` (:func:`fmap_from_pointmap`). Row ``i`` of ``C_ab`` belongs to the
``i``-th eigenfunction of ``b``, column ``j`` to the ``j``-th of ``a``; a map between isometric
shapes is (nearly) orthogonal and commutes with the Laplacians, ``C_ab Lambda_a = Lambda_b C_ab``.

* :func:`fmap_from_features` is the differentiable regularized least-squares layer of deep
  functional maps (GeomFmaps, Donati et al. 2020) with the Laplacian-commutativity or resolvent
  mask (Ren et al. 2019) as penalty.
* :func:`pointmap_from_fmap` / :func:`fmap_from_pointmap` convert between the two forms;
  :func:`zoomout` is the spectral upsampling of Melzi et al. 2019.
* :func:`nearest_neighbor_map` matches vertices in a feature space.

Nearest-neighbour searches are blocked: no distance matrix larger than
``block_size x block_size`` is ever formed.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from ..errors import GeodesicNetsError, GeometryError

__all__ = [
    "spectral_coefficients",
    "commutativity_mask",
    "fmap_from_features",
    "pointmap_from_fmap",
    "fmap_from_pointmap",
    "zoomout",
    "nearest_neighbor_map",
    "least_squares",
]

PointmapMethod = Literal["transpose", "direct"]

_DEFAULT_BLOCK = 2048


# ---------------------------------------------------------------------------- validation
def _matrix(name: str, t, *, rows: int | None = None, cols: int | None = None) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise GeodesicNetsError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise GeodesicNetsError(f"{name} must be 2-D, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise GeodesicNetsError(f"{name} must be a floating tensor, got dtype {t.dtype}")
    if rows is not None and t.shape[0] != rows:
        raise GeodesicNetsError(f"{name} has {t.shape[0]} rows, expected {rows} (shape {tuple(t.shape)})")
    if cols is not None and t.shape[1] != cols:
        raise GeodesicNetsError(f"{name} has {t.shape[1]} columns, expected {cols} (shape {tuple(t.shape)})")
    return t


def _vector(name: str, t, length: int) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise GeodesicNetsError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 1 or t.shape[0] != length:
        raise GeodesicNetsError(f"{name} must have shape ({length},), got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise GeodesicNetsError(f"{name} must be a floating tensor, got dtype {t.dtype}")
    return t


def _same_kind(**tensors: torch.Tensor) -> None:
    """All tensors on one device with one floating dtype, or an error naming the odd one."""
    items = [(k, v) for k, v in tensors.items() if v is not None]
    name0, t0 = items[0]
    for name, t in items[1:]:
        if t.device != t0.device:
            raise GeodesicNetsError(f"{name} is on {t.device} but {name0} is on {t0.device}")
        if t.dtype != t0.dtype:
            raise GeodesicNetsError(f"{name} has dtype {t.dtype} but {name0} has {t0.dtype}")


def _block_size(block_size) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    return block_size


def _pointmap(p2p, num_verts_b: int, num_verts_a: int, device: torch.device) -> torch.Tensor:
    if not isinstance(p2p, torch.Tensor):
        raise GeodesicNetsError(f"p2p must be a torch.Tensor, got {type(p2p).__name__}")
    if p2p.dim() != 1 or p2p.shape[0] != num_verts_b:
        raise GeodesicNetsError(f"p2p must have shape ({num_verts_b},) (one entry per vertex of b), got {tuple(p2p.shape)}")
    if p2p.dtype not in (torch.int64, torch.int32):
        raise GeodesicNetsError(f"p2p must be an integer index tensor, got dtype {p2p.dtype}")
    if p2p.numel():
        lo, hi = int(p2p.min()), int(p2p.max())
        if lo < 0 or hi >= num_verts_a:
            bad = lo if lo < 0 else hi
            raise GeodesicNetsError(f"p2p holds vertex {bad}, out of range for shape a with {num_verts_a} vertices")
    return p2p.to(device=device, dtype=torch.int64)


# ---------------------------------------------------------------------------- building blocks
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
    _matrix("a", a)
    _matrix("b", b, rows=a.shape[0])
    _same_kind(a=a, b=b)
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
    _matrix("evecs", evecs)
    nv = evecs.shape[0]
    _matrix("feat", feat, rows=nv)
    _vector("mass", mass, nv)
    _same_kind(evecs=evecs, feat=feat, mass=mass)
    return evecs.transpose(0, 1) @ (mass.unsqueeze(1) * feat)  # (K, C)


def _resolvent_parts(lam: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``1 / (lam^gamma - i)``."""
    p = lam.pow(gamma)
    den = p * p + 1.0
    return p / den, 1.0 / den


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
    _same_kind(evals_a=evals_a, evals_b=evals_b)
    if resolvent_gamma is not None:
        if isinstance(resolvent_gamma, bool) or not isinstance(resolvent_gamma, (int, float)) or not resolvent_gamma > 0:
            raise ValueError(f"resolvent_gamma must be a positive number or None, got {resolvent_gamma!r}")
    la = evals_a.clamp_min(0.0)
    lb = evals_b.clamp_min(0.0)
    top = torch.maximum(la.max(), lb.max()) if la.numel() and lb.numel() else la.new_tensor(0.0)
    scale = torch.where(top > 0, top, torch.ones_like(top))
    la, lb = la / scale, lb / scale
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
        raise ValueError(f"lambda_ must be a non-negative number, got {lambda_!r}")
    _matrix("evecs_a", evecs_a)
    _matrix("evecs_b", evecs_b)
    (va, ka), (vb, kb) = evecs_a.shape, evecs_b.shape
    _matrix("feat_a", feat_a, rows=va)
    _matrix("feat_b", feat_b, rows=vb, cols=feat_a.shape[1])
    _vector("evals_a", evals_a, ka)
    _vector("evals_b", evals_b, kb)
    _same_kind(feat_a=feat_a, feat_b=feat_b, evecs_a=evecs_a, evecs_b=evecs_b, evals_a=evals_a, evals_b=evals_b)
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


# ---------------------------------------------------------------------------- nearest neighbours
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
    _matrix("feat_a", feat_a)
    _matrix("feat_b", feat_b, cols=feat_a.shape[1])
    _same_kind(feat_a=feat_a, feat_b=feat_b)
    bs = _block_size(block_size)
    with torch.no_grad():
        return _nearest(feat_b.detach(), feat_a.detach(), bs)


# ---------------------------------------------------------------------------- fmap <-> pointmap
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
    _matrix("C_ab", C_ab)
    kb, ka = C_ab.shape
    _matrix("evecs_a", evecs_a, cols=ka)
    _matrix("evecs_b", evecs_b, cols=kb)
    _same_kind(C_ab=C_ab, evecs_a=evecs_a, evecs_b=evecs_b)
    if method not in get_args(PointmapMethod):
        raise ValueError(f"method must be one of {get_args(PointmapMethod)}, got {method!r}")
    bs = _block_size(block_size)
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
    _matrix("evecs_a", evecs_a)
    _matrix("evecs_b", evecs_b)
    _same_kind(evecs_a=evecs_a, evecs_b=evecs_b, mass_b=mass_b)
    idx = _pointmap(p2p, evecs_b.shape[0], evecs_a.shape[0], evecs_a.device)
    pulled = evecs_a[idx]  # (V_b, K_a)
    if mass_b is not None:
        _vector("mass_b", mass_b, evecs_b.shape[0])
        return evecs_b.transpose(0, 1) @ (mass_b.unsqueeze(1) * pulled)
    return least_squares(evecs_b, pulled)


def _index_set(name: str, idx, num_verts: int, device) -> torch.Tensor:
    if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.dtype not in (torch.int64, torch.int32):
        raise GeodesicNetsError(f"{name} must be a 1-D integer tensor of vertex indices, got {getattr(idx, 'shape', idx)!r}")
    if idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= num_verts:
        raise GeodesicNetsError(f"{name} must hold vertex indices in 0..{num_verts - 1} (and at least one)")
    return idx.to(device=device, dtype=torch.int64)


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
    _matrix("C_ab", C_ab)
    _matrix("evecs_a", evecs_a)
    _matrix("evecs_b", evecs_b)
    for name, v in (("k_final", k_final), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    kb, ka = C_ab.shape
    if max(ka, kb) > k_final:
        raise GeodesicNetsError(f"the initial map is {kb} x {ka}, larger than k_final = {k_final}")
    for name, ev in (("evecs_a", evecs_a), ("evecs_b", evecs_b)):
        if ev.shape[1] < k_final:
            raise GeodesicNetsError(f"{name} has {ev.shape[1]} columns, fewer than k_final = {k_final}")
    if (samples_a is None) != (samples_b is None):
        raise GeodesicNetsError("give both samples_a and samples_b, or neither")
    with torch.no_grad():
        phi_a, phi_b = evecs_a.detach(), evecs_b.detach()
        c = C_ab.detach()
        if samples_a is None:
            mb = None if mass_b is None else mass_b.detach()
            while c.shape != (k_final, k_final):
                p2p = pointmap_from_fmap(c, phi_a[:, :ka], phi_b[:, :kb], method=method, block_size=block_size)
                ka, kb = min(ka + step, k_final), min(kb + step, k_final)
                c = fmap_from_pointmap(p2p, phi_a[:, :ka], phi_b[:, :kb], mb)
        else:
            sub_a = phi_a[_index_set("samples_a", samples_a, phi_a.shape[0], phi_a.device)]  # (S_a, K_a)
            sub_b = phi_b[_index_set("samples_b", samples_b, phi_b.shape[0], phi_b.device)]  # (S_b, K_b)
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
        p2p = pointmap_from_fmap(c, phi_a[:, :k_final], phi_b[:, :k_final], method=method, block_size=block_size)
    return c, p2p
