"""A small residual network of patch convolutions (GCNN, ACNN or MoNet)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from ...batch import MeshBatch
from ..pooling import global_mean_pool
from .acnn import ACNNConv
from .gcnn import GCNNConv
from .monet import MoNetConv
from .patch_operator import PatchGather
from ...errors import ArgumentError

__all__ = ["PatchNet"]

Kind = Literal["gcnn", "acnn", "monet"]
Outputs = Literal["vertices", "global"]
_LAYERS = {"gcnn": GCNNConv, "acnn": ACNNConv, "monet": MoNetConv}


class PatchNet(nn.Module):
    """Linear lift, ``n_layers`` residual patch convolutions, linear read-out.

    ``h = relu(lin_in(x)); h = h + relu(conv_l(h)) for each layer; out = lin_out(h)``, with the
    mass-weighted mean over each mesh before ``lin_out`` when ``outputs="global"``. The patch
    view (:class:`PatchGather`) is built once per forward and shared by the layers.

    Parameters
    ----------
    kind : {"gcnn", "acnn", "monet"}
        Layer type: :class:`GCNNConv`, :class:`ACNNConv` or :class:`MoNetConv`.
    in_channels, out_channels : int
    width : int, keyword-only
        Hidden channels (default 32).
    n_layers : int, keyword-only
        Number of patch convolutions (default 4).
    outputs : {"vertices", "global"}, keyword-only
        Per-vertex ``(V, out_channels)`` or per-mesh ``(B, out_channels)`` outputs.
    layer_kwargs : dict, optional, keyword-only
        Keyword options of the layer class (e.g. ``rotation="fourier"``, ``coords="rho"``).
    """

    def __init__(
        self,
        kind: Kind,
        in_channels: int,
        out_channels: int,
        *,
        width: int = 32,
        n_layers: int = 4,
        outputs: Outputs = "vertices",
        layer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if kind not in _LAYERS:
            raise ArgumentError(f"kind must be one of {sorted(_LAYERS)}, got {kind!r}")
        if outputs not in ("vertices", "global"):
            raise ArgumentError(f"outputs must be 'vertices' or 'global', got {outputs!r}")
        if not isinstance(n_layers, int) or n_layers < 0:
            raise ArgumentError(f"n_layers must be a non-negative int, got {n_layers!r}")
        kw = dict(layer_kwargs or {})
        self.kind, self.outputs = kind, outputs
        self.radius = kw.get("radius")
        self.lin_in = nn.Linear(in_channels, width)
        self.layers = nn.ModuleList(_LAYERS[kind](width, width, **kw) for _ in range(n_layers))
        self.lin_out = nn.Linear(width, out_channels)

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """Apply the network.

        Parameters
        ----------
        x : Tensor, shape (V, C_in)
        batch : MeshBatch
            With geodesic patches.

        Returns
        -------
        Tensor, shape (V, C_out) or (B, C_out)
        """
        patches = PatchGather.from_batch(batch, radius=self.radius)
        h = torch.relu(self.lin_in(x))  # (V, width)
        for layer in self.layers:
            h = h + torch.relu(layer(h, batch, patches))
        if self.outputs == "global":
            h = global_mean_pool(h, batch)  # (B, width)
        return self.lin_out(h)
