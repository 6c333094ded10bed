"""Per-vertex multilayer perceptron with a fused, memory-light ReLU + dropout.

``ReLU`` followed by ``Dropout`` normally keeps the ReLU output, the dropout mask and the dropout
output alive for the backward, and torch's CPU dropout draws its mask slowly (``bernoulli_``
~20 ns, ``torch.rand`` ~6 ns per element on one core). Here both are one autograd function that
saves only its output ``y`` (which the next linear layer saves anyway): ``dy/dz = scale`` exactly
where ``y > 0``.

The mask (:class:`KeepMaskStream`) keeps an element when a uniform k-bit integer is at least
``round(p * 2**k)``, with k = 1 for p = 1/2 (DiffusionNet's default), k = 8 for multiples of 1/256
and k = 16 otherwise: the drop probability is ``p`` rounded to a multiple of ``2**-16`` (exact for
0.5, 0.25, 0.1015625, ...), and the kept values are scaled by the inverse of the exact keep
probability, so that the expected output is the ReLU output. On the CPU the bits come from numpy's
PCG64 seeded by one draw from the torch generator (``torch.manual_seed`` makes runs repeatable):
~0.1 ns per element for p = 1/2, ~1 ns with 16 bits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..batch import MeshBatch
from ..errors import ArgumentError

__all__ = ["MLP", "relu_dropout", "relu_dropout_into", "dropout_keep_mask", "keep_probability", "KeepMaskStream"]


def _mask_bits(p: float) -> tuple[int, int]:
    """Random bits per element and the threshold a value must reach to keep its element."""
    if not 0.0 <= p < 1.0:
        raise ArgumentError(f"dropout probability must be in [0, 1), got {p}")
    bits = next((k for k in (1, 8) if p * 2**k == int(p * 2**k)), 16)
    return bits, min(int(round(p * 2**bits)), 2**bits - 1)


def keep_probability(p: float) -> float:
    """The exact keep probability of a dropout with drop probability ``p`` (see :class:`KeepMaskStream`)."""
    bits, threshold = _mask_bits(p)
    return 1.0 - threshold / 2**bits


class KeepMaskStream:
    """Keep masks of one dropout layer, drawn piece by piece from one random stream.

    On the CPU, the pieces drawn one after the other (row blocks of a (V, C) activation, say)
    concatenate to the mask that one draw of the whole shape would give: a tiled computation and a
    whole-tensor one drop the same elements.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1); rounded to a multiple of 2**-16.
    device : torch.device or str
    generator : torch.Generator, optional
        Source of randomness (on ``device``); the default generator when absent. On the CPU it
        supplies, at construction, one 63-bit seed for numpy's PCG64, which draws the bits.

    Attributes
    ----------
    keep_prob : float
        The probability that an element is kept: ``1 - p`` with p rounded to a multiple of 2**-16.
    bits : int
        Random bits per element: 1 (p = 1/2), 8 (p a multiple of 1/256) or 16.
    """

    def __init__(
        self, p: float, *, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> None:
        self.bits, self._threshold = _mask_bits(p)
        self.keep_prob = keep_probability(p)
        self._device = torch.device(device)
        self._generator = generator
        self._words: np.random.PCG64 | None = None
        self._left = np.empty(0, np.uint16 if self.bits == 16 else np.uint8)  # drawn, not yet used
        if self._device.type == "cpu":
            self._words = np.random.PCG64(int(torch.randint(0, 2**63 - 1, (), generator=generator)))

    def _values(self, n: int) -> np.ndarray:
        """The next n uniform ``bits``-bit integers of the stream."""
        per_word = 64 // self.bits
        need = n - len(self._left)
        words = self._words.random_raw(max(need + per_word - 1, 0) // per_word)  # type: ignore[union-attr]
        if self.bits == 1:
            fresh = np.unpackbits(words.view(np.uint8), bitorder="little")
        else:
            fresh = words.view(np.uint16 if self.bits == 16 else np.uint8)
        values = fresh if len(self._left) == 0 else np.concatenate([self._left, fresh])
        self._left = values[n:].copy()
        return values[:n]

    def next(self, shape: Sequence[int]) -> torch.Tensor:
        """The next piece, a bool Tensor of the given shape (True: kept) on the stream's device."""
        shape = tuple(int(s) for s in shape)
        if self._words is None:
            draw = torch.randint(0, 1 << self.bits, shape, device=self._device, generator=self._generator,
                                 dtype=torch.int32)
            return draw >= self._threshold
        values = self._values(int(np.prod(shape, dtype=np.int64))).reshape(shape)
        if self.bits == 1 and self._threshold == 1:
            return torch.from_numpy(values.view(np.bool_))  # the bits themselves (0 or 1)
        return torch.from_numpy(values >= self._threshold)


