"""Learned heat diffusion with one diffusion time per channel (DiffusionNet style).

Two ways to apply ``exp(-t Delta)`` to the channels of ``x``:

- ``"spectral"``: in each mesh's truncated eigenbasis, ``u = Phi exp(-Lambda t) Phi^T M x``. Two
  GEMMs per mesh; the basis is sliced per member of the batch (no dense V x V anything).
- ``"implicit"``: one backward-Euler step, ``(M + t L) u = M x``, solved for all channels at once by
  a Jacobi-preconditioned conjugate gradient whose only sparse operation is ``L @ U`` on a (V, C)
  block. For meshes too large for an eigenbasis. The backward solves the same system again
  (``M + t L`` is symmetric), so memory stays O(V C).

The learned times are kept positive: like DiffusionNet, the parameter is clamped in place to at
least ``min_time`` before every training forward (in eval mode a clamped copy is used, so that
evaluation leaves the model unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...batch import MeshBatch
from ..sparse import CsrOperator
from ...errors import ArgumentError

__all__ = [
    "SpectralBasis",
    "ImplicitSystem",
    "spectral_diffusion",
    "implicit_diffusion",
    "LearnedDiffusion",
]

DiffusionMethod = Literal["spectral", "implicit"]


# ---------------------------------------------------------------------------- prepared operators
@dataclass(frozen=True, eq=False)
class SpectralBasis:
    """Per-mesh slices of a batch's eigenbasis, prepared once and shared by every layer.

    Attributes
    ----------
    num_verts : tuple of int, length B
    evecs : tuple of Tensor, shapes (V_b, K_b)
        Each member's own eigenvectors (its padding columns dropped).
    evecs_mass_t : tuple of Tensor, shapes (K_b, V_b)
        ``(diag(mass_b) evecs_b)^T``, the projection onto the basis (a transposed view of a
        contiguous (V_b, K_b) tensor: BLAS reads it as fast either way).
    evals : tuple of Tensor, shapes (K_b,)
    """

    num_verts: tuple[int, ...]
    evecs: tuple[torch.Tensor, ...]
    evecs_mass_t: tuple[torch.Tensor, ...]
    evals: tuple[torch.Tensor, ...]

    @classmethod
    def from_batch(cls, batch: MeshBatch) -> "SpectralBasis":
        """Slice ``batch.evecs`` / ``batch.evals`` per member (no copy of ``evecs``)."""
        sizes = tuple(int(n) for n in batch.num_verts.tolist())
        counts = batch.eig_mask.sum(1).tolist()
        if min(counts) == 0:
            raise ArgumentError("spectral diffusion needs an eigenbasis for every member (k_eig >= 1)")
        evecs, proj, evals = [], [], []
        for b, (rows, k) in enumerate(zip(torch.split(batch.evecs, list(sizes)), counts)):
            phi = rows[:, :k]  # (V_b, K_b)
            m = batch.mass[batch.mesh_first_vert[b] : batch.mesh_first_vert[b] + sizes[b]]  # (V_b,)
            evecs.append(phi)
            proj.append((phi * m[:, None]).t())  # (K_b, V_b)
            evals.append(batch.evals[b, :k].clamp(min=0.0))  # (K_b,)
        return cls(sizes, tuple(evecs), tuple(proj), tuple(evals))


@dataclass(frozen=True, eq=False)
class ImplicitSystem:
    """What the implicit diffusion needs: the stiffness matrix, the lumped mass, its diagonal.

    Attributes
    ----------
    laplacian : CsrOperator, shape (V, V)
        Positive semi-definite cotan (or point-cloud) Laplacian, block diagonal over the batch.
    mass : Tensor, shape (V,)
    laplacian_diag : Tensor, shape (V,)
    """

    laplacian: CsrOperator
    mass: torch.Tensor
    laplacian_diag: torch.Tensor

    @classmethod
    def from_batch(cls, batch: MeshBatch) -> "ImplicitSystem":
        lap = CsrOperator(batch.laplacian)
        coo = batch.laplacian.coalesce()
        idx, val = coo.indices(), coo.values()
        on_diag = idx[0] == idx[1]
        diag = torch.zeros(batch.total_verts, dtype=val.dtype, device=val.device)
        diag.index_add_(0, idx[0, on_diag], val[on_diag])
        return cls(lap, batch.mass, diag)


# ---------------------------------------------------------------------------- functional forms
def spectral_diffusion(x: torch.Tensor, basis: SpectralBasis, time: torch.Tensor) -> torch.Tensor:
    """Diffuse each channel for its own time in each mesh's eigenbasis.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    basis : SpectralBasis
    time : Tensor, shape (C,)
        Non-negative diffusion times.

    Returns
    -------
    Tensor, shape (V, C)
        ``Phi_b exp(-Lambda_b t) Phi_b^T M_b x_b`` for each member b.
    """
    if x.dim() != 2 or x.shape[0] != sum(basis.num_verts):
        raise ArgumentError(f"x must have shape (V={sum(basis.num_verts)}, C), got {tuple(x.shape)}")
    if time.shape != (x.shape[1],):
        raise ArgumentError(f"time must have shape (C={x.shape[1]},), got {tuple(time.shape)}")
    outs = []
    for xb, phi, proj, lam in zip(torch.split(x, list(basis.num_verts)), basis.evecs, basis.evecs_mass_t, basis.evals):
        coefs = proj @ xb  # (K_b, C)
        coefs = coefs * torch.exp(-lam[:, None] * time[None, :])  # (K_b, C)
        outs.append(phi @ coefs)  # (V_b, C)
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def _cg_solve(
    system: ImplicitSystem, time: torch.Tensor, rhs: torch.Tensor, tol: float, max_iter: int
) -> torch.Tensor:
    """Solve ``(M + t_c L) u_c = rhs_c`` for every column c at once (Jacobi-preconditioned CG)."""
    m = system.mass[:, None]  # (V, 1)
    t = time[None, :]  # (1, C)

    def apply(u: torch.Tensor) -> torch.Tensor:
        return m * u + system.laplacian.mm(u) * t  # (V, C)

    inv_diag = 1.0 / (m + system.laplacian_diag[:, None] * t)  # (V, C)
    u = rhs * inv_diag  # initial guess: one Jacobi step, (V, C)
    r = rhs - apply(u)
    z = r * inv_diag
    p = z.clone()
    rz = (r * z).sum(0)  # (C,)
    rhs_norm = rhs.norm(dim=0).clamp(min=torch.finfo(rhs.dtype).tiny)  # (C,)
    for _ in range(max_iter):
        if bool((r.norm(dim=0) <= tol * rhs_norm).all()):
            break
        ap = apply(p)
        pap = (p * ap).sum(0)
        alpha = torch.where(pap > 0, rz / torch.where(pap > 0, pap, 1.0), 0.0)  # (C,)
        u = u + alpha * p
        r = r - alpha * ap
        z = r * inv_diag
        rz_new = (r * z).sum(0)
        beta = torch.where(rz > 0, rz_new / torch.where(rz > 0, rz, 1.0), 0.0)
        p = z + beta * p
        rz = rz_new
    return u


class _ImplicitDiffusion(torch.autograd.Function):
    """u = (M + t L)^{-1} M x, differentiable in x and t (the system is symmetric)."""

    @staticmethod
    def forward(ctx, x, time, system, tol, max_iter):  # type: ignore[override]
        u = _cg_solve(system, time, system.mass[:, None] * x, tol, max_iter)
        ctx.system, ctx.tol, ctx.max_iter = system, tol, max_iter
        ctx.save_for_backward(u, time)
        return u

    @staticmethod
    def backward(ctx, grad_u):  # type: ignore[override]
        u, time = ctx.saved_tensors
        system = ctx.system
        w = _cg_solve(system, time, grad_u.contiguous(), ctx.tol, ctx.max_iter)  # A^{-1} g, (V, C)
        grad_x = system.mass[:, None] * w if ctx.needs_input_grad[0] else None
        grad_t = None
        if ctx.needs_input_grad[1]:
            grad_t = -(w * system.laplacian.mm(u)).sum(0)  # (C,)
        return grad_x, grad_t, None, None, None


def implicit_diffusion(
    x: torch.Tensor, system: ImplicitSystem, time: torch.Tensor, *, tol: float = 1e-6, max_iter: int = 1000
) -> torch.Tensor:
    """One implicit (backward Euler) heat step per channel: solve ``(M + t L) u = M x``.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    system : ImplicitSystem
    time : Tensor, shape (C,)
        Non-negative diffusion times.
    tol : float
        Relative residual at which the conjugate gradient stops (every channel).
    max_iter : int

    Returns
    -------
    Tensor, shape (V, C)
    """
    if x.dim() != 2 or x.shape[0] != system.mass.shape[0]:
        raise ArgumentError(f"x must have shape (V={system.mass.shape[0]}, C), got {tuple(x.shape)}")
    if time.shape != (x.shape[1],):
        raise ArgumentError(f"time must have shape (C={x.shape[1]},), got {tuple(time.shape)}")
    if not tol > 0 or max_iter < 1:
        raise ArgumentError(f"need tol > 0 and max_iter >= 1, got tol={tol}, max_iter={max_iter}")
    return _ImplicitDiffusion.apply(x.contiguous(), time, system, float(tol), int(max_iter))


# ---------------------------------------------------------------------------- module
class LearnedDiffusion(nn.Module):
    """Heat diffusion with a learned, positive time per channel.

    Parameters
    ----------
    channels : int
    method : {"spectral", "implicit"}
        Truncated eigenbasis, or a sparse implicit solve (no basis needed).
    init_time : float
        Initial diffusion time of every channel (DiffusionNet starts at 0, i.e. the identity).
    min_time : float
        The times are clamped to at least this value.
    tol, max_iter
        Conjugate-gradient settings of the implicit method.
    """

    def __init__(
        self,
        channels: int,
        *,
        method: DiffusionMethod = "spectral",
        init_time: float = 0.0,
        min_time: float = 1e-8,
        tol: float = 1e-6,
        max_iter: int = 1000,
    ) -> None:
        super().__init__()
        if method not in ("spectral", "implicit"):
            raise ArgumentError(f"method must be 'spectral' or 'implicit', got {method!r}")
        if channels < 1:
            raise ArgumentError(f"channels must be >= 1, got {channels}")
        if not min_time > 0:
            raise ArgumentError(f"min_time must be positive, got {min_time}")
        self.channels = channels
        self.method = method
        self.min_time = float(min_time)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.time = nn.Parameter(torch.full((channels,), float(init_time)))

    def extra_repr(self) -> str:
        return f"{self.channels}, method={self.method!r}"

    def clamped_time(self, dtype: torch.dtype) -> torch.Tensor:
        """The learned times, at least ``min_time``, shape (C,), as ``dtype``.

        In training mode the parameter itself is clamped in place first (the optimizer then steps
        from the clamped value, as in DiffusionNet); in eval mode the parameter is left as it is
        (evaluating never changes the model) and a clamped copy is used.

        Either way the result is a new tensor (differentiable into the parameter), never the
        parameter itself: a graph that saves it for its backward (the tiled block, the implicit
        solve) then survives the in-place clamp of a later training forward, e.g. two forwards
        before one backward.
        """
        if not self.training:
            return self.time.clamp(min=self.min_time).to(dtype)
        with torch.no_grad():
            self.time.clamp_(min=self.min_time)
        return self.time.to(dtype, copy=True)

    def forward(
        self,
        x: torch.Tensor,
        batch: MeshBatch,
        *,
        basis: SpectralBasis | None = None,
        system: ImplicitSystem | None = None,
    ) -> torch.Tensor:
        """Diffuse ``x``.

        Parameters
        ----------
        x : Tensor, shape (V, C)
        batch : MeshBatch
        basis, system : optional
            Prepared once per batch by a model and shared by its layers; built here when absent.

        Returns
        -------
        Tensor, shape (V, C)
        """
        if x.dim() != 2 or x.shape[1] != self.channels:
            raise ArgumentError(f"expected x of shape (V, {self.channels}), got {tuple(x.shape)}")
        time = self.clamped_time(x.dtype)
        if self.method == "spectral":
            return spectral_diffusion(x, basis if basis is not None else SpectralBasis.from_batch(batch), time)
        system = system if system is not None else ImplicitSystem.from_batch(batch)
        return implicit_diffusion(x, system, time, tol=self.tol, max_iter=self.max_iter)
