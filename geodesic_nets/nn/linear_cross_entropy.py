"""A linear classification head fused with its cross-entropy loss, for many classes.

``linear_cross_entropy(x, W, b, target)`` gives what

    logits = F.linear(x, W, b)                                    # (N, K)
    F.cross_entropy(logits, target, reduction="none"), logits.argmax(1)

gives, and ``weighted_linear_cross_entropy(x, W, b, target, row_weight)`` gives
``(row_weight * cross_entropy).sum()`` and the argmax, both without ever holding the (N, K) logits:
rows are processed in blocks of ``chunk_rows`` whose logits, transposed to (K, n), stay in the CPU
caches.

The gradient of a row's cross-entropy with respect to its logits is ``softmax - onehot``; the
softmax part of each block is contracted with ``W`` and ``x`` by two matrix products, each row's
factor (upstream gradient over the softmax denominator) applied to the narrow side of the product,
never as a pass over (K, n); the onehot part is a gather / scatter of rows.

* ``linear_cross_entropy`` returns per-row losses, so its upstream gradient is known only in the
  backward: the backward recomputes each block's logits (a third product per block).
* ``weighted_linear_cross_entropy`` returns a scalar whose row weights are known in the forward, so
  the forward forms the gradients with the logits it already has (three products per block in
  all instead of four) and the backward only scales them by the scalar upstream gradient; it does that work
  only when a gradient is wanted. For FAUST vertex labelling with GEM-CNN's head (4 shapes of
  6890 vertices a step, a 256-wide hidden layer, 6890 classes) forward and backward take 4.8 s on
  one core, against 7.1 s for the per-row form and 7.3 s unfused
  (``benchmarks/linear_cross_entropy.py``).

The blocks are transposed because ``W @ x_block.T`` with a (K, 1) bias, ``e.T @ W`` and
``e @ x_block`` ran at 70-85 GFLOP/s on one core where the (n, K) layout with the bias folded in as
an extra column ran at 45-60 (``benchmarks/results/faust_labeling_profile.md``).

The reference (:func:`linear_cross_entropy_reference`) is the unfused expression above; the
tests check both fused forms against it, forward and backward, in float64.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..errors import ArgumentError

__all__ = [
    "linear_cross_entropy",
    "weighted_linear_cross_entropy",
    "linear_cross_entropy_reference",
    "linear_argmax",
]

#: rows per block: 128 rows of 6890 float32 logits are 3.5 MB
DEFAULT_CHUNK_ROWS = 128


def _exp_floor(dtype: torch.dtype) -> float:
    """Log-probabilities are clamped here before ``exp``: just above the log of the smallest normal
    float, so no exponential is subnormal (torch's vectorized exp takes a slow path below it, 10-40x
    on float32) while each clamped term adds at most ~2e-38 (float32) to a sum of at least 1."""
    return math.log(torch.finfo(dtype).tiny) + 0.5


def _blocks(n: int, chunk: int):
    for r0 in range(0, n, chunk):
        yield r0, min(r0 + chunk, n)


def _logits(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` of one block, a fresh contiguous (n, K) tensor."""
    if bias is None:
        return x @ weight.T
    return torch.addmm(bias, x, weight.T)


class _Block(NamedTuple):
    """One block of rows: ``exp`` (K, n) holds ``exp(z - max)`` of the logits ``z``, transposed;
    ``max``, ``sum`` (of ``exp``) and ``picked`` (the target's logit) are (n,)."""

    exp: torch.Tensor
    max: torch.Tensor
    sum: torch.Tensor
    picked: torch.Tensor


def _block(xs, weight, bias, target, *, argmax: bool = True) -> tuple[_Block, torch.Tensor | None]:
    """Shifted exponentials of one block's logits and (if ``argmax``) the argmax (n,) int64 of each row."""
    z = weight @ xs.T if bias is None else torch.addmm(bias[:, None], weight, xs.T)  # (K, n)
    picked = z.gather(0, target[None])[0]  # (n,)
    m = z.amax(0)  # (n,)
    pred = z.T.contiguous().argmax(1) if argmax else None  # (n,), first maximum (no slower than z.argmax(0) here)
    z.sub_(m).clamp_min_(_exp_floor(z.dtype)).exp_()
    return _Block(z, m, z.sum(0), picked), pred


