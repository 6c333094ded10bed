"""GaugeEquivariantNet: scalar inputs -> gauge-equivariant convolutions -> invariant outputs."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ...batch import MeshBatch
from .conv import GaugeConv
from .field_type import FieldType
from .nonlinearity import Activation, NormNonlinearity, RegularNonlinearity
from ..pooling import global_mean_pool
from .pooling import to_scalars
from .transport import EdgeGeometry, Weighting
from ...errors import ArgumentError

__all__ = ["GaugeEquivariantNet"]


class GaugeEquivariantNet(nn.Module):
    """A GEM-CNN style network.

    ``in_type -> [GaugeConv -> nonlinearity] x n_layers -> invariants [-> Linear -> ReLU ->
    dropout] -> Linear``; layers after
    the first are residual (``x + block(x)``, equivariant since the type is unchanged). The
    invariants are the order-0 channels and the norms of the higher-order pairs
    (:func:`to_scalars`); with ``outputs="global"`` they are mass-averaged per mesh before the
    final linear map. The per-edge tables (:class:`EdgeGeometry`) are built once per forward and
    shared by all layers.

    Parameters
    ----------
    in_type : FieldType
        Usually scalars (e.g. ``FieldType.scalars(16)`` for 16 HKS channels).
    hidden_type : FieldType
        Regular (equal multiplicities) when ``nonlinearity="regular"``.
    out_channels : int
    n_layers : int
        Number of convolutions, >= 1.
    outputs : {"vertices", "global"}
        Per-vertex (V, out_channels) or per-mesh (B, out_channels) outputs.
    nonlinearity : {"regular", "norm"}
        ``"regular"``: :class:`RegularNonlinearity` (approximately equivariant);
        ``"norm"``: :class:`NormNonlinearity` (exact).
    n_samples : int, optional
        N of the regular nonlinearity.
    activation : {"relu", "elu", "gelu"}
    n_radial : int
    weighting : {"mean", "mass"}
    head_hidden : int, optional
        Width of a hidden layer between the invariants and the final linear map (after any
        pooling), with ReLU and dropout, as in GEM-CNN's FAUST network (256); ``None``: none.
    head_dropout : float
        Dropout probability of that hidden layer (training only).
    """

    def __init__(
        self,
        in_type: FieldType,
        hidden_type: FieldType,
        out_channels: int,
        *,
        n_layers: int = 4,
        outputs: Literal["vertices", "global"] = "vertices",
        nonlinearity: Literal["regular", "norm"] = "regular",
        n_samples: int | None = None,
        activation: Activation = "relu",
        n_radial: int = 1,
        weighting: Weighting = "mean",
        head_hidden: int | None = None,
        head_dropout: float = 0.5,
    ):
        super().__init__()
        if outputs not in ("vertices", "global"):
            raise ArgumentError(f"outputs must be 'vertices' or 'global', got {outputs!r}")
        if nonlinearity not in ("regular", "norm"):
            raise ArgumentError(f"nonlinearity must be 'regular' or 'norm', got {nonlinearity!r}")
        if n_layers < 1:
            raise ArgumentError(f"n_layers must be >= 1, got {n_layers}")
        if out_channels < 1:
            raise ArgumentError(f"out_channels must be >= 1, got {out_channels}")
        if head_hidden is not None and (isinstance(head_hidden, bool) or not isinstance(head_hidden, int)
                                        or head_hidden < 1):
            raise ArgumentError(f"head_hidden must be a positive int or None, got {head_hidden!r}")
        if not 0.0 <= head_dropout < 1.0:
            raise ArgumentError(f"head_dropout must be in [0, 1), got {head_dropout}")
        self.in_type, self.hidden_type, self.outputs = in_type, hidden_type, outputs
        self.weighting = weighting
        self.convs = nn.ModuleList()
        self.nonlins = nn.ModuleList()
        t = in_type
        for _ in range(n_layers):
            self.convs.append(GaugeConv(t, hidden_type, n_radial=n_radial, weighting=weighting))
            if nonlinearity == "regular":
                self.nonlins.append(RegularNonlinearity(hidden_type, n_samples=n_samples, activation=activation))
            else:
                self.nonlins.append(NormNonlinearity(hidden_type, activation=activation))
            t = hidden_type
        self.max_order = max(in_type.max_order, hidden_type.max_order)
        if head_hidden is None:
            self.hidden = None
            self.head = nn.Linear(hidden_type.num_scalars, out_channels)
        else:
            self.hidden = nn.Sequential(nn.Linear(hidden_type.num_scalars, head_hidden), nn.ReLU(),
                                        nn.Dropout(head_dropout))
            self.head = nn.Linear(head_hidden, out_channels)

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """x : Tensor, shape (V, in_type.dim) -> Tensor, shape (V, out) or (B, out)."""
        return self.head(self.features(x, batch))

    def features(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """The input of the final linear layer ``head``: the invariants, shape (V, S) or (B, S)
        (after the hidden layer, shape (V, head_hidden) or (B, head_hidden), when there is one).

        ``forward(x, batch) == head(features(x, batch))``; a caller that fuses the head with its
        loss (:func:`~geodesic_nets.nn.linear_cross_entropy`) calls this instead of ``forward``.
        """
        geo = EdgeGeometry.from_batch(batch, max_order=self.max_order, weighting=self.weighting)
        h = x
        for i, (conv, nl) in enumerate(zip(self.convs, self.nonlins)):
            y = nl(conv(h, batch, geo))
            h = y if i == 0 else h + y
        s = to_scalars(h, self.hidden_type)  # (V, S)
        if self.outputs == "global":
            s = global_mean_pool(s, batch)  # (B, S)
        return s if self.hidden is None else self.hidden(s)
