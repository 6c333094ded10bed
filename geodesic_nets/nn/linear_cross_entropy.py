"""A linear classification head fused with its cross-entropy loss, for many classes.

``linear_cross_entropy(x, W, b, target)`` gives what

    logits = F.linear(x, W, b)                                    # (N, K)
    F.cross_entropy(logits, target, reduction="none"), logits.argmax(1)

gives, without ever holding the (N, K) logits: rows are processed in blocks of ``chunk_rows``
that stay in the CPU caches, the backward recomputes each block's logits (one more small matmul)
instead of saving them, and the gradient of the logits ``(softmax - onehot) * g`` is formed in
place and contracted with ``W`` and ``x`` block by block. For FAUST vertex labelling
(N = K = 6890, 48 features) the unfused head and loss cost about 0.8 s of a 1.0 s training step,
mostly passes over the 190 MB logits (log-softmax and its backward, the zero-filled one-hot
gradient, argmax, the bias gradient); fused they cost a fraction of that.

The reference (:func:`linear_cross_entropy_reference`) is the unfused expression above; the
tests check the two against each other, forward and backward, in float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ArgumentError

__all__ = ["linear_cross_entropy", "linear_cross_entropy_reference", "linear_argmax"]

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


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, chunk):
        N = x.shape[0]
        lse = x.new_empty(N)  # (N,) log-sum-exp of each row's logits
        picked = x.new_empty(N)  # (N,) logit of the target class
        pred = torch.empty(N, dtype=torch.int64, device=x.device)
        for r0, r1 in _blocks(N, chunk):
            z = _logits(x[r0:r1], weight, bias)  # (n, K)
            t = target[r0:r1]
            picked[r0:r1] = z.gather(1, t[:, None])[:, 0]
            m, idx = z.max(dim=1)  # (n,), first index of the maximum, as argmax
            pred[r0:r1] = idx
            z.sub_(m[:, None]).clamp_min_(_exp_floor(z.dtype)).exp_()
            lse[r0:r1] = m + z.sum(dim=1).log()
        ctx.save_for_backward(x, weight, bias, target, lse)
        ctx.chunk = chunk
        ctx.mark_non_differentiable(pred)
        return lse - picked, pred

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_loss, _g_pred):
        x, weight, bias, target, lse = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        need_b = need_b and bias is not None
        gx = torch.zeros_like(x) if need_x else None
        gw = torch.zeros_like(weight) if need_w else None
        gb = torch.zeros_like(bias) if need_b else None
        if g_loss is None:
            return gx, gw, gb, None, None
        N, C = x.shape
        K = weight.shape[0]
        # one matmul gives the logits minus each row's log-sum-exp: [x, 1, -lse] @ [W, b, 1]^T
        w_aug = torch.cat((weight, (bias if bias is not None else weight.new_zeros(K))[:, None],
                           weight.new_ones(K, 1)), dim=1)  # (K, C + 2)
        # d loss / d logits = g (softmax - onehot): the softmax part block by block, where the
        # factor g is applied to the narrow side of each product (never a pass over (n, K));
        # the onehot part is a gather / scatter of rows
        for r0, r1 in _blocks(N, ctx.chunk):
            xs, g = x[r0:r1], g_loss[r0:r1, None]  # (n, C), (n, 1)
            xa = torch.cat((xs, torch.ones_like(g), -lse[r0:r1, None]), dim=1)  # (n, C + 2)
            p = (xa @ w_aug.T).clamp_min_(_exp_floor(xa.dtype)).exp_()  # (n, K) softmax
            if gx is not None:
                torch.mm(p, weight, out=gx[r0:r1]).mul_(g)
            if gw is not None or gb is not None:
                gxa = xa[:, : C + 1].mul(g)  # (n, C + 1): g x and g
                m = p.T @ gxa  # (K, C + 1)
                if gw is not None:
                    gw += m[:, :C]
                if gb is not None:
                    gb += m[:, C]
        g = g_loss[:, None]
        if gx is not None:
            gx -= weight[target] * g
        if gw is not None:
            gw.index_add_(0, target, x * g, alpha=-1)
        if gb is not None:
            gb.index_add_(0, target, g_loss, alpha=-1)
        return gx, gw, gb, None, None


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
    """
    _check(x, weight, bias, target, chunk_rows)
    return _LinearCrossEntropy.apply(x, weight, bias, target, chunk_rows)


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
