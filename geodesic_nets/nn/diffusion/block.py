"""The DiffusionNet block with spectral diffusion as one autograd function, tiled over vertices.

The block computes ``x + MLP([x, u, gradient_features(u)])`` with ``u = Phi c'`` the diffused
features, ``c' = exp(-Lambda t) Phi^T M x`` their (K, C) spectral coefficients (per mesh). Written
as one function with a hand-made backward, it differs from the composition of the layers in ways
that do not change what it computes (up to rounding):

1. **Channel maps in the basis.** The MLP's first layer needs ``u W_u^T`` (W_u: its columns that
   read u) and the gradient features need ``P = u Re A^T`` and ``Q = u Im A^T``. All are computed
   from the coefficients: ``u W_u^T = Phi (c' W_u^T)`` and ``[u | P | Q] = Phi [c' | c' Re A^T |
   c' Im A^T]``. With K <= C the forward costs the same, and the backward needs one (K, V) x
   (V, .) GEMM per map (``Phi^T grad``) instead of two (V, C)-sized GEMMs (the map's input and
   weight gradients); the weight gradients ``(Phi^T grad)^T c'`` are (K, C)-sized. Per block,
   V-sized GEMMs drop from 27 to 22 units of V C^2 (forward 9, backward 13).
2. **One sparse operator for the gradient features.** The table ``T = [u | P | Q]`` (V, 3C) goes
   through the (4V, 3V) operator of :func:`~geodesic_nets.nn.diffusion.gradient_features.gradient_feature_operator`
   (``r = H T`` gives the gradients and their mixing at once), and the backward through ``H^T``.
   ``tanh(u) = 2 sigmoid(2u) - 1``: the table holds 2P and 2Q, and the first layer reads
   ``sigmoid`` with weight ``2 W_f`` and bias ``b - W_f 1`` (three elementwise passes fewer).
3. **The network's first and last linear layers folded in.** A block may read its input through
   a linear map ``x = x_in W_in^T + b_in`` of a narrower input (DiffusionNet's first layer,
   C_in = 16) and write its output through one, ``out W_out^T + b_out`` (the last layer): the
   V-sized products then involve x_in (C_in columns) or the output (C_out columns), never x.
   That removes about 8 of the network's ~88 units.
4. **Tiles of rows.** Everything per vertex (the sparse rows, the sigmoid, the MLP with its ReLU
   and dropout, the residual) runs on tiles of ``ROWS_PER_TILE`` vertices of one mesh.
   Temporaries are tile-sized: they stay in cache, and on the CPU they do not cost fresh pages.
   Every (V, C)-sized allocation above glibc's mmap threshold (32 MB: 65k vertices at C = 128) is
   mapped and zero-filled by the kernel anew, ~6x the cost of writing it; the composed layers
   allocate about a hundred per step. Only the saved activations and the input gradient are
   allocated at full size here.

The small parameter algebra of 1-3 (``2 A``, ``W_x W_in``, ``W_out W_L``, dropout's 1 / keep_prob
in the next weight, ...) runs in ordinary autograd outside the function (:func:`spectral_block`),
which itself computes a generic tiled block (:class:`_TiledBlock`).

What the backward keeps per block: the input x_in, the table T (V, 3C) and the MLP's hidden
activations (V, H_i) after ReLU and dropout (their positive entries give the ReLU and dropout
masks). The features and every pre-activation are recomputed tile by tile; ``H T`` once more (one
sparse product). The backward's one full-size temporary, ``s [r_2, r_3, r_0, r_1]`` of shape
(V, 4, C), lives in :attr:`BlockOperators.scratch`, shared by the blocks of a network.

Dropout draws its masks from :class:`~geodesic_nets.nn.mlp.KeepMaskStream` in tile order, which
gives the very masks the composed layers draw (same generator state, same order of layers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from ...batch import MeshBatch
from ..mlp import KeepMaskStream, keep_probability, relu_dropout_into
from ..sparse import CsrOperator
from .gradient_features import batch_feature_operator, gradient_feature_operator, pair_adjoint_input
from .learned import SpectralBasis
from ...errors import ArgumentError

__all__ = ["ROWS_PER_TILE", "BlockOperators", "spectral_block"]

ROWS_PER_TILE = 2048  # (2048, 128) float32 tiles: 1 MB, cache-resident

Linear = tuple[torch.Tensor, torch.Tensor]  # (weight (out, in), bias (out,))


@dataclass(frozen=True, eq=False)
class BlockOperators:
    """What tiled blocks need from a batch, prepared once per forward and shared by the blocks.

    Attributes
    ----------
    basis : SpectralBasis
    features : CsrOperator, shape (4V, nV), or None
        :func:`~geodesic_nets.nn.diffusion.gradient_features.gradient_feature_operator` (None: blocks
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
            :func:`~geodesic_nets.nn.diffusion.gradient_features.stacked_gradient`; None for blocks
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
            raise ArgumentError(f"rows_per_tile must be >= 1, got {rows_per_tile}")
        first, tiles = [], []
        start = 0
        for b, n in enumerate(basis.num_verts):
            first.append(start)
            tiles += [(b, a, min(a + rows_per_tile, start + n)) for a in range(start, start + n, rows_per_tile)]
            start += n
        return cls(basis, features, tuple(tiles), tuple(first))


def _sigmoid_pairs(r: torch.Tensor) -> torch.Tensor:
    """``sigmoid(r_0 r_2 + r_1 r_3)`` of ``r = H T`` viewed (R, 4, C); returns (R, C)."""
    return torch.mul(r[:, 0], r[:, 2]).addcmul_(r[:, 1], r[:, 3]).sigmoid_()


class _TiledBlock(torch.autograd.Function):
    """The generic tiled block; shapes for an input x_in (V, C_in) and C diffused channels.

    Per member b: ``c = exp(-lam_b t) * (Phi_b^T M_b x)`` (K_b, C) with ``x = x_in P^T + 1 p^T``
    (``proj_map`` P (C, C_in), ``proj_bias`` p (C,); None: x = x_in). The table
    ``T = Phi [c | c M_1^T | c M_2^T]`` (V, nC) (``maps`` M_k (C, C); n = 1 + len(maps), none
    without features). Per tile of rows:

        z_1 = Phi (c W_u^T) + x_in W_x^T + sigmoid(r_0 r_2 + r_1 r_3) W_f^T + b_1,   r = H T
        h_i = relu(z_i * keep_i),  z_{i+1} = h_i W_{i+1}^T + b_{i+1}   (the ``linears``)
        out = z_last + x_in R^T   (``residual`` R (C_out, C_in); None: + x_in)

    Inputs after ``dropout``, the number of maps and ``training`` (whether a backward may follow,
    else nothing is kept): x_in, time, proj_map, proj_bias, w_u, w_x, w_f, b_1, residual, then the
    maps and the linears' (weight, bias) pairs, flattened.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, ops, dropout, n_maps, training, x_in, time, proj_map, proj_bias, w_u, w_x, w_f, b_1, residual, *rest
    ):
        basis, op = ops.basis, ops.features
        maps, linears = rest[:n_maps], rest[n_maps:]
        weights, biases = linears[0::2], linears[1::2]
        v = x_in.shape[0]
        c = time.shape[0]
        n = 1 + n_maps if w_f is not None else 0  # table blocks
        coefs, decay, proj_x, z_u, z_t = [], [], [], [], []
        for b, (phi, proj, lam) in enumerate(zip(basis.evecs, basis.evecs_mass_t, basis.evals)):
            first = ops.first_rows[b]
            px = proj @ x_in[first : first + phi.shape[0]]  # (K_b, C_in)
            cp = px if proj_map is None else px @ proj_map.t()  # (K_b, C)
            if proj_bias is not None:
                cp = cp.addr(proj.sum(1), proj_bias)
            e = torch.exp(-lam[:, None] * time[None, :])  # (K_b, C)
            cp = cp * e
            coefs.append(cp)
            decay.append(e)
            proj_x.append(px)
            z_u.append(cp @ w_u.t())  # (K_b, H_1)
            if n:
                z_t.append(torch.cat([cp] + [cp @ m.t() for m in maps], 1))  # (K_b, nC)
        table = None
        if n:
            table = torch.empty(v, n * c, dtype=x_in.dtype)
            for b, (phi, zt) in enumerate(zip(basis.evecs, z_t)):
                first = ops.first_rows[b]
                torch.mm(phi, zt, out=table[first : first + phi.shape[0]])
        # Without a backward to come (no grad mode), the activations stay tile-sized.
        hidden = [torch.empty(v, w.shape[1], dtype=x_in.dtype) if training else None for w in weights]  # (V, H_i)
        c_out = weights[-1].shape[0] if weights else w_u.shape[0]
        out = torch.empty(v, c_out, dtype=x_in.dtype)
        streams = [KeepMaskStream(dropout, device=x_in.device) for _ in weights] if dropout > 0 else []
        for b, start, stop in ops.tiles:
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            z = torch.mm(basis.evecs[b][rows], z_u[b]).addmm_(x_in[start:stop], w_x.t())  # (R, H_1)
            if n:
                r = op.mm_rows(4 * start, 4 * stop, table.view(-1, c)).view(-1, 4, c)
                z.addmm_(_sigmoid_pairs(r), w_f.t())
            z.add_(b_1)
            for i, (w, bias) in enumerate(zip(weights, biases)):
                keep = streams[i].next(z.shape) if streams else None
                h = relu_dropout_into(z, keep, 1.0, hidden[i][start:stop] if training else z)
                z = torch.addmm(bias, h, w.t())  # (R, H_{i+1})
            if residual is None:
                torch.add(z, x_in[start:stop], out=out[start:stop])
            else:
                torch.addmm(z, x_in[start:stop], residual.t(), out=out[start:stop])
        ctx.ops, ctx.n, ctx.n_maps, ctx.n_linears = ops, n, n_maps, len(weights)
        ctx.coefs, ctx.decay, ctx.proj_x = coefs, decay, proj_x
        if training:
            ctx.save_for_backward(x_in, time, proj_map, proj_bias, w_u, w_x, w_f, residual, table, *maps, *weights,
                                  *hidden)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        ops, n = ctx.ops, ctx.n
        basis, op = ops.basis, ops.features
        x_in, time, proj_map, proj_bias, w_u, w_x, w_f, residual, table, *rest = ctx.saved_tensors
        maps, rest = rest[: ctx.n_maps], rest[ctx.n_maps :]
        weights, hidden = rest[: ctx.n_linears], rest[ctx.n_linears :]
        need_x = ctx.needs_input_grad[4]
        v, c = x_in.shape[0], time.shape[0]
        grad_out = grad_out.contiguous()
        zeros = torch.zeros_like
        grad_x = torch.empty_like(x_in) if need_x else None
        grad_w_u, grad_w_x = zeros(w_u), zeros(w_x)
        grad_w_f = zeros(w_f) if w_f is not None else None
        grad_b_1 = torch.zeros(w_u.shape[0], dtype=x_in.dtype)
        grad_res = zeros(residual) if residual is not None else None
        grad_w = [zeros(w) for w in weights]
        grad_b = [torch.zeros(w.shape[0], dtype=x_in.dtype) for w in weights]
        grad_z_u = [torch.zeros(phi.shape[1], w_u.shape[0], dtype=x_in.dtype) for phi in basis.evecs]
        adjoint = None
        if n:
            key = ("pair_adjoint", x_in.dtype, c)
            if key not in ops.scratch or ops.scratch[key].shape[0] != v:
                ops.scratch[key] = torch.empty(v, 4, c, dtype=x_in.dtype)
            adjoint = ops.scratch[key]  # s [r_2, r_3, r_0, r_1], s = d loss / d (r_0 r_2 + r_1 r_3)
        for b, start, stop in ops.tiles:
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            g = grad_out[start:stop]  # (R, C_out)
            xt = x_in[start:stop]
            if residual is not None:
                grad_res.addmm_(g.t(), xt)
            if need_x:  # through the residual
                if residual is None:
                    grad_x[start:stop] = g
                else:
                    torch.mm(g, residual, out=grad_x[start:stop])
            for i in reversed(range(len(weights))):
                h = hidden[i][start:stop]
                grad_w[i].addmm_(g.t(), h)
                grad_b[i].add_(g.sum(0))
                g = torch.ops.aten.threshold_backward(g @ weights[i], h, 0)  # where relu and dropout kept
            # g: gradient of z_1, (R, H_1)
            grad_b_1.add_(g.sum(0))
            grad_w_x.addmm_(g.t(), xt)
            grad_z_u[b].addmm_(basis.evecs[b][rows].t(), g)
            if need_x:
                grad_x[start:stop].addmm_(g, w_x)
            if n:
                r = op.mm_rows(4 * start, 4 * stop, table.view(-1, c)).view(-1, 4, c)
                sig = _sigmoid_pairs(r)
                grad_w_f.addmm_(g.t(), sig)
                s = torch.mm(g, w_f).mul_(torch.addcmul(sig, sig, sig, value=-1.0))  # d loss / d (r_0 r_2 + r_1 r_3)
                pair_adjoint_input(r, s, adjoint[start:stop])
        grad_z_t = [torch.zeros(phi.shape[1], n * c, dtype=x_in.dtype) for phi in basis.evecs] if n else []
        for b, start, stop in ops.tiles if n else ():
            rows = slice(start - ops.first_rows[b], stop - ops.first_rows[b])
            grad_rows = op.mm_t_rows(n * start, n * stop, adjoint.view(-1, c)).view(-1, n * c)  # (R, nC)
            grad_z_t[b].addmm_(basis.evecs[b][rows].t(), grad_rows)
        grad_time = zeros(time)
        grad_maps = [zeros(m) for m in maps]
        grad_proj_map = zeros(proj_map) if proj_map is not None else None
        grad_proj_bias = zeros(proj_bias) if proj_bias is not None else None
        for b, (proj, lam) in enumerate(zip(basis.evecs_mass_t, basis.evals)):
            cp, e, first = ctx.coefs[b], ctx.decay[b], ops.first_rows[b]
            grad_cp = grad_z_u[b] @ w_u  # (K_b, C)
            grad_w_u.addmm_(grad_z_u[b].t(), cp)
            if n:
                gzt = grad_z_t[b]
                grad_cp.add_(gzt[:, :c])
                for k, m in enumerate(maps):
                    part = gzt[:, (k + 1) * c : (k + 2) * c]  # gradient of c M_k^T
                    grad_cp.addmm_(part, m)
                    grad_maps[k].addmm_(part.t(), cp)
            grad_time.sub_((grad_cp * cp * lam[:, None]).sum(0))
            grad_c = grad_cp.mul_(e)  # gradient of the projection (before the decay), (K_b, C)
            if proj_map is not None:
                grad_proj_map.addmm_(grad_c.t(), ctx.proj_x[b])
            if proj_bias is not None:
                grad_proj_bias.add_(grad_c.t() @ proj.sum(1))
            if need_x:
                grad_px = grad_c if proj_map is None else grad_c @ proj_map  # (K_b, C_in)
                grad_x[first : first + proj.shape[1]].addmm_(proj.t(), grad_px)
        grads_linear = [t for pair in zip(grad_w, grad_b) for t in pair]
        return (None, None, None, None, grad_x, grad_time, grad_proj_map, grad_proj_bias, grad_w_u, grad_w_x, grad_w_f,
                grad_b_1, grad_res, *grad_maps, *grads_linear)


def spectral_block(
    x: torch.Tensor,
    ops: BlockOperators,
    *,
    time: torch.Tensor,
    first_weight: torch.Tensor,
    first_bias: torch.Tensor,
    weight_re: torch.Tensor | None,
    weight_im: torch.Tensor | None,
    linears: Sequence[Linear],
    dropout: float = 0.0,
    input_linear: Linear | None = None,
    output_linear: Linear | None = None,
) -> torch.Tensor:
    """``x + MLP([x, u, gradient_features(u)])`` with spectral diffusion, as one tiled autograd node.

    Parameters
    ----------
    x : Tensor, shape (V, C) (or (V, C_in) with ``input_linear``)
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
    input_linear : (Tensor (C, C_in), Tensor (C,)), optional
        The block's input is ``x W^T + b`` (x then has C_in columns).
    output_linear : (Tensor (C_out, C), Tensor (C_out,)), optional
        The block returns ``out W^T + b``.

    Returns
    -------
    Tensor, shape (V, C) (or (V, C_out) with ``output_linear``)
    """
    c = time.shape[0]
    _check_block(x, ops, c, first_weight, weight_re, weight_im, dropout, input_linear)
    w_x, w_u = first_weight[:, :c], first_weight[:, c : 2 * c]  # (H_1, C)
    b_1 = first_bias
    w_f = maps = None
    if weight_re is not None:  # tanh(u) = 2 sigmoid(2u) - 1: the table holds 2P, 2Q; the layer reads sigmoid
        w_f = first_weight[:, 2 * c :]
        b_1 = b_1 - w_f.sum(1)
        w_f = 2.0 * w_f
        maps = [2.0 * weight_re] + ([2.0 * weight_im] if weight_im is not None else [])
    proj_map = proj_bias = residual = None
    if input_linear is not None:  # x = x_in W_in^T + b_in
        w_in, b_in = input_linear
        proj_map, proj_bias = w_in, b_in
        b_1 = b_1 + w_x @ b_in
        w_x = w_x @ w_in  # (H_1, C_in)
        residual = w_in
    scale = 1.0 / keep_probability(dropout) if dropout > 0 else 1.0
    layers = [(w * scale, bias) for w, bias in linears]  # dropout's 1 / keep_prob in the next weight
    residual_bias = None if input_linear is None else input_linear[1]
    if output_linear is not None:  # out W_o^T + b_o, folded into the last layer and the residual
        w_o, b_o = output_linear
        residual = w_o if residual is None else w_o @ residual
        bias_o = b_o if residual_bias is None else b_o + w_o @ residual_bias
        if layers:
            w_l, b_l = layers[-1]
            layers[-1] = (w_o @ w_l, w_o @ b_l + bias_o)
        else:  # the first layer is the last one
            w_u, w_x, b_1 = w_o @ w_u, w_o @ w_x, w_o @ b_1 + bias_o
            w_f = w_o @ w_f if w_f is not None else None
        residual_bias = None
    if residual_bias is not None:  # x's bias reaches the output through the residual
        if layers:
            layers[-1] = (layers[-1][0], layers[-1][1] + residual_bias)
        else:
            b_1 = b_1 + residual_bias
    args = [*(maps or []), *(t for pair in layers for t in pair)]
    training = torch.is_grad_enabled()
    return _TiledBlock.apply(ops, float(dropout), len(maps or []), training, x, time, proj_map, proj_bias,
                             w_u, w_x, w_f, b_1, residual, *args)


def _check_block(x, ops, c, first_weight, weight_re, weight_im, dropout, input_linear) -> None:
    v = x.shape[0]
    if x.device.type != "cpu":
        raise ArgumentError(f"the tiled block runs on the CPU, got x on {x.device}")
    if v != sum(ops.basis.num_verts):
        raise ArgumentError(f"x has {v} rows but the batch has {sum(ops.basis.num_verts)} vertices")
    if max(phi.shape[1] for phi in ops.basis.evecs) > c:
        raise ArgumentError(f"the tiled block needs K_b <= C = {c} for every member")
    c_in = input_linear[0].shape[1] if input_linear is not None else c
    if x.dim() != 2 or x.shape[1] != c_in:
        raise ArgumentError(f"expected x of shape (V, {c_in}), got {tuple(x.shape)}")
    with_features = weight_re is not None
    if with_features and ops.features is None:
        raise ArgumentError("gradient features need BlockOperators built with a gradient")
    if first_weight.shape[1] != (3 if with_features else 2) * c:
        raise ArgumentError(f"first_weight of shape {tuple(first_weight.shape)} does not read {c} channels x 3 parts")
    if with_features and ops.features.shape[1] != (3 if weight_im is not None else 2) * v:
        raise ArgumentError("ops.features was built for the other kind of A (real or complex)")
    if not 0.0 <= dropout < 1.0:
        raise ArgumentError(f"dropout must be in [0, 1), got {dropout}")