def _add_softmax_grads(blk: _Block, g, xs, weight, gx, gw, gb) -> None:
    """Add one block's softmax part of the gradient of ``sum_i g_i CE_i``: with ``p = exp / sum``,
    ``gx = g p^T W`` (written), ``gw += p (g xs)``, ``gb += p g``; ``g`` (n,)."""
    scale = g / blk.sum  # (n,)
    if gx is not None:
        torch.mm(blk.exp.T, weight, out=gx).mul_(scale[:, None])
    if gw is not None:
        gw.addmm_(blk.exp, xs * scale[:, None])
    if gb is not None:
        gb.addmv_(blk.exp, scale)


def _sub_onehot_grads(x, weight, target, g, gx, gw, gb) -> None:
    """Subtract the onehot part of the gradient of ``sum_i g_i CE_i`` (all rows)."""
    if gx is not None:
        gx -= weight[target] * g[:, None]
    if gw is not None:
        gw.index_add_(0, target, x * g[:, None], alpha=-1)
    if gb is not None:
        gb.index_add_(0, target, g, alpha=-1)


def _grad_buffers(x, weight, bias, need):
    """Gradient buffers of x (N, C) (uninitialized: every block writes its rows), weight (K, C) and
    bias (K,) (zeros); None where not needed."""
    need_x, need_w, need_b = need
    return (torch.empty_like(x) if need_x else None, torch.zeros_like(weight) if need_w else None,
            torch.zeros_like(bias) if need_b and bias is not None else None)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, chunk):
        N = x.shape[0]
        loss = x.new_empty(N)  # (N,)
        pred = torch.empty(N, dtype=torch.int64, device=x.device)
        for r0, r1 in _blocks(N, chunk):
            blk, pred[r0:r1] = _block(x[r0:r1], weight, bias, target[r0:r1])
            loss[r0:r1] = blk.max + blk.sum.log() - blk.picked
        ctx.save_for_backward(x, weight, bias, target)
        ctx.chunk = chunk
        ctx.mark_non_differentiable(pred)
        return loss, pred

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_loss, _g_pred):
        x, weight, bias, target = ctx.saved_tensors
        gx, gw, gb = _grad_buffers(x, weight, bias, ctx.needs_input_grad[:3])
        if g_loss is None:
            return (None if gx is None else gx.zero_()), gw, gb, None, None
        # the logits again, block by block: the upstream gradient was not known in the forward
        for r0, r1 in _blocks(x.shape[0], ctx.chunk):
            blk, _ = _block(x[r0:r1], weight, bias, target[r0:r1], argmax=False)
            _add_softmax_grads(blk, g_loss[r0:r1], x[r0:r1], weight,
                               None if gx is None else gx[r0:r1], gw, gb)
        _sub_onehot_grads(x, weight, target, g_loss, gx, gw, gb)
        return gx, gw, gb, None, None


class _WeightedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, row_weight, chunk, need):
        N = x.shape[0]
        loss = x.new_zeros(())
        pred = torch.empty(N, dtype=torch.int64, device=x.device)
        gx, gw, gb = _grad_buffers(x, weight, bias, need)
        for r0, r1 in _blocks(N, chunk):
            xs, g = x[r0:r1], row_weight[r0:r1]
            blk, pred[r0:r1] = _block(xs, weight, bias, target[r0:r1])
            loss += (g * (blk.max + blk.sum.log() - blk.picked)).sum()
            if any(need):
                _add_softmax_grads(blk, g, xs, weight, None if gx is None else gx[r0:r1], gw, gb)
        if any(need):
            _sub_onehot_grads(x, weight, target, row_weight, gx, gw, gb)
        ctx.grads = (gx, gw, gb)
        ctx.mark_non_differentiable(pred)
        return loss, pred

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_loss, _g_pred):
        grads = tuple(None if g is None else g * g_loss for g in ctx.grads)
        return (*grads, None, None, None, None)


