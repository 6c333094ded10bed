"""Change of gauge of a whole batch: the transformation the patch layers' invariance is about."""

from __future__ import annotations

import dataclasses
import math

import torch

from ...batch import MeshBatch

__all__ = ["rotate_gauge", "wrap_angle"]


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to ``(-pi, pi]``, same shape and dtype as ``a``."""
    w = torch.remainder(a + math.pi, 2 * math.pi) - math.pi  # [-pi, pi)
    return torch.where(w <= -math.pi, w + 2 * math.pi, w)


def rotate_gauge(batch: MeshBatch, phi: torch.Tensor) -> MeshBatch:
    """The same batch expressed in frames rotated counter-clockwise by ``phi``.

    Parameters
    ----------
    batch : MeshBatch
    phi : Tensor, shape (V,)
        Rotation angle of each vertex's frame about its normal.

    Returns
    -------
    MeshBatch
        ``basis_x``/``basis_y`` rotated, ``edge_angle[e] -= phi[src]``,
        ``transport[e] += phi[src] - phi[dst]``, ``patch_theta[p] -= phi[center]`` (angles
        wrapped to ``(-pi, pi]``); everything else shared with ``batch``.
    """
    if phi.shape != (batch.total_verts,):
        raise ValueError(f"phi must have shape (V,) = ({batch.total_verts},), got {tuple(phi.shape)}")
    phi = phi.to(dtype=batch.verts.dtype, device=batch.device)
    c, s = torch.cos(phi)[:, None], torch.sin(phi)[:, None]  # (V, 1)
    src, dst = batch.edge_src, batch.edge_dst
    changes = dict(
        basis_x=c * batch.basis_x + s * batch.basis_y,
        basis_y=-s * batch.basis_x + c * batch.basis_y,
        edge_angle=wrap_angle(batch.edge_angle - phi[src]),
        transport=wrap_angle(batch.transport + phi[src] - phi[dst]),
    )
    if batch.patch_center is not None:
        changes["patch_theta"] = wrap_angle(batch.patch_theta - phi[batch.patch_center])
    return dataclasses.replace(batch, **changes)