def dropout_keep_mask(
    shape: Sequence[int],
    p: float,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """Random keep mask of a dropout with drop probability ``p`` (rounded to a multiple of 2**-16).

    Parameters
    ----------
    shape : sequence of int
    p : float
        Drop probability in [0, 1).
    device : torch.device or str
    generator : torch.Generator, optional
        See :class:`KeepMaskStream`.

    Returns
    -------
    keep : Tensor, shape ``shape``, dtype bool
        True with probability ``keep_prob``, independently per element.
    keep_prob : float
        ``1 - round(p * 2**16) / 2**16``.
    """
    stream = KeepMaskStream(p, device=device, generator=generator)
    return stream.next(shape), stream.keep_prob


def relu_dropout_into(z: torch.Tensor, keep: torch.Tensor | None, scale: float, out: torch.Tensor) -> torch.Tensor:
    """``out = relu(z * keep) * scale`` (no autograd), the forward of :func:`relu_dropout`.

    Parameters
    ----------
    z : Tensor, shape (..., C)
    keep : Tensor of bool, same shape as z, or None (keep all)
    scale : float
    out : Tensor, same shape as z
        May be z itself.

    Returns
    -------
    Tensor
        ``out``.
    """
    if keep is None:
        torch.clamp_min(z, 0.0, out=out)
    elif z.device.type == "cpu":  # numpy multiplies by a bool mask ~10x faster than torch does
        np.multiply(z.detach().numpy(), keep.numpy(), out=out.detach().numpy())
        out.clamp_min_(0.0)
    else:
        torch.mul(z, keep, out=out).clamp_min_(0.0)
    return out.mul_(scale) if scale != 1.0 else out


class _ReluDropout(torch.autograd.Function):
    """y = relu(z * keep) * scale; the backward needs y alone (``dy/dz = scale`` where y > 0)."""

    @staticmethod
    def forward(ctx, z, keep, scale):  # type: ignore[override]
        y = relu_dropout_into(z, keep, scale, torch.empty_like(z))
        ctx.scale = scale
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        (y,) = ctx.saved_tensors
        grad_z = torch.ops.aten.threshold_backward(grad_y, y, 0)  # grad_y where y > 0, else 0
        return (grad_z.mul_(ctx.scale) if ctx.scale != 1.0 else grad_z), None, None


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
        See :func:`dropout_keep_mask`, which draws the mask.

    Returns
    -------
    Tensor, same shape and dtype as ``z``
    """
    if not 0.0 <= p < 1.0:
        raise ArgumentError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return _ReluDropout.apply(z, None, 1.0)
    keep, keep_prob = dropout_keep_mask(z.shape, p, device=z.device, generator=generator)
    if keep_prob == 1.0:  # p below 2**-17
        return _ReluDropout.apply(z, None, 1.0)
    return _ReluDropout.apply(z, keep, 1.0 / keep_prob)


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
            raise ArgumentError(f"dropout must be in [0, 1), got {dropout}")
        sizes = [in_channels, *hidden, out_channels]
        if min(sizes) < 1:
            raise ArgumentError(f"every width must be >= 1, got {sizes}")
        if activation is not nn.ReLU and dropout > 0:
            raise ArgumentError("dropout is fused with the ReLU: use activation=nn.ReLU or dropout=0")
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
        return self._after_first(self._first(x))

    def _after_first(self, z: torch.Tensor) -> torch.Tensor:
        """Everything after the first linear layer, given that layer's output.

        Parameters
        ----------
        z : Tensor, shape (V, H_0)
            Output of ``linears[0]`` (``H_0`` its width, ``C_out`` without hidden layers).

        Returns
        -------
        Tensor, shape (V, C_out)
        """
        for lin in self.linears[1:]:
            if self.fused:
                z = relu_dropout(z, self.dropout, training=self.training)
            else:
                z = self.activation(z)  # type: ignore[misc]
            z = lin(z)
        return z

    def _first(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        lin = self.linears[0]
        if isinstance(x, torch.Tensor):
            return lin(x)
        widths = [int(p.shape[-1]) for p in x]
        if sum(widths) != lin.in_features:
            raise ArgumentError(f"parts with {widths} channels do not add up to {lin.in_features}")
        out = None
        off = 0
        for p, w in zip(x, widths):
            part = lin.weight[:, off : off + w].t()  # (w, C_out)
            out = torch.addmm(lin.bias, p, part) if out is None else out.addmm_(p, part)  # (V, C_out)
            off += w
        return out