def _check(x, weight, bias, target, chunk_rows):
    if x.dim() != 2 or weight.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ArgumentError(f"x (N, C) and weight (K, C) must agree, got {tuple(x.shape)} and {tuple(weight.shape)}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ArgumentError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if target is not None:
        if target.shape != (x.shape[0],) or target.dtype != torch.int64:
            raise ArgumentError(f"target must be int64 of shape ({x.shape[0]},), got {target.dtype} {tuple(target.shape)}")
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= weight.shape[0]):
            raise ArgumentError(f"target must be in [0, {weight.shape[0]}), got [{int(target.min())}, {int(target.max())}]")
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ArgumentError(f"chunk_rows must be a positive int, got {chunk_rows!r}")


def linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row cross-entropy of a linear head and its argmax, without the (N, K) logits.

    Parameters
    ----------
    x : Tensor, shape (N, C)
        Features (the head's input).
    weight : Tensor, shape (K, C)
    bias : Tensor, shape (K,), or None
    target : Tensor, shape (N,), int64
        Class of each row, in ``[0, K)`` (mask ignored rows in the caller by weighting the loss).
    chunk_rows : int
        Rows per block (memory ``chunk_rows * K`` elements at a time).

    Returns
    -------
    loss : Tensor, shape (N,)
        ``F.cross_entropy(F.linear(x, weight, bias), target, reduction="none")``; differentiable
        with respect to ``x``, ``weight`` and ``bias``.
    pred : Tensor, shape (N,), int64
        ``F.linear(x, weight, bias).argmax(1)`` (first maximum), not differentiable.

    See Also
    --------
    weighted_linear_cross_entropy : the weighted sum of the same losses, about twice as fast to
        differentiate when the weights are known beforehand.
    """
    _check(x, weight, bias, target, chunk_rows)
    return _LinearCrossEntropy.apply(x, weight, bias, target, chunk_rows)


def weighted_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    target: torch.Tensor,
    row_weight: torch.Tensor,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sum of the per-row cross-entropies of a linear head, and its argmax.

    The same value as ``(row_weight * linear_cross_entropy(x, weight, bias, target)[0]).sum()``;
    when a gradient is wanted (grad mode on and an input that requires it), the forward also
    computes the gradients, from the logits it has in hand, and keeps them (N x C + K x C + K
    numbers) until the backward.

    Parameters
    ----------
    x : Tensor, shape (N, C)
    weight : Tensor, shape (K, C)
    bias : Tensor, shape (K,), or None
    target : Tensor, shape (N,), int64, in ``[0, K)``
    row_weight : Tensor, shape (N,)
        Weight of each row's loss (zero for ignored rows); a constant: no gradient flows to it.
    chunk_rows : int
        Rows per block.

    Returns
    -------
    loss : Tensor, shape ()
        ``sum_i row_weight[i] * cross_entropy_i``; differentiable with respect to ``x``,
        ``weight`` and ``bias``.
    pred : Tensor, shape (N,), int64
        The argmax of each row's logits (first maximum), not differentiable.
    """
    _check(x, weight, bias, target, chunk_rows)
    if row_weight.shape != (x.shape[0],) or row_weight.dtype != x.dtype:
        raise ArgumentError(f"row_weight must be {x.dtype} of shape ({x.shape[0]},), "
                            f"got {row_weight.dtype} {tuple(row_weight.shape)}")
    if row_weight.requires_grad:
        raise ArgumentError("row_weight must be a constant (detach it): no gradient flows to it")
    grad_on = torch.is_grad_enabled()
    need = tuple(grad_on and t is not None and t.requires_grad for t in (x, weight, bias))
    return _WeightedLinearCrossEntropy.apply(x, weight, bias, target, row_weight, chunk_rows, need)


def linear_cross_entropy_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The unfused expression :func:`linear_cross_entropy` computes (for tests)."""
    logits = F.linear(x, weight, bias)  # (N, K)
    return F.cross_entropy(logits, target, reduction="none"), logits.argmax(1)


@torch.no_grad()
def linear_argmax(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> torch.Tensor:
    """``F.linear(x, weight, bias).argmax(1)`` block by block, shape (N,) int64 (no gradient)."""
    _check(x, weight, bias, None, chunk_rows)
    pred = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    for r0, r1 in _blocks(x.shape[0], chunk_rows):
        pred[r0:r1] = _logits(x[r0:r1], weight, bias).argmax(1)
    return pred
