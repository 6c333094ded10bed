"""Spatial gradient features (DiffusionNet style), invariant to the choice of tangent frames.

Each channel's tangent gradient at a vertex is a complex number ``g = df/dx + i df/dy`` in that
vertex's frame. A learned complex matrix ``A`` (C x C: a rotation and a scale between channels)
maps ``g`` to ``A g``, and the feature is ``tanh(Re(conj(g) * (A g)))`` per channel. Rotating a
vertex's frame by ``phi`` multiplies every ``g`` at that vertex by ``exp(-i phi)``; ``A`` is
complex-linear, so the product ``conj(g) (A g)`` does not change: the features do not depend on the
gauge.

The two gradient operators are packed, rows interleaved, into one (2V, V) CSR matrix. Because the
spatial operator G and the channel map A commute, ``A g = (G_x + i G_y)(x Re A^T + i x Im A^T)``:
the channel mixing costs two real (V, C) x (C, C) GEMMs on x, half of mixing the complex
gradients directly (four), and the backward recomputes the gradients instead of storing them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..batch import MeshBatch
from .sparse import CsrOperator

__all__ = ["stacked_gradient", "gradient_features", "SpatialGradientFeatures"]


def stacked_gradient(batch: MeshBatch) -> CsrOperator:
    """Interleave ``batch.gradient_x`` and ``batch.gradient_y`` into one (2V, V) operator.

    Row ``2 v`` is ``d/dx`` and row ``2 v + 1`` is ``d/dy`` at vertex v, so ``(op @ f).view(V, 2 C)``
    is ``[df/dx | df/dy]``.

    Returns
    -------
    CsrOperator, shape (2V, V)
    """
    gx, gy = batch.gradient_x.coalesce(), batch.gradient_y.coalesce()
    ix, iy = gx.indices(), gy.indices()
    rows = torch.cat([2 * ix[0], 2 * iy[0] + 1])
    cols = torch.cat([ix[1], iy[1]])
    vals = torch.cat([gx.values(), gy.values()])
    n = batch.total_verts
    stacked = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (2 * n, n), check_invariants=False)
    # Distinct (row, col) pairs by construction; CsrOperator converts without sorting on the CPU.
    return CsrOperator(stacked if stacked.device.type == "cpu" else stacked.coalesce())


class _GradientFeatures(torch.autograd.Function):
    """f = tanh(Re(conj(G d) * (A (G d)))) with A (G d) = G (d A^T): saves only d and f.

    ``weight`` is ``[Re A^T | Im A^T]`` of shape (C, 2C). Spatial (G) and channel (A) maps commute,
    so the channel mixing is two (V, C) x (C, C) GEMMs on real features instead of a (V, 2C) x
    (2C, 2C) GEMM on gradients (half the flops), then sparse products give every gradient:
    ``G d``, ``G (d Re A^T)``, ``G (d Im A^T)``. The backward recomputes those rather than keeping
    six (V, C) intermediates alive.
    """

    @staticmethod
    def _parts(d, weight, grad_op):
        n, c = d.shape
        a = grad_op.mm  # (2V, V)
        g = a(d).view(n, 2, c)  # [gx, gy]
        gp = a(d @ weight[:, :c]).view(n, 2, c)  # G P, P = d Re A^T
        gq = a(d @ weight[:, c:]).view(n, 2, c)  # G Q, Q = d Im A^T
        bre = gp[:, 0] - gq[:, 1]  # Gx P - Gy Q
        bim = gq[:, 0] + gp[:, 1]  # Gx Q + Gy P
        return g[:, 0], g[:, 1], bre, bim

    @staticmethod
    def forward(ctx, d, weight, grad_op):  # type: ignore[override]
        gx, gy, bre, bim = _GradientFeatures._parts(d, weight, grad_op)
        f = torch.tanh(gx * bre + gy * bim)  # (V, C)
        ctx.grad_op = grad_op
        ctx.save_for_backward(d, weight, f)
        return f

    @staticmethod
    def backward(ctx, grad_f):  # type: ignore[override]
        d, weight, f = ctx.saved_tensors
        grad_op = ctx.grad_op
        n, c = d.shape
        gx, gy, bre, bim = _GradientFeatures._parts(d, weight, grad_op)
        s = grad_f * (1.0 - f * f)  # d loss / d dots, (V, C)
        # Three (2V, C) right-hand sides one after the other keep the peak memory low.
        z = torch.empty(n, 2, c, dtype=d.dtype, device=d.device)  # rows interleaved x / y

        def adjoint(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            torch.mul(s, a, out=z[:, 0])
            torch.mul(s, b, out=z[:, 1])
            return grad_op.mm_t(z.view(2 * n, c))  # Gx^T (s a) + Gy^T (s b), (V, C)

        grad_g = adjoint(bre, bim)  # through g directly
        del bre, bim
        grad_p = adjoint(gx, gy)  # P enters as Gx P (in bre) and Gy P (in bim)
        grad_q = adjoint(gy, gx.neg_())  # Q enters as -Gy Q (in bre) and Gx Q (in bim)
        grad_d = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_d = torch.addmm(grad_g, grad_p, weight[:, :c].t())
            grad_d = torch.addmm(grad_d, grad_q, weight[:, c:].t())  # (V, C)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.cat([d.t() @ grad_p, d.t() @ grad_q], 1)  # (C, 2C)
        return grad_d, grad_weight, None


def gradient_features(x: torch.Tensor, weight_re: torch.Tensor, weight_im: torch.Tensor | None,
                      gradient: CsrOperator) -> torch.Tensor:
    """Functional form of :class:`SpatialGradientFeatures`.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    weight_re, weight_im : Tensor, shape (C, C)
        Real and imaginary parts of A (``weight_im=None``: A real).
    gradient : CsrOperator, shape (2V, V)
        :func:`stacked_gradient`.

    Returns
    -------
    Tensor, shape (V, C)
        ``tanh(Re(conj(g_c) (A g)_c))`` with ``g = (G_x + i G_y) x``.
    """
    if weight_im is None:
        weight_im = torch.zeros_like(weight_re)
    weight = torch.cat([weight_re.t(), weight_im.t()], 1).to(x.dtype)  # (C, 2C)
    return _GradientFeatures.apply(x.contiguous(), weight, gradient)


class SpatialGradientFeatures(nn.Module):
    """``tanh(Re(conj(g) * (A g)))`` per channel, with g the complex tangent gradient of x.

    Parameters
    ----------
    channels : int
    rotations : bool
        Learn a complex ``A`` (rotation and scale). With ``False``, ``A`` is real (a scale only).
    """

    def __init__(self, channels: int, *, rotations: bool = True) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.rotations = bool(rotations)
        bound = 1.0 / math.sqrt(channels)  # nn.Linear's default range
        self.weight_re = nn.Parameter(torch.empty(channels, channels).uniform_(-bound, bound))
        if self.rotations:
            self.weight_im = nn.Parameter(torch.empty(channels, channels).uniform_(-bound, bound))
        else:
            self.register_parameter("weight_im", None)

    def extra_repr(self) -> str:
        return f"{self.channels}, rotations={self.rotations}"

    def forward(self, x: torch.Tensor, batch: MeshBatch, *, gradient: CsrOperator | None = None) -> torch.Tensor:
        """Gradient features of ``x``.

        Parameters
        ----------
        x : Tensor, shape (V, C)
        batch : MeshBatch
        gradient : CsrOperator, shape (2V, V), optional
            :func:`stacked_gradient` of the batch, shared by a model's layers; built when absent.

        Returns
        -------
        Tensor, shape (V, C)
            In (-1, 1).
        """
        if x.dim() != 2 or x.shape[1] != self.channels:
            raise ValueError(f"expected x of shape (V, {self.channels}), got {tuple(x.shape)}")
        op = gradient if gradient is not None else stacked_gradient(batch)
        if op.shape != (2 * x.shape[0], x.shape[0]):
            raise ValueError(f"gradient operator of shape {op.shape} does not fit x of shape {tuple(x.shape)}")
        return gradient_features(x, self.weight_re, self.weight_im, op)
