"""Per-vertex multilayer perceptron with a fused, memory-light ReLU + dropout.

``ReLU`` followed by ``Dropout`` normally keeps the ReLU output, the dropout mask and the dropout
output alive for the backward, and torch's CPU dropout draws its mask slowly. Here both are one
autograd function that saves only its output ``y`` (which the next linear layer saves anyway):
``dy/dz = scale`` exactly where ``y > 0``. The mask is drawn with ``torch.rand`` (a uniform float32
compared with the drop probability).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..batch import MeshBatch

__all__ = ["MLP", "relu_dropout"]


class _ReluDropout(torch.autograd.Function):
    """y = relu(z) * keep * scale; the backward needs y alone."""

    @staticmethod
    def forward(ctx, z, keep, scale):  # type: ignore[override]
        y = torch.relu(z)
        if keep is not None:
            y.mul_(keep).mul_(scale)
        ctx.scale = scale
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        (y,) = ctx.saved_tensors
        grad_z = grad_y * ctx.scale if ctx.scale != 1.0 else grad_y
        return grad_z.masked_fill(y <= 0, 0.0), None, None


def relu_dropout(
    z: torch.Tensor, p: float, *, training: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``dropout(relu(z), p)`` as one autograd node that saves only its output.

    Parameters
    ----------
    z : Tensor, shape (..., C)
    p : float
        Drop probability in [0, 1).
    training : bool
        Without training (or with ``p == 0``) this is a plain ReLU.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, same shape and dtype as ``z``
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return _ReluDropout.apply(z, None, 1.0)
    keep = torch.rand(z.shape, dtype=torch.float32, device=z.device, generator=generator) >= p  # bool
    return _ReluDropout.apply(z, keep, 1.0 / (1.0 - p))


class MLP(nn.Module):
    """Linear layers with ReLU between them, applied to every vertex (row) independently.

    Layer order (DiffusionNet's MiniMLP): ``Linear, ReLU, Dropout, Linear, ..., Linear``.

    Parameters
    ----------
    in_channels : int
    hidden : sequence of int
        Widths of the hidden layers (may be empty: a single linear map).
    out_channels : int
    dropout : float
        Dropout probability before every linear layer but the first (0 disables it); only with
        the ReLU activation, with which it is fused.
    activation : type of nn.Module
        Nonlinearity between layers (not after the last one).
    """

    def __init__(
        self,
        in_channels: int,
        hidden: Sequence[int],
        out_channels: int,
        *,
        dropout: float = 0.0,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_channels, *hidden, out_channels]
        if min(sizes) < 1:
            raise ValueError(f"every width must be >= 1, got {sizes}")
        if activation is not nn.ReLU and dropout > 0:
            raise ValueError("dropout is fused with the ReLU: use activation=nn.ReLU or dropout=0")
        self.dropout = float(dropout)
        self.fused = activation is nn.ReLU
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = None if self.fused else activation()

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor], batch: MeshBatch | None = None) -> torch.Tensor:
        """Apply the MLP.

        Parameters
        ----------
        x : Tensor, shape (V, C_in), or sequence of Tensors, shapes (V, C_i) with sum C_i = C_in
            A sequence stands for its concatenation along the channels, which is never built:
            the first layer sums one GEMM per part (no (V, C_in) copy is kept for the backward).
        batch : MeshBatch, optional
            Unused (accepted so that every layer has the signature ``forward(x, batch)``).

        Returns
        -------
        Tensor, shape (V, C_out)
        """
        n = len(self.linears)
        for i, lin in enumerate(self.linears):
            x = self._first(x) if i == 0 else lin(x)
            if i < n - 1:
                if self.fused:
                    x = relu_dropout(x, self.dropout, training=self.training)
                else:
                    x = self.activation(x)  # type: ignore[misc]
        return x

    def _first(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        lin = self.linears[0]
        if isinstance(x, torch.Tensor):
            return lin(x)
        widths = [int(p.shape[-1]) for p in x]
        if sum(widths) != lin.in_features:
            raise ValueError(f"parts with {widths} channels do not add up to {lin.in_features}")
        out = lin.bias
        off = 0
        for p, w in zip(x, widths):
            out = torch.addmm(out, p, lin.weight[:, off : off + w].t())  # (V, C_out)
            off += w
        return out
