"""The DiffusionNet block with spectral diffusion as one autograd function, tiled over vertices.

The block computes ``x + MLP([x, u, gradient_features(u)])`` with ``u = Phi c'`` the diffused
features, ``c' = exp(-Lambda t) Phi^T M x`` their (K, C) spectral coefficients (per mesh). Written
as one function with a hand-made backward, it differs from the composition of the layers in
three ways, none of which changes what it computes (up to rounding):

1. **Channel maps in the basis.** The MLP's first layer needs ``u W_u^T`` (W_u: its columns that
   read u) and the gradient features need ``P = u Re A^T`` and ``Q = u Im A^T``. All are computed
   from the coefficients: ``u W_u^T = Phi (c' W_u^T)`` and ``[u | P | Q] = Phi [c' | c' Re A^T |
   c' Im A^T]``. With K <= C the forward costs the same, and the backward needs one (K, V) x
   (V, .) GEMM per map (``Phi^T grad``) instead of two (V, C)-sized GEMMs (the map's input and
   weight gradients); the weight gradients ``(Phi^T grad)^T c'`` are (K, C)-sized. Per block,
   V-sized GEMMs drop from 27 to 22 units of V C^2 (forward 9, backward 13).
2. **One sparse operator for the gradient features.** The table ``T = [u | P | Q]`` (V, 3C) goes
   through the (4V, 3V) operator of :func:`~geodesic_nets.nn.gradient_features.gradient_feature_operator`
   (``r = H T`` gives the gradients and their mixing at once), and the backward through ``H^T``.
3. **Tiles of rows.** Everything per vertex (the sparse rows, the tanh, the MLP with its ReLU and
   dropout, the residual) runs on tiles of ``ROWS_PER_TILE`` vertices of one mesh. Temporaries
   are tile-sized: they stay in cache, and on the CPU they do not cost fresh pages. Every
   (V, C)-sized allocation above glibc's mmap threshold (32 MB: 65k vertices at C = 128) is
   mapped and zero-filled by the kernel anew, ~6x the cost of writing it; the composed layers
   allocate about a hundred per step. Only the saved activations and the input gradient are
   allocated at full size here.

What the backward keeps per block: x (the block input), the table T (V, 3C) and the MLP's hidden
activations (V, H_i) after ReLU and dropout (their positive entries give the ReLU and dropout
masks; dropout's 1 / keep_prob is folded into the next layer's weight). The features and every pre-activation are recomputed tile by tile; ``H T`` once more
(one sparse product). The backward's one full-size temporary, ``s [r_2, r_3, r_0, r_1]`` of shape
(V, 4, C), lives in :attr:`BlockOperators.scratch`, shared by the blocks of a network.

Dropout draws its masks from :class:`~geodesic_nets.nn.mlp.KeepMaskStream` in tile order, which
gives the very masks the composed layers draw (same generator state, same order of layers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from .diffusion import SpectralBasis
from ..batch import MeshBatch
from .gradient_features import batch_feature_operator, gradient_feature_operator, pair_adjoint_input
from .mlp import KeepMaskStream, relu_dropout_into
from .sparse import CsrOperator

__all__ = ["ROWS_PER_TILE", "BlockOperators", "spectral_block"]

ROWS_PER_TILE = 2048  # (2048, 128) float32 tiles: 1 MB, cache-resident


@dataclass(frozen=True, eq=False)
class BlockOperators:
    """What tiled blocks need from a batch, prepared once per forward and shared by the blocks.

    Attributes
    ----------
    basis : SpectralBasis
    features : CsrOperator, shape (4V, nV), or None
        :func:`~geodesic_nets.nn.gradient_features.gradient_feature_operator` (None: blocks
        without gradient features).
    tiles : tuple of (int, int, int)
        ``(member, start, stop)``: global row ranges of at most ``ROWS_PER_TILE`` vertices, each
        inside one member of the batch.
    first_rows : tuple of int
        First global row of every member.
    scratch : dict
        Full-size buffers reused by the blocks' backward passes (they run one after the other).
    """

    basis: SpectralBasis
    features: CsrOperator | None
    tiles: tuple[tuple[int, int, int], ...]
    first_rows: tuple[int, ...]
    scratch: dict = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        basis: SpectralBasis,
        gradient: CsrOperator | None,
        *,
        rotations: bool = True,
        rows_per_tile: int = ROWS_PER_TILE,
    ) -> "BlockOperators":
        """Tile plan and feature operator.

        Parameters
        ----------
        basis : SpectralBasis
        gradient : CsrOperator, shape (2V, V), or None
            :func:`~geodesic_nets.nn.gradient_features.stacked_gradient`; None for blocks
            without gradient features.
        rotations : bool
            Whether the gradient features' A is complex (see ``gradient_feature_operator``).
        rows_per_tile : int
        """
        features = None if gradient is None else gradient_feature_operator(gradient, rotations=rotations)
        return cls._tiled(basis, features, rows_per_tile)

    @classmethod
    def from_batch(
        cls,
        batch: MeshBatch,
        basis: SpectralBasis,
        *,
        features: bool = True,
        rotations: bool = True,
        rows_per_tile: int = ROWS_PER_TILE,
    ) -> "BlockOperators":
        """As :meth:`build`, with the feature operator built straight from the batch's gradients.

        Parameters
        ----------
        batch : MeshBatch
            On the CPU.
        basis : SpectralBasis
            ``SpectralBasis.from_batch(batch)``.
        features, rotations : bool
            Whether the blocks have gradient features, and with a complex A.
        rows_per_tile : int
        """
        op = batch_feature_operator(batch, rotations=rotations) if features else None
        return cls._tiled(basis, op, rows_per_tile)

    @classmethod
    def _tiled(cls, basis: SpectralBasis, features: CsrOperator | None, rows_per_tile: int) -> "BlockOperators":
        if rows_per_tile < 1:
            raise ValueError(f"rows_per_tile must be >= 1, got {rows_per_tile}")
        first, tiles = [], []
        start = 0
        for b, n in enumerate(basis.num_verts):
            first.append(start)
            tiles += [(b, a, min(a + rows_per_tile, start + n)) for a in range(start, start + n, rows_per_tile)]
            start += n
        return cls(basis, features, tuple(tiles), tuple(first))


def _sigmoid_2u(r: torch.Tensor) -> torch.Tensor:
    """``sigmoid(r_0 r_2 + r_1 r_3)`` of ``r = H [u | 2P | 2Q]`` (R, 4, C), i.e. ``sigmoid(2u)``, (R, C)."""
    return torch.mul(r[:, 0], r[:, 2]).addcmul_(r[:, 1], r[:, 3]).sigmoid_()


class _SpectralBlock(torch.autograd.Function):
    """The block as one node; see the module docstring. Inputs after ``x`` are the parameters."""

    @staticmethod
    def forward(ctx, ops, dropout, x, time, w_first, b_first, a_re, a_im, *linears):  # type: ignore[override]
        basis, op = ops.basis, ops.features
        v, c = x.shape
        n = 0 if a_re is None else (3 if a_im is not None else 2)  # table blocks (0: no features)
        w_x, w_u, w_f = w_first[:, :c], w_first[:, c : 2 * c], w_first[:, 2 * c :]  # (H_1, C) each
        weights, biases = linears[0::2], linears[1::2]  # layers 2.. of the MLP
        maps = [2.0 * a for a in (a_re, a_im)[: max(n - 1, 0)]]  # 2 A: the table holds 2P and 2Q
        if n:  # the features tanh(u) = 2 sigmoid(2u) - 1 enter as sigmoid (2 W_f)^T - W_f 1
            w_f, b_first = 2.0 * w_f, b_first - w_f.sum(1)
        # Spectral coefficients and the maps applied to them, per member.
        coefs, decay, z_u, z_t = [], [], [], []
        for b, (phi, proj, lam) in enumerate(zip(basis.evecs, basis.evecs_mass_t, basis.evals)):
            first = ops.first_rows[b]
            e = torch.exp(-lam[:, None] * time[None, :])  # (K_b, C)
            cp = (proj @ x[first : first + phi.shape[0]]).mul_(e)  # c' (K_b, C)
            coefs.append(cp)
            decay.append(e)
            z_u.append(cp @ w_u.t())  # (K_b, H_1)
            if n:
                z_t.append(torch.cat([cp] + [cp @ a.t() for a in maps], 1))  # (K_b, nC)
        table = None
        if n:
            table = torch.empty(v, n * c, dtype=x.dtype)  # T = [u | 2P | 2Q]
            for b, (phi, zt) in enumerate(zip(basis.evecs, z_t)):
                first = ops.first_rows[b]
                torch.mm(phi, zt, out=table[first : first + phi.shape[0]])
        hidden = [torch.empty(v, w.shape[1], dtype=x.dtype) for w in weights]  # (V, H_i), saved
        out = torch.empty_like(x)
        streams = [KeepMaskStream(dropout, device=x.device) for _ in weights] if dropout > 0 else []
        scale = 1.0 / streams[0].keep_prob if streams else 1.0
        # Dropout's 1 / keep_prob goes into the next layer's weight: the saved activations are
        # relu(z * keep), one pass less per layer forward and backward.
        weights_scaled = [w * scale for w in weights] if scale != 1.0 else list(weights)
        for b, start, stop in ops.tiles:
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            z = torch.mm(basis.evecs[b][rows], z_u[b]).addmm_(x[start:stop], w_x.t())  # (R, H_1)
            if n:
                r = op.mm_rows(4 * start, 4 * stop, table.view(-1, c)).view(-1, 4, c)  # [g, 2 A g]
                z.addmm_(_sigmoid_2u(r), w_f.t())
            z.add_(b_first)
            for i, (w, bias) in enumerate(zip(weights_scaled, biases)):
                keep = streams[i].next(z.shape) if streams else None
                h = relu_dropout_into(z, keep, 1.0, hidden[i][start:stop])
                z = torch.addmm(bias, h, w.t())  # (R, H_{i+1})
            torch.add(x[start:stop], z, out=out[start:stop])
        ctx.ops, ctx.n, ctx.scale = ops, n, scale
        ctx.coefs, ctx.decay = coefs, decay
        ctx.save_for_backward(x, time, w_first, a_re, a_im, table, *weights, *hidden)
        ctx.n_linears = len(weights)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        ops, n, scale = ctx.ops, ctx.n, ctx.scale
        basis, op = ops.basis, ops.features
        x, time, w_first, a_re, a_im, table, *rest = ctx.saved_tensors
        weights, hidden = rest[: ctx.n_linears], rest[ctx.n_linears :]
        weights_scaled = [w * scale for w in weights] if scale != 1.0 else list(weights)
        v, c = x.shape
        grad_out = grad_out.contiguous()
        w_x, w_u, w_f = w_first[:, :c], w_first[:, c : 2 * c], w_first[:, 2 * c :]
        maps = [2.0 * a for a in (a_re, a_im)[: max(n - 1, 0)]]
        w_f2 = 2.0 * w_f
        grad_x = torch.empty_like(x)
        grad_w_first = torch.zeros_like(w_first)
        grad_b_first = torch.zeros(w_first.shape[0], dtype=x.dtype)
        grad_w = [torch.zeros_like(w) for w in weights]
        grad_b = [torch.zeros(w.shape[0], dtype=x.dtype) for w in weights]
        grad_z_u = [torch.zeros(phi.shape[1], w_first.shape[0], dtype=x.dtype) for phi in basis.evecs]
        adjoint = None
        if n:
            key = ("pair_adjoint", x.dtype, c)
            if key not in ops.scratch or ops.scratch[key].shape[0] != v:
                ops.scratch[key] = torch.empty(v, 4, c, dtype=x.dtype)
            adjoint = ops.scratch[key]  # s [r_2, r_3, r_0, r_1], s = d loss / d (2u), (V, 4, C)
        for b, start, stop in ops.tiles:
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            g = grad_out[start:stop]  # gradient of the last layer's output, (R, C)
            for i in reversed(range(len(weights))):
                h = hidden[i][start:stop]
                grad_w[i].addmm_(g.t(), h)
                grad_b[i].add_(g.sum(0))
                g = torch.ops.aten.threshold_backward(g @ weights_scaled[i], h, 0)  # where relu and dropout kept
            # g: gradient of the first layer's output, (R, H_1)
            grad_b_first.add_(g.sum(0))
            grad_w_first[:, :c].addmm_(g.t(), x[start:stop])
            grad_z_u[b].addmm_(basis.evecs[b][rows].t(), g)
            torch.addmm(grad_out[start:stop], g, w_x, out=grad_x[start:stop])  # residual + first layer
            if n:
                r = op.mm_rows(4 * start, 4 * stop, table.view(-1, c)).view(-1, 4, c)
                sig = _sigmoid_2u(r)
                grad_w_first[:, 2 * c :].addmm_(g.t(), sig)  # g^T sigmoid; g^T f = 2 g^T sigmoid - g^T 1
                s = torch.mm(g, w_f2).mul_(torch.addcmul(sig, sig, sig, value=-1.0))  # d loss / d (2u)
                pair_adjoint_input(r, s, adjoint[start:stop])
        if n:
            grad_w_first[:, 2 * c :].mul_(2.0).sub_(grad_b_first[:, None])
        grad_z_t = [torch.zeros(phi.shape[1], n * c, dtype=x.dtype) for phi in basis.evecs] if n else []
        for b, start, stop in ops.tiles if n else ():
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            grad_rows = op.mm_t_rows(n * start, n * stop, adjoint.view(-1, c)).view(-1, n * c)  # (R, nC)
            grad_z_t[b].addmm_(basis.evecs[b][rows].t(), grad_rows)
        grad_time = torch.zeros_like(time)
        grad_a = [torch.zeros_like(a) if a is not None else None for a in (a_re, a_im)]
        for b, (proj, lam) in enumerate(zip(basis.evecs_mass_t, basis.evals)):
            cp, e, first = ctx.coefs[b], ctx.decay[b], ops.first_rows[b]
            grad_cp = grad_z_u[b] @ w_u  # (K_b, C)
            grad_w_first[:, c : 2 * c].addmm_(grad_z_u[b].t(), cp)
            if n:
                gzt = grad_z_t[b]
                grad_cp.add_(gzt[:, :c])
                for k, a in enumerate(maps):
                    part = gzt[:, (k + 1) * c : (k + 2) * c]  # gradient of c' (2A)^T
                    grad_cp.addmm_(part, a)
                    grad_a[k].addmm_(part.t(), cp, alpha=2.0)
            grad_time.sub_((grad_cp * cp * lam[:, None]).sum(0))
            grad_x[first : first + proj.shape[1]].addmm_(proj.t(), grad_cp.mul_(e))
        if scale != 1.0:
            grad_w = [g.mul_(scale) for g in grad_w]
        grads_linear = [t for pair in zip(grad_w, grad_b) for t in pair]
        return (None, None, grad_x, grad_time, grad_w_first, grad_b_first, grad_a[0], grad_a[1], *grads_linear)


def spectral_block(
    x: torch.Tensor,
    ops: BlockOperators,
    *,
    time: torch.Tensor,
    first_weight: torch.Tensor,
    first_bias: torch.Tensor,
    weight_re: torch.Tensor | None,
    weight_im: torch.Tensor | None,
    linears: Sequence[tuple[torch.Tensor, torch.Tensor]],
    dropout: float = 0.0,
) -> torch.Tensor:
    """``x + MLP([x, u, gradient_features(u)])`` with spectral diffusion, as one tiled autograd node.

    Parameters
    ----------
    x : Tensor, shape (V, C)
        On the CPU.
    ops : BlockOperators
        Its basis must have K_b <= C for every member (the maps are applied in the basis).
    time : Tensor, shape (C,)
        Non-negative diffusion times.
    first_weight : Tensor, shape (H_1, 3C) (or (H_1, 2C) without gradient features)
        The MLP's first layer, reading ``[x, u, features]``.
    first_bias : Tensor, shape (H_1,)
    weight_re, weight_im : Tensor, shape (C, C), or None
        The gradient features' A (``weight_im`` None: A real); both None: no gradient features
        (then ``ops.features`` is ignored).
    linears : sequence of (Tensor (H_{i+1}, H_i), Tensor (H_{i+1},))
        The MLP's further layers, a ReLU (and dropout) before each; the last one outputs C.
    dropout : float
        Drop probability before each of ``linears`` (0: none, e.g. in eval mode).

    Returns
    -------
    Tensor, shape (V, C)
    """
    v, c = x.shape
    if x.device.type != "cpu":
        raise ValueError(f"the tiled block runs on the CPU, got x on {x.device}")
    if v != sum(ops.basis.num_verts):
        raise ValueError(f"x has {v} rows but the batch has {sum(ops.basis.num_verts)} vertices")
    if max(phi.shape[1] for phi in ops.basis.evecs) > c:
        raise ValueError(f"the tiled block needs K_b <= C = {c} for every member")
    with_features = weight_re is not None
    if with_features and ops.features is None:
        raise ValueError("gradient features need BlockOperators built with a gradient")
    if first_weight.shape[1] != (3 if with_features else 2) * c:
        raise ValueError(f"first_weight of shape {tuple(first_weight.shape)} does not read {c} channels x 3 parts")
    if with_features and ops.features.shape[1] != (3 if weight_im is not None else 2) * v:
        raise ValueError("ops.features was built for the other kind of A (real or complex)")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    args = [t for pair in linears for t in pair]
    return _SpectralBlock.apply(ops, float(dropout), x, time, first_weight, first_bias, weight_re,
                                weight_im if with_features else None, *args)
