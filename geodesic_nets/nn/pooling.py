"""Pooling per mesh of a batch, and vertex-to-face averaging."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..batch import MeshBatch
from ..errors import ArgumentError

__all__ = ["global_mean_pool", "global_max_pool", "vertices_to_faces", "GlobalPool"]


def global_mean_pool(x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
    """Mass-weighted (area-weighted) mean of each mesh's vertex features.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    batch : MeshBatch

    Returns
    -------
    Tensor, shape (B, C)
        ``sum_v m_v x_v / sum_v m_v`` over each member's vertices.
    """
    _check(x, batch)
    m = batch.mass.to(x.dtype)  # (V,)
    num = x.new_zeros(batch.num_meshes, x.shape[1]).index_add(0, batch.vert_to_mesh, x * m[:, None])  # (B, C)
    den = m.new_zeros(batch.num_meshes).index_add(0, batch.vert_to_mesh, m)  # (B,)
    return num / den[:, None]


def global_max_pool(x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
    """Channel-wise maximum over each mesh's vertices.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    batch : MeshBatch

    Returns
    -------
    Tensor, shape (B, C)
    """
    _check(x, batch)
    idx = batch.vert_to_mesh[:, None].expand_as(x)  # (V, C)
    out = x.new_zeros(batch.num_meshes, x.shape[1])
    return out.scatter_reduce(0, idx, x, reduce="amax", include_self=False)


def vertices_to_faces(x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
    """Mean of each face's three vertex features.

    Parameters
    ----------
    x : Tensor, shape (V, C)
    batch : MeshBatch

    Returns
    -------
    Tensor, shape (F, C)
        F = 0 rows for point clouds.
    """
    _check(x, batch)
    return x[batch.faces].mean(1)  # (F, 3, C) -> (F, C)


def _check(x: torch.Tensor, batch: MeshBatch) -> None:
    if x.dim() != 2 or x.shape[0] != batch.total_verts:
        raise ArgumentError(f"expected x of shape (V={batch.total_verts}, C), got {tuple(x.shape)}")


class GlobalPool(nn.Module):
    """Module form of :func:`global_mean_pool` / :func:`global_max_pool`.

    Parameters
    ----------
    reduce : {"mean", "max"}
    """

    def __init__(self, *, reduce: Literal["mean", "max"] = "mean") -> None:
        super().__init__()
        if reduce not in ("mean", "max"):
            raise ArgumentError(f"reduce must be 'mean' or 'max', got {reduce!r}")
        self.reduce = reduce

    def extra_repr(self) -> str:
        return f"reduce={self.reduce!r}"

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """Pool ``x`` (V, C) to (B, C)."""
        return global_mean_pool(x, batch) if self.reduce == "mean" else global_max_pool(x, batch)
