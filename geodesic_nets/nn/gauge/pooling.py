"""Gauge invariants of irrep features and their per-mesh pooling."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ...batch import MeshBatch
from ..pooling import global_mean_pool
from .field_type import FieldType
from ...errors import ArgumentError

__all__ = ["to_scalars", "GaugeInvariantPool"]


def to_scalars(x: torch.Tensor, field_type: FieldType, *, eps: float = 1e-12) -> torch.Tensor:
    """Per-vertex gauge invariants.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    field_type : FieldType
    eps : float
        Norms are ``sqrt(c^2 + s^2 + eps)`` (finite gradient at 0).

    Returns
    -------
    Tensor, shape (V, field_type.num_scalars)
        The order-0 channels, then the norm of every order m > 0 pair (in layout order).
    """
    field_type.check(x)
    n0 = field_type.multiplicities[0]
    if x.shape[1] == n0:
        return x
    pairs = x[:, n0:].reshape(x.shape[0], -1, 2)  # (V, P, 2)
    norms = torch.sqrt((pairs * pairs).sum(-1) + eps)  # (V, P)
    return torch.cat((x[:, :n0], norms), dim=1)


class GaugeInvariantPool(nn.Module):
    """Gauge invariants per vertex, optionally pooled per mesh.

    Parameters
    ----------
    field_type : FieldType
    outputs : {"vertices", "global"}
        ``"vertices"``: (V, S) invariants (:func:`to_scalars`). ``"global"``: their mean over each
        mesh, weighted by the lumped vertex mass (area), shape (B, S): independent of the
        sampling density.
    eps : float
    """

    def __init__(self, field_type: FieldType, *, outputs: Literal["vertices", "global"] = "global", eps: float = 1e-12):
        super().__init__()
        if outputs not in ("vertices", "global"):
            raise ArgumentError(f"outputs must be 'vertices' or 'global', got {outputs!r}")
        self.field_type, self.outputs, self.eps = field_type, outputs, float(eps)

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """x : Tensor, shape (V, C) -> Tensor, shape (V, S) or (B, S)."""
        s = to_scalars(x, self.field_type, eps=self.eps)  # (V, S)
        if self.outputs == "vertices":
            return s
        return global_mean_pool(s, batch)
