"""Gauge-equivariance check for layers on irrep features (re-exported by ``geodesic_nets.testing``)."""

from __future__ import annotations

import copy
import math
from typing import Callable

import torch

from ...batch import MeshBatch
from .field_type import FieldType

__all__ = ["assert_gauge_equivariant"]


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
    g_batch = batch.rotate_gauge(phi)
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
