"""Per-edge geometry of one-ring gauge convolutions: frames, transport, weights, lengths.

For the directed edge ``e = p -> q`` (``p = edge_src[e]`` the centre, ``q = edge_dst[e]`` the
neighbour) the convolution needs

* ``theta[e] = edge_angle[e]``: polar angle of the neighbour in the centre's frame (log map),
* the neighbour's features parallel transported into the centre's frame. ``transport[e]`` takes
  the frame of p to the frame of q (a vector at angle ``a`` at p has angle ``a + transport[e]``
  at q), so a vector at angle ``b`` at q has angle ``b - transport[e]`` at p: an order-m pair of
  q is multiplied by ``R(-m transport[e])``,
* ``alpha[e] = theta[e] + transport[e]``: the direction of the edge, pointing away from p,
  expressed in q's frame. ``R(-m alpha)`` applied to q's order-m features gives them in the
  edge-aligned frame, which does not depend on either gauge.

Under a gauge change ``phi`` (V,), ``theta`` becomes ``theta - phi[p]``, ``transport`` becomes
``transport + phi[p] - phi[q]`` and ``alpha`` becomes ``alpha - phi[q]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ...batch import MeshBatch
from .field_type import FieldType, rotate_irreps
from ...errors import ArgumentError

__all__ = ["EdgeGeometry", "Weighting", "transport_to_centre", "gather_rotate", "rotate_scatter"]

Weighting = Literal["mean", "mass"]


@dataclass(frozen=True, eq=False)
class EdgeGeometry:
    """Per-edge quantities shared by every gauge convolution of a network on one batch.

    Attributes
    ----------
    centre, neighbor : Tensor, shape (E,), int64
        ``edge_src`` and ``edge_dst`` of the batch.
    num_verts : int
        V.
    max_order : int
        Largest irrep order the cos/sin tables cover.
    in_phase : Tensor, shape (E, max_order), complex
        ``exp(-i m alpha)``: takes the neighbour's order-m pairs to the edge frame.
    out_phase : Tensor, shape (E, max_order), complex
        ``weight * exp(i m theta)``: takes edge-frame pairs to the centre's frame, weighted.
    weight : Tensor, shape (E,)
        Neighbour weight; sums to 1 over the edges of each centre (0 for no edges).
    rel_length : Tensor, shape (E,)
        Edge length divided by the mean edge length of its mesh (scale invariant).
    weighting : str
    """

    centre: torch.Tensor
    neighbor: torch.Tensor
    num_verts: int
    max_order: int
    in_phase: torch.Tensor
    out_phase: torch.Tensor
    weight: torch.Tensor
    rel_length: torch.Tensor
    weighting: str

    @classmethod
    def from_batch(cls, batch: MeshBatch, *, max_order: int, weighting: Weighting = "mean") -> "EdgeGeometry":
        """Build the tables of ``batch`` for irreps up to ``max_order``.

        Parameters
        ----------
        batch : MeshBatch
        max_order : int
            >= 0.
        weighting : {"mean", "mass"}
            ``"mean"``: every neighbour of p counts ``1 / deg(p)``. ``"mass"``: neighbour q counts
            ``mass[q] / sum of mass over p's neighbours`` (area weighting, less sensitive to
            irregular sampling).
        """
        if weighting not in ("mean", "mass"):
            raise ArgumentError(f"weighting must be 'mean' or 'mass', got {weighting!r}")
        if max_order < 0:
            raise ArgumentError(f"max_order must be >= 0, got {max_order}")
        src, dst = batch.edge_src, batch.edge_dst
        V = batch.total_verts
        theta = batch.edge_angle
        alpha = theta + batch.transport  # (E,)
        m = torch.arange(1, max_order + 1, dtype=theta.dtype, device=theta.device)  # (M,)
        mt, ma = theta[:, None] * m, alpha[:, None] * m  # (E, M)
        if weighting == "mean":
            raw = torch.ones_like(theta)
        else:
            raw = batch.mass[dst]
        total = torch.zeros(V, dtype=theta.dtype, device=theta.device).index_add_(0, src, raw)  # (V,)
        weight = raw / total.clamp_min(torch.finfo(theta.dtype).tiny)[src]
        # mean edge length per mesh
        mesh = batch.vert_to_mesh[src]  # (E,)
        B = batch.num_meshes
        sum_len = torch.zeros(B, dtype=theta.dtype, device=theta.device).index_add_(0, mesh, batch.edge_length)
        cnt = torch.zeros(B, dtype=theta.dtype, device=theta.device).index_add_(0, mesh, torch.ones_like(theta))
        mean_len = sum_len / cnt.clamp_min(1.0)
        rel = batch.edge_length / mean_len[mesh].clamp_min(torch.finfo(theta.dtype).tiny)
        cos_t, sin_t, cos_a, sin_a = torch.cos(mt), torch.sin(mt), torch.cos(ma), torch.sin(ma)
        return cls(
            centre=src,
            neighbor=dst,
            num_verts=V,
            max_order=max_order,
            in_phase=torch.complex(cos_a, -sin_a),
            out_phase=torch.complex(cos_t, sin_t) * weight[:, None],
            weight=weight,
            rel_length=rel,
            weighting=weighting,
        )

    @property
    def num_edges(self) -> int:
        return int(self.centre.shape[0])

    def check_order(self, field_type: FieldType) -> None:
        """Raise ValueError when ``field_type`` has orders beyond the tables."""
        if field_type.max_order > self.max_order:
            raise ArgumentError(
                f"EdgeGeometry built for orders <= {self.max_order}, but {field_type} needs {field_type.max_order}"
            )


def transport_to_centre(x: torch.Tensor, batch: MeshBatch, field_type: FieldType) -> torch.Tensor:
    """Parallel transport each edge's neighbour features into the centre's frame.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    batch : MeshBatch
    field_type : FieldType

    Returns
    -------
    Tensor, shape (E, C)
        ``R(-m transport[e])`` applied to the order-m pairs of ``x[edge_dst[e]]``: the features
        of q expressed in the frame of p (exact discrete Levi-Civita connection).
    """
    field_type.check(x)
    return rotate_irreps(x[batch.edge_dst], -batch.transport, field_type)


# ---------------------------------------------------------------------------------- fused kernels
def _cmul_(blk: torch.Tensor, phase: torch.Tensor) -> None:
    """In place: multiply the pairs of ``blk`` (N, 2n), read as complex numbers, by ``phase`` (N,)."""
    N, n = blk.shape[0], blk.shape[1] // 2
    pairs = blk.view(N, n, 2)  # (N, n, 2)
    if pairs.stride(0) % 2 == 0 and pairs.storage_offset() % 2 == 0:
        torch.view_as_complex(pairs).mul_(phase[:, None])
        return
    a, b = pairs[..., 0], pairs[..., 1]  # (N, n) strided views
    pr, pi = phase.real[:, None], phase.imag[:, None]
    t1, t2 = b * pi, a * pi
    a.mul_(pr).sub_(t1)
    b.mul_(pr).add_(t2)


def _rotate_(z: torch.Tensor, phase0: torch.Tensor | None, phase: torch.Tensor, field_type: FieldType) -> None:
    """In place on a contiguous (N, C): order-0 channels times ``phase0`` (N,) (when given),
    order-m pairs times ``phase[:, m - 1]`` (complex)."""
    n0 = field_type.multiplicities[0]
    if phase0 is not None and n0 > 0:
        z[:, :n0].mul_(phase0[:, None])
    for m in range(1, field_type.max_order + 1):
        if field_type.multiplicities[m] > 0:
            _cmul_(z[:, field_type.slice(m)], phase[:, m - 1])


def _gather_rotate_impl(x, index, phase0, phase, field_type):
    z = x.index_select(0, index)  # (E, C) contiguous copy
    _rotate_(z, phase0, phase, field_type)
    return z


def _rotate_scatter_impl(y, index, phase0, phase, field_type, num_rows, overwrite=False):
    z = y if overwrite and y.is_contiguous() else y.contiguous().clone()  # (E, C)
    _rotate_(z, phase0, phase, field_type)
    return y.new_zeros(num_rows, y.shape[1]).index_add_(0, index, z)  # (N, C)


def _conj(p0: torch.Tensor | None, p: torch.Tensor) -> tuple:
    return p0, p.conj().resolve_conj()


class _GatherRotate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, index, phase0, phase, field_type):
        ctx.save_for_backward(index, phase0, phase)
        ctx.field_type, ctx.num_rows = field_type, x.shape[0]
        return _gather_rotate_impl(x, index, phase0, phase, field_type)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        index, phase0, phase = ctx.saved_tensors
        gx = None
        if ctx.needs_input_grad[0]:
            p0, p = _conj(phase0, phase)
            gx = _rotate_scatter_impl(g, index, p0, p, ctx.field_type, ctx.num_rows)
        return gx, None, None, None, None


class _RotateScatter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, index, phase0, phase, field_type, num_rows, overwrite):
        ctx.save_for_backward(index, phase0, phase)
        ctx.field_type = field_type
        return _rotate_scatter_impl(y, index, phase0, phase, field_type, num_rows, overwrite)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        index, phase0, phase = ctx.saved_tensors
        gy = None
        if ctx.needs_input_grad[0]:
            p0, p = _conj(phase0, phase)
            gy = _gather_rotate_impl(g.contiguous(), index, p0, p, ctx.field_type)
        return gy, None, None, None, None, None, None


def _check_phases(x, index, phase0, phase, field_type, what):
    field_type.check(x, what)
    if field_type.max_order > 0 and (phase.dim() != 2 or phase.shape[1] < field_type.max_order):
        raise ArgumentError(f"phase must have shape (E, >= {field_type.max_order}), got {tuple(phase.shape)}")
    if phase.shape[0] != index.shape[0] or (phase0 is not None and phase0.shape != index.shape):
        raise ArgumentError("index, phase0 and phase must have the same number of rows E")
    if not phase.is_complex():
        raise ArgumentError(f"phase must be complex, got {phase.dtype}")
    if phase.real.dtype != x.dtype or (phase0 is not None and phase0.dtype != x.dtype):
        raise ArgumentError(
            f"{what} is {x.dtype} but the phases are {phase.dtype}: build the batch / EdgeGeometry in the layer's dtype"
        )


def gather_rotate(
    x: torch.Tensor, index: torch.Tensor, phase0: torch.Tensor | None, phase: torch.Tensor, field_type: FieldType
) -> torch.Tensor:
    """Rows ``x[index]`` with order-0 channels scaled by ``phase0`` and order-m pairs multiplied by
    the complex ``phase[:, m - 1]`` (fused, memory-lean autograd: saves only index and phases).

    Parameters
    ----------
    x : Tensor, shape (N, C), real
    index : Tensor, shape (E,), int64
    phase0 : Tensor, shape (E,), real, or None (= 1)
    phase : Tensor, shape (E, >= M), complex (matching precision)
    field_type : FieldType

    Returns
    -------
    Tensor, shape (E, C)
        Its adjoint is :func:`rotate_scatter` with the conjugate phases.
    """
    _check_phases(x, index, phase0, phase, field_type, "x")
    return _GatherRotate.apply(x, index, phase0, phase, field_type)


def rotate_scatter(
    y: torch.Tensor,
    index: torch.Tensor,
    phase0: torch.Tensor | None,
    phase: torch.Tensor,
    field_type: FieldType,
    num_rows: int,
    *,
    overwrite_input: bool = False,
) -> torch.Tensor:
    """``out[index[e]] += rotate(y[e])``: rotate as in :func:`gather_rotate`, then scatter-add.

    Parameters
    ----------
    y : Tensor, shape (E, C), real
    index : Tensor, shape (E,), int64
    phase0 : Tensor, shape (E,), or None
    phase : Tensor, shape (E, >= M), complex
    field_type : FieldType
    num_rows : int
        N.
    overwrite_input : bool
        Rotate ``y`` in place instead of a copy (saves one (E, C) pass). Only for a temporary
        that nothing else reads and autograd does not save (e.g. a matmul output).

    Returns
    -------
    Tensor, shape (N, C)
    """
    _check_phases(y, index, phase0, phase, field_type, "y")
    return _RotateScatter.apply(y, index, phase0, phase, field_type, num_rows, bool(overwrite_input))
