"""GaugeConv: gauge-equivariant convolution over one-ring neighbourhoods (GEM-CNN style)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...batch import MeshBatch
from .field_type import FieldType
from .kernels import radial_basis, self_kernel
from .transport import EdgeGeometry, Weighting, gather_rotate, rotate_scatter
from ...errors import ArgumentError

__all__ = ["GaugeConv"]


class GaugeConv(nn.Module):
    """Gauge-equivariant one-ring convolution.

    For each vertex p with neighbours q (directed edges ``p -> q``)::

        out[p] = sum_q w_pq sum_r phi_r(l_pq) K_r(theta_pq) T_qp x[q] + S x[p] + bias

    * ``T_qp``: exact discrete Levi-Civita transport of q's features into p's frame
      (order-m pairs rotated by ``-m * transport[p -> q]``),
    * ``theta_pq = edge_angle[p -> q]``: polar angle of q in p's frame,
    * ``K_r(theta) = rho_out(theta) W_r rho_in(-theta)``: the complete solution of the
      equivariance constraint (see :mod:`~geodesic_nets.nn.gauge.kernels`), one unconstrained
      real matrix ``W_r`` per radial profile,
    * ``phi_r``: radial profiles of the edge length relative to its mesh's mean edge length
      (:func:`~geodesic_nets.nn.gauge.radial_basis`),
    * ``w_pq``: neighbour weights (``weighting``: ``"mean"`` 1/deg(p) or ``"mass"`` area weights),
    * ``S``: self-interaction, the rho = 0 kernel: complex multiplication within each order,
    * ``bias``: on order-0 output channels only (a bias on a rotating pair breaks equivariance).

    Implementation: neighbour features are gathered and rotated into the edge-aligned frame
    (gauge invariant) in one fused step (:func:`gather_rotate`), expanded by the radial
    profiles, multiplied by one dense ``(R C_in, C_out)`` matrix, then weighted, rotated back by
    ``theta`` and scatter-added to the centres in one fused step (:func:`rotate_scatter`, the
    adjoint of the first). Memory saved for backward: the (E, R C_in) edge features only; no
    per-edge kernel matrices.

    Parameters
    ----------
    in_type, out_type : FieldType
    n_radial : int
        Number of radial profiles R (1: angular kernel only).
    weighting : {"mean", "mass"}
    self_interaction : bool
    bias : bool
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        *,
        n_radial: int = 1,
        weighting: Weighting = "mean",
        self_interaction: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        if not isinstance(in_type, FieldType) or not isinstance(out_type, FieldType):
            raise ArgumentError("in_type and out_type must be FieldType instances")
        if weighting not in ("mean", "mass"):
            raise ArgumentError(f"weighting must be 'mean' or 'mass', got {weighting!r}")
        if n_radial < 1:
            raise ArgumentError(f"n_radial must be >= 1, got {n_radial}")
        self.in_type, self.out_type = in_type, out_type
        self.n_radial, self.weighting = int(n_radial), weighting
        self.max_order = max(in_type.max_order, out_type.max_order)
        fan_in = n_radial * in_type.dim + (in_type.dim if self_interaction else 0)
        std = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.randn(n_radial * in_type.dim, out_type.dim) * std)  # (R C_in, C_out)
        self.self_params = nn.ParameterDict()
        if self_interaction:
            for m in range(min(in_type.max_order, out_type.max_order) + 1):
                n_in, n_out = in_type.multiplicities[m], out_type.multiplicities[m]
                if n_in == 0 or n_out == 0:
                    continue
                shape = (n_out, n_in) if m == 0 else (2, n_out, n_in)
                self.self_params[str(m)] = nn.Parameter(torch.randn(shape) * std)
        n0 = out_type.multiplicities[0]
        self.bias = nn.Parameter(torch.zeros(n0)) if bias and n0 > 0 else None

    def geometry(self, batch: MeshBatch) -> EdgeGeometry:
        """The :class:`EdgeGeometry` this layer needs (share one between layers of a network)."""
        return EdgeGeometry.from_batch(batch, max_order=self.max_order, weighting=self.weighting)

    def self_matrix(self) -> torch.Tensor | None:
        """Self-interaction matrix S, shape (C_out, C_in), or None."""
        if len(self.self_params) == 0:
            return None
        return self_kernel({int(k): v for k, v in self.self_params.items()}, self.in_type, self.out_type)

    def forward(self, x: torch.Tensor, batch: MeshBatch, geometry: EdgeGeometry | None = None) -> torch.Tensor:
        """Apply the convolution.

        Parameters
        ----------
        x : Tensor, shape (V, C_in)
            Features of type ``in_type`` in the batch's gauge.
        batch : MeshBatch
        geometry : EdgeGeometry, optional
            Precomputed for this batch (built with ``weighting`` and orders >= this layer's).

        Returns
        -------
        Tensor, shape (V, C_out)
        """
        self.in_type.check(x)
        if geometry is None:
            geometry = self.geometry(batch)
        elif geometry.weighting != self.weighting:
            raise ArgumentError(f"geometry uses weighting {geometry.weighting!r}, this layer {self.weighting!r}")
        geometry.check_order(self.in_type)
        geometry.check_order(self.out_type)
        V, E = x.shape[0], geometry.num_edges
        if V != geometry.num_verts:
            raise ArgumentError(f"x has {V} rows but the batch has {geometry.num_verts} vertices")
        u = gather_rotate(x, geometry.neighbor, None, geometry.in_phase, self.in_type)  # (E, C_in), edge frame
        if self.n_radial > 1:
            rad = radial_basis(geometry.rel_length, self.n_radial).to(u.dtype)  # (E, R)
            u = (rad[:, :, None] * u[:, None, :]).reshape(E, -1)  # (E, R C_in)
        y = u @ self.weight  # (E, C_out), edge frame
        # weighted, rotated by m theta into the centre's frame, summed over each centre's edges
        out = rotate_scatter(
            y, geometry.centre, geometry.weight, geometry.out_phase, self.out_type, V, overwrite_input=True
        )  # (V, C_out); y is a matmul output nothing else reads
        S = self.self_matrix()
        if S is not None:
            out = torch.addmm(out, x, S.T)  # self-interaction (rho = 0 kernel)
        if self.bias is not None:
            sl = self.out_type.slice(0)
            out = torch.cat((out[:, sl] + self.bias, out[:, sl.stop :]), dim=1)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_type} -> {self.out_type}, n_radial={self.n_radial}, weighting={self.weighting!r}"
