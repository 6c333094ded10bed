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

__all__ = ["EdgeGeometry", "Weighting", "transport_to_centre"]

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
    cos_theta, sin_theta, cos_alpha, sin_alpha : Tensor, shape (E, max_order)
        ``cos(m theta)`` etc. for m = 1..max_order.
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
    cos_theta: torch.Tensor
    sin_theta: torch.Tensor
    cos_alpha: torch.Tensor
    sin_alpha: torch.Tensor
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
            raise ValueError(f"weighting must be 'mean' or 'mass', got {weighting!r}")
        if max_order < 0:
            raise ValueError(f"max_order must be >= 0, got {max_order}")
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
        return cls(
            centre=src,
            neighbor=dst,
            num_verts=V,
            max_order=max_order,
            cos_theta=torch.cos(mt),
            sin_theta=torch.sin(mt),
            cos_alpha=torch.cos(ma),
            sin_alpha=torch.sin(ma),
            weight=weight,
            rel_length=rel,
            weighting=weighting,
        )

    @property
    def num_edges(self) -> int:
        return int(self.centre.shape[0])

    def to_edge_frame(self, x: torch.Tensor, field_type: FieldType) -> torch.Tensor:
        """Neighbour features in the gauge-invariant edge-aligned frame.

        Parameters
        ----------
        x : Tensor, shape (V, C)

        Returns
        -------
        Tensor, shape (E, C)
            Order-m pairs of ``x[neighbor]`` rotated by ``R(-m alpha)``.
        """
        self._check_order(field_type)
        xq = x[self.neighbor]  # (E, C)
        return rotate_irreps(xq, None, field_type, cos_sin=(self.cos_alpha, -self.sin_alpha))

    def from_edge_frame(self, y: torch.Tensor, field_type: FieldType) -> torch.Tensor:
        """Rotate per-edge features from the edge-aligned frame into the centre's frame.

        Parameters
        ----------
        y : Tensor, shape (E, C)

        Returns
        -------
        Tensor, shape (E, C)
            Order-m pairs rotated by ``R(m theta)``.
        """
        self._check_order(field_type)
        return rotate_irreps(y, None, field_type, cos_sin=(self.cos_theta, self.sin_theta))

    def _check_order(self, field_type: FieldType) -> None:
        if field_type.max_order > self.max_order:
            raise ValueError(
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
