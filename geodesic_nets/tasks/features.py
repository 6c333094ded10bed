"""Input features computed from a batch: coordinates, heat kernel or wave kernel signatures.

``xyz`` is extrinsic (augment it with random rotations when training, see
:class:`InputFeatures`); ``hks`` and ``wks`` are intrinsic, so invariant to rigid motions and
isometric deformations, and the usual inputs for correspondence.
"""

from __future__ import annotations

import math
from typing import Callable, Literal, get_args

import torch
from torch import nn

from ..batch import MeshBatch
from ..errors import ArgumentError

__all__ = ["FeatureKind", "InputFeatures", "batch_hks", "batch_wks", "default_hks_times"]

FeatureKind = Literal["xyz", "hks", "wks", "hks+xyz"]


def default_hks_times(n: int) -> torch.Tensor:
    """``n`` log-spaced diffusion times in [0.01, 1], for surfaces normalized to unit area.

    Fixed times (rather than times chosen per shape from its spectrum) keep the channels
    comparable across the shapes of a dataset. Returns a float64 tensor of shape (n,).
    """
    return torch.logspace(-2.0, 0.0, n, dtype=torch.float64)


def batch_hks(batch: MeshBatch, times: torch.Tensor) -> torch.Tensor:
    """Heat kernel signature of every member, ``sum_k exp(-lambda_k t) phi_k(x)^2``.

    Parameters
    ----------
    batch : MeshBatch
    times : Tensor, shape (T,)

    Returns
    -------
    Tensor, shape (V, T), the batch's floating dtype.
    """
    t = times.to(device=batch.evecs.device, dtype=batch.evecs.dtype)
    out = []
    for b, phi in enumerate(batch.split(batch.evecs)):
        lam = batch.evals[b].clamp_min(0) * batch.eig_mask[b]  # padded entries: phi column is zero
        out.append((phi * phi) @ torch.exp(-lam[:, None] * t[None, :]))  # (V_b, T)
    return torch.cat(out)


def batch_wks(batch: MeshBatch, n_energies: int, *, sigma_factor: float = 7.0) -> torch.Tensor:
    """Wave kernel signature of every member (energies spread over each member's own spectrum).

    Matches :func:`geodesic_nets.geometry.descriptors.wks`: ``n_energies`` log-energies evenly
    spaced between the log of the smallest and largest non-zero eigenvalue, Gaussian filters of
    width ``sigma_factor`` times the spacing, each column normalized by its filter's sum.

    Returns
    -------
    Tensor, shape (V, n_energies)
    """
    out = []
    for b, phi in enumerate(batch.split(batch.evecs)):
        lam = batch.evals[b]
        mask = batch.eig_mask[b]
        top = lam[mask].abs().max()
        nz = mask & (lam > 1e-9 * top)
        log_lam = torch.log(lam[nz])  # (K',)
        lo, hi = log_lam.min(), log_lam.max()
        energies = torch.linspace(0.0, 1.0, n_energies, dtype=lam.dtype, device=lam.device) * (hi - lo) + lo
        spacing = (hi - lo) / max(n_energies - 1, 1)
        sigma = sigma_factor * (spacing if spacing > 0 else torch.ones_like(spacing))
        filt = torch.exp(-((energies[None, :] - log_lam[:, None]) ** 2) / (2 * sigma * sigma))  # (K', n)
        out.append((phi[:, nz] ** 2) @ _flush_subnormal(filt / filt.sum(0, keepdim=True)))
    return torch.cat(out)


def _flush_subnormal(weights: torch.Tensor) -> torch.Tensor:
    """``weights`` (non-negative) with its subnormal entries set to zero.

    A Gaussian filter's far tail underflows into subnormal numbers (float32: below 1.2e-38,
    ``exp(-87)``; with 128 energies a column reaches ``exp(-165)``), and a CPU matrix product that
    reads subnormal operands runs an order of magnitude slower (measured: 47 ms instead of 3 ms for
    one 5000-vertex shape's WKS with 200 eigenpairs and 128 energies, float32). Each column of the
    weights sums to one, so a dropped entry changes its output by less than ``1.2e-38 *
    max phi^2``, far below the rounding of the output (in practice the products are bitwise equal).
    """
    return weights.masked_fill(weights < torch.finfo(weights.dtype).tiny, 0.0)


class InputFeatures(nn.Module):
    """The per-vertex input of a network, computed from the batch.

    Parameters
    ----------
    kind : {"xyz", "hks", "wks", "hks+xyz"}
    n : int
        Number of HKS times / WKS energies.
    augment : callable, optional
        ``augment(verts (V_b, 3)) -> (V_b, 3)``, applied to each member's coordinates in training
        mode only (e.g. :class:`geodesic_nets.data.augment.Augment`); draws from torch's global
        generator.

    Attributes
    ----------
    channels : int
        Width of the output.
    """

    def __init__(self, kind: FeatureKind = "hks", *, n: int = 16,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        if kind not in get_args(FeatureKind):
            raise ArgumentError(f"kind must be one of {get_args(FeatureKind)}, got {kind!r}")
        if not isinstance(n, int) or n < 1:
            raise ArgumentError(f"n must be a positive int, got {n!r}")
        self.kind, self.n, self.augment = kind, n, augment
        self.register_buffer("times", default_hks_times(n), persistent=False)
        self.channels = {"xyz": 3, "hks": n, "wks": n, "hks+xyz": n + 3}[kind]

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, n={self.n}, channels={self.channels}"

    def _xyz(self, batch: MeshBatch) -> torch.Tensor:
        if not (self.training and self.augment is not None):
            return batch.verts
        return torch.cat([self.augment(v) for v in batch.split(batch.verts)])

    def forward(self, batch: MeshBatch) -> torch.Tensor:
        """Features of shape (V, channels), the batch's floating dtype."""
        if self.kind == "xyz":
            return self._xyz(batch)
        if self.kind == "wks":
            return batch_wks(batch, self.n)
        h = batch_hks(batch, self.times)
        # scale-free: log of HKS relative to its value at an area-normalized flat point (1 / (4 pi t))
        h = torch.log(h.clamp_min(1e-12) * (4 * math.pi * self.times.to(h.dtype))[None, :])
        return h if self.kind == "hks" else torch.cat([h, self._xyz(batch)], dim=1)
