"""Gauge-equivariance check for layers on irrep features (re-exported by ``geodesic_nets.testing``)."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Callable

import torch

from ...batch import MeshBatch
from .field_type import FieldType

__all__ = ["gauge_transform_batch", "assert_gauge_equivariant"]


def _wrap(a: torch.Tensor) -> torch.Tensor:
    """Wrap angles into (-pi, pi]."""
    return math.pi - torch.remainder(math.pi - a, 2 * math.pi)


def _scale_rows(mat: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """diag(d) @ mat for a sparse COO (V, V) matrix."""
    m = mat.coalesce()
    idx = m.indices()
    return torch.sparse_coo_tensor(idx, m.values() * d[idx[0]], m.shape, check_invariants=False).coalesce()


def gauge_transform_batch(batch: MeshBatch, phi: torch.Tensor) -> MeshBatch:
    """The same batch in frames rotated counter-clockwise by ``phi`` at each vertex.

    Parameters
    ----------
    batch : MeshBatch
    phi : Tensor, shape (V,)

    Returns
    -------
    MeshBatch
        ``basis_x, basis_y`` rotated; ``edge_angle -= phi[src]``; ``transport += phi[src] -
        phi[dst]``; ``patch_theta -= phi[center]`` (when present); the complex gradient rows
        multiplied by ``exp(-i phi)``. Angles are wrapped into (-pi, pi].
    """
    phi = phi.to(batch.verts.dtype)
    c, s = torch.cos(phi), torch.sin(phi)  # (V,)
    bx, by = batch.basis_x, batch.basis_y
    src, dst = batch.edge_src, batch.edge_dst
    gx, gy = batch.gradient_x, batch.gradient_y
    changes = dict(
        basis_x=c[:, None] * bx + s[:, None] * by,
        basis_y=-s[:, None] * bx + c[:, None] * by,
        edge_angle=_wrap(batch.edge_angle - phi[src]),
        transport=_wrap(batch.transport + phi[src] - phi[dst]),
        # (gx + i gy) * exp(-i phi): gx' = c gx + s gy, gy' = -s gx + c gy
        gradient_x=(_scale_rows(gx, c) + _scale_rows(gy, s)).coalesce(),
        gradient_y=(_scale_rows(gy, c) - _scale_rows(gx, s)).coalesce(),
    )
    if batch.patch_theta is not None:
        changes["patch_theta"] = _wrap(batch.patch_theta - phi[batch.patch_center])
    return dataclasses.replace(batch, **changes)


def assert_gauge_equivariant(
    layer: Callable[[torch.Tensor, MeshBatch], torch.Tensor],
    batch: MeshBatch,
    x: torch.Tensor,
    in_type: FieldType,
    out_type: FieldType | None,
    *,
    seed: int = 0,
    atol: float = 1e-10,
    rtol: float = 0.0,
) -> float:
    """Check ``layer(g . x, g . batch) == g . layer(x, batch)`` for a random gauge change g, in float64.

    Parameters
    ----------
    layer : callable ``(x, batch) -> Tensor``
        An ``nn.Module`` is deep-copied and cast to float64 (the original is left as it is).
    batch : MeshBatch
    x : Tensor, shape (V, in_type.dim)
    in_type : FieldType
    out_type : FieldType or None
        Type of per-vertex outputs; None for invariant outputs (any shape, e.g. (B, C)).
    seed : int
        Seed of the random angles (uniform in [0, 2 pi) per vertex).
    atol, rtol : float

    Returns
    -------
    float
        The largest absolute deviation.

    Raises
    ------
    AssertionError
        When the deviation exceeds ``atol + rtol * |expected|``.
    """
    if isinstance(layer, torch.nn.Module):
        layer = copy.deepcopy(layer).to(torch.float64)
    batch = batch.to(dtype=torch.float64)
    x = x.to(torch.float64)
    in_type.check(x)
    gen = torch.Generator().manual_seed(seed)
    phi = (2 * math.pi * torch.rand(batch.total_verts, generator=gen, dtype=torch.float64)).to(batch.device)
    g_batch = gauge_transform_batch(batch, phi)
    with torch.no_grad():
        out = layer(x, batch)
        out_g = layer(in_type.transform(x, phi), g_batch)
    expected = out if out_type is None else out_type.transform(out, phi)
    if out_g.shape != expected.shape:
        raise AssertionError(f"output shape changed under a gauge change: {tuple(out_g.shape)} vs {tuple(expected.shape)}")
    err = (out_g - expected).abs()
    tol = atol + rtol * expected.abs()
    if not bool((err <= tol).all()):
        raise AssertionError(
            f"not gauge equivariant: max |difference| = {float(err.max()):.3e} (atol={atol}, rtol={rtol}), "
            f"output scale {float(expected.abs().max()):.3e}"
        )
    return float(err.max()) if err.numel() else 0.0
