"""MoNet convolution (Monti et al. 2017, "Geometric deep learning on graphs and manifolds using
mixture model CNNs").

Construction
------------
Each patch entry ``q`` of centre ``v`` gets pseudo-coordinates ``u(v, q)``; ``J`` learned Gaussian
kernels with means ``mu_j`` and diagonal covariances ``diag(sigma_j^2)`` weigh them,

    w_j(u) = exp(-1/2 sum_d (u_d - mu_jd)^2 / sigma_jd^2),

and the layer is

    out(v) = sum_j Theta_j^T  sum_q m_q w_j(u(v, q)) f(q) / sum_q m_q  +  W_root^T f(v) + b,

i.e. the paper's ``sum_j g_j D_j(x) f`` with one ``C_in x C_out`` matrix per kernel (as PyG's
``GMMConv``), the neighbourhood sum made an area-weighted mean over the patch, plus a root term.

Pseudo-coordinates (``coords=``)
--------------------------------
``"polar"`` (the paper's choice on meshes): ``u = (rho, theta)``, ``rho`` over the patch radius
and the angular difference wrapped to ``(-pi, pi]`` (periodic distance). ``theta`` is measured in
the centre's gauge, so the output **depends on the gauge**: no invariance is claimed. At the
centre itself (``rho = 0``) the angular factor is dropped.
``"rho"``: ``u = rho`` only: isotropic kernels, exactly gauge invariant.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ...batch import MeshBatch
from ...batch import wrap_angle
from .patch_operator import PatchGather, patches_for
from ...errors import ArgumentError

__all__ = ["GaussianKernels", "MoNetConv"]

_CHUNK = 2048  # vertices per block of the fused kernel evaluation

Coords = Literal["polar", "rho"]


class GaussianKernels(torch.autograd.Function):
    """Fused Gaussian mixture weights ``q * exp(-1/2 (z_rho^2 + a z_theta^2))``, shape (V, K, J).

    ``z_rho = (rho - mu_rho) / sigma_rho`` and ``z_theta = wrap(theta - mu_theta) / sigma_theta``
    (wrapped to ``(-pi, pi]``), ``sigma = exp(log_sigma)``. Nothing of size (V, K, J) is saved for
    the backward (it is recomputed), which keeps a network's memory at the gathered features.
    Gradients flow to the kernel parameters only; the geometry is a constant.

    Parameters (of ``apply``)
    -------------------------
    rho, quadrature : Tensor, shape (V, K)
    mu_rho, log_sigma_rho : Tensor, shape (J,)
    theta, angular : Tensor, shape (V, K), optional
        Polar angle and a 0/1 factor of the angular term (polar coordinates only).
    mu_theta, log_sigma_theta : Tensor, shape (J,), optional
    """

    @staticmethod
    def _terms(rho, mu_rho, log_sigma_rho, theta, angular, mu_theta, log_sigma_theta):
        inv_r = torch.exp(-log_sigma_rho)
        z_r = (rho[..., None] - mu_rho) * inv_r  # (V, K, J)
        expo = z_r * z_r
        z_t = inv_t = None
        if theta is not None:
            inv_t = torch.exp(-log_sigma_theta)
            z_t = wrap_angle(theta[..., None] - mu_theta) * inv_t * angular[..., None]  # (V, K, J)
            expo = expo + z_t * z_t
        return z_r, inv_r, z_t, inv_t, expo

    @staticmethod
    def _chunks(n: int):
        return [slice(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)] or [slice(0, 0)]

    @staticmethod
    def forward(ctx, rho, quadrature, mu_rho, log_sigma_rho, theta=None, angular=None, mu_theta=None, log_sigma_theta=None):
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1] or (theta is not None and ctx.needs_input_grad[4]):
            raise ArgumentError("GaussianKernels differentiates the kernel parameters only, not rho/theta/quadrature")
        ctx.save_for_backward(rho, quadrature, mu_rho, log_sigma_rho, theta, angular, mu_theta, log_sigma_theta)
        out = rho.new_empty(*rho.shape, mu_rho.shape[0])  # (V, K, J)
        # Blocks of vertices keep the (block, K, J) temporaries in cache.
        for sl in GaussianKernels._chunks(rho.shape[0]):
            th, an = (None, None) if theta is None else (theta[sl], angular[sl])
            *_, expo = GaussianKernels._terms(rho[sl], mu_rho, log_sigma_rho, th, an, mu_theta, log_sigma_theta)
            torch.mul(torch.exp(expo.mul_(-0.5)), quadrature[sl, :, None], out=out[sl])
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        rho, quadrature, mu_rho, log_sigma_rho, theta, angular, mu_theta, log_sigma_theta = ctx.saved_tensors
        g_mu_r, g_ls_r = torch.zeros_like(mu_rho), torch.zeros_like(log_sigma_rho)
        g_mu_t = g_ls_t = None
        if theta is not None:
            g_mu_t, g_ls_t = torch.zeros_like(mu_theta), torch.zeros_like(log_sigma_theta)
        for sl in GaussianKernels._chunks(rho.shape[0]):
            th, an = (None, None) if theta is None else (theta[sl], angular[sl])
            z_r, inv_r, z_t, inv_t, expo = GaussianKernels._terms(
                rho[sl], mu_rho, log_sigma_rho, th, an, mu_theta, log_sigma_theta
            )
            gw = torch.exp(expo.mul_(-0.5)).mul_(quadrature[sl, :, None]).mul_(grad[sl])  # (B, K, J)
            gz = gw * z_r
            g_mu_r += gz.sum(dim=(0, 1)) * inv_r  # d expo/d mu = -2 z / sigma
            g_ls_r += gz.mul_(z_r).sum(dim=(0, 1))  # d expo/d log sigma = -2 z^2
            if theta is not None:
                gz = gw.mul_(z_t)
                g_mu_t += gz.sum(dim=(0, 1)) * inv_t
                g_ls_t += gz.mul_(z_t).sum(dim=(0, 1))
        return None, None, g_mu_r, g_ls_r, None, None, g_mu_t, g_ls_t


class MoNetConv(nn.Module):
    """Gaussian mixture patch convolution with learned kernels.

    Parameters
    ----------
    in_channels, out_channels : int
    n_kernels : int, keyword-only
        Number ``J`` of Gaussian kernels (default 8).
    coords : {"polar", "rho"}, keyword-only
        Pseudo-coordinates; see the module docstring.
    root_weight : bool, keyword-only
        Add ``W_root^T f(v)``.
    radius : float, optional, keyword-only
        Fixed geodesic radius dividing ``rho``; default each patch's own radius.
    bias : bool, keyword-only

    Attributes
    ----------
    mu_rho, log_sigma_rho : Parameter, shape (J,)
    mu_theta, log_sigma_theta : Parameter, shape (J,)
        Only with ``coords="polar"``.
    weight : Parameter, shape (J, C_in, C_out)

    Shapes
    ------
    ``forward(x (V, C_in), batch) -> (V, C_out)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        n_kernels: int = 8,
        coords: Coords = "polar",
        root_weight: bool = True,
        radius: float | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if coords not in ("polar", "rho"):
            raise ArgumentError(f"coords must be 'polar' or 'rho', got {coords!r}")
        for name, val in (("in_channels", in_channels), ("out_channels", out_channels), ("n_kernels", n_kernels)):
            if not isinstance(val, int) or val < 1:
                raise ArgumentError(f"{name} must be a positive int, got {val!r}")
        self.in_channels, self.out_channels, self.n_kernels = in_channels, out_channels, n_kernels
        self.coords, self.radius = coords, radius
        j = torch.arange(n_kernels, dtype=torch.get_default_dtype())
        if coords == "polar":
            # Spread the means over the disc: rings by golden-angle steps.
            self.mu_rho = nn.Parameter(torch.sqrt((j + 0.5) / n_kernels))
            self.mu_theta = nn.Parameter(wrap_angle(j * (math.pi * (3 - math.sqrt(5)))))
            self.log_sigma_rho = nn.Parameter(torch.full((n_kernels,), math.log(0.3)))
            self.log_sigma_theta = nn.Parameter(torch.full((n_kernels,), math.log(1.0)))
        else:
            self.mu_rho = nn.Parameter((j + 0.5) / n_kernels)
            self.log_sigma_rho = nn.Parameter(torch.full((n_kernels,), math.log(max(0.6 / n_kernels, 0.05))))
        self.weight = nn.Parameter(torch.empty(n_kernels, in_channels, out_channels))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(n_kernels * in_channels))
        self.root = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, n_kernels={self.n_kernels}, coords={self.coords!r}, "
            f"root_weight={self.root is not None}, radius={self.radius}"
        )

    def kernels(self, patches: PatchGather) -> torch.Tensor:
        """Gaussian kernel values times the normalized quadrature.

        Returns
        -------
        Tensor, shape (V, K, J)
            ``m_q w_j(u(v, q)) / sum_q m_q``.
        """
        q = patches.quadrature
        q = q / q.sum(dim=1, keepdim=True).clamp_min(torch.finfo(q.dtype).tiny)  # (V, K)
        if self.coords == "polar":
            angular = (~patches.at_center).to(q.dtype)  # the centre's angle is meaningless
            return GaussianKernels.apply(
                patches.rho, q, self.mu_rho, self.log_sigma_rho, patches.theta, angular, self.mu_theta, self.log_sigma_theta
            )
        return GaussianKernels.apply(patches.rho, q, self.mu_rho, self.log_sigma_rho)

    def forward(self, x: torch.Tensor, batch: MeshBatch, patches: PatchGather | None = None) -> torch.Tensor:
        """Apply the layer.

        Parameters
        ----------
        x : Tensor, shape (V, C_in)
        batch : MeshBatch
            With geodesic patches.
        patches : PatchGather, optional
            Precomputed ``PatchGather.from_batch(batch, radius=self.radius)``.

        Returns
        -------
        Tensor, shape (V, C_out)
        """
        patches = patches_for(x, batch, patches, in_channels=self.in_channels, radius=self.radius)
        d = patches.aggregate(x, self.kernels(patches))  # (V, J, C_in)
        out = d.reshape(x.shape[0], -1) @ self.weight.reshape(-1, self.out_channels)  # (V, C_out)
        if self.root is not None:
            out = out + self.root(x)
        if self.bias is not None:
            out = out + self.bias
        return out
