"""Augmentations of per-vertex coordinates (for networks fed with xyz): rotation, scale, jitter.

Every function draws its randomness from the ``torch.Generator`` it is given (torch's global
generator when None) on the CPU and then moves the result to the coordinates' device, so a
seeded generator gives the same augmentation on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch

from ..geometry.rotations import random_rotation_matrix as _random_rotation_matrix
from ..errors import ArgumentError

__all__ = ["random_rotation_matrix", "random_rotation", "random_scale", "jitter", "Augment", "RotationMode"]

RotationMode = Literal["none", "so3", "x", "y", "z"]


def _check_verts(verts: torch.Tensor) -> None:
    if not isinstance(verts, torch.Tensor) or verts.dim() != 2 or verts.shape[1] != 3:
        shape = tuple(verts.shape) if isinstance(verts, torch.Tensor) else type(verts).__name__
        raise ArgumentError(f"verts must be a tensor of shape (V, 3), got {shape}")
    if not verts.is_floating_point():
        raise ArgumentError(f"verts must be floating point, got {verts.dtype}")


def random_rotation_matrix(
    generator: torch.Generator | None = None,
    *,
    axis: Literal["so3", "x", "y", "z"] = "so3",
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A random rotation, shape (3, 3), on the CPU.

    ``axis="so3"``: uniform (Haar) on SO(3), by
    :func:`geodesic_nets.geometry.rotations.random_rotation_matrix` seeded with one integer drawn
    from ``generator`` (the global torch generator when None). ``"x"``, ``"y"``, ``"z"``: a
    uniform angle about that axis.
    """
    if axis == "so3":
        seed = int(torch.randint(0, 2**62, (), generator=generator))
        return torch.from_numpy(_random_rotation_matrix(seed)).to(dtype)
    if axis not in ("x", "y", "z"):
        raise ArgumentError(f"axis must be one of 'so3', 'x', 'y', 'z', got {axis!r}")
    a = float(torch.rand((), generator=generator, dtype=torch.float64)) * 2 * math.pi
    c, s = math.cos(a), math.sin(a)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = torch.eye(3, dtype=torch.float64)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r.to(dtype)


def random_rotation(
    verts: torch.Tensor, generator: torch.Generator | None = None, *, axis: Literal["so3", "x", "y", "z"] = "so3"
) -> torch.Tensor:
    """``verts`` (V, 3) rotated about the origin by :func:`random_rotation_matrix`; same dtype and device."""
    _check_verts(verts)
    r = random_rotation_matrix(generator, axis=axis, dtype=verts.dtype).to(verts.device)
    return verts @ r.T


def random_scale(
    verts: torch.Tensor, generator: torch.Generator | None = None, *, low: float = 0.85, high: float = 1.15
) -> torch.Tensor:
    """``verts`` (V, 3) times one factor uniform in ``[low, high]`` (about the origin)."""
    _check_verts(verts)
    if not 0 < low <= high:
        raise ArgumentError(f"need 0 < low <= high, got low={low}, high={high}")
    f = low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))
    return verts * f


def jitter(
    verts: torch.Tensor, generator: torch.Generator | None = None, *, sigma: float = 0.005, clip: float = 0.02
) -> torch.Tensor:
    """``verts`` (V, 3) plus independent normal noise of std ``sigma``, clipped to ``[-clip, clip]``."""
    _check_verts(verts)
    if sigma < 0 or clip < 0:
        raise ArgumentError(f"sigma and clip must be >= 0, got sigma={sigma}, clip={clip}")
    noise = (torch.randn(verts.shape, generator=generator, dtype=torch.float64) * sigma).clamp_(-clip, clip)
    return verts + noise.to(dtype=verts.dtype, device=verts.device)


@dataclass(frozen=True)
class Augment:
    """A composed augmentation: rotation, then scale, then jitter.

    Parameters
    ----------
    rotate : {"none", "so3", "x", "y", "z"}
        Uniform rotation in SO(3), about one axis, or none.
    scale : (float, float) or None
        Range of a uniform scale factor; None for no scaling.
    jitter_sigma : float
        Std of per-coordinate Gaussian noise (0: none), clipped at ``jitter_clip``.
    jitter_clip : float

    Examples
    --------
    >>> aug = Augment(rotate="so3", scale=(0.9, 1.1), jitter_sigma=0.01)
    >>> g = torch.Generator().manual_seed(0)
    >>> out = aug(torch.zeros(5, 3), g)   # (5, 3)
    """

    rotate: RotationMode = "so3"
    scale: tuple[float, float] | None = (0.85, 1.15)
    jitter_sigma: float = 0.0
    jitter_clip: float = 0.02

    def __post_init__(self) -> None:
        if self.rotate not in get_args(RotationMode):
            raise ArgumentError(f"rotate must be one of {get_args(RotationMode)}, got {self.rotate!r}")
        if self.scale is not None:
            ok = isinstance(self.scale, (tuple, list)) and len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1]
            if not ok:
                raise ArgumentError(f"scale must be None or (low, high) with 0 < low <= high, got {self.scale!r}")
            object.__setattr__(self, "scale", (float(self.scale[0]), float(self.scale[1])))  # lists from configs
        if self.jitter_sigma < 0 or self.jitter_clip < 0:
            raise ArgumentError(f"jitter_sigma and jitter_clip must be >= 0, got {self.jitter_sigma}, {self.jitter_clip}")

    def __call__(self, verts: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augmented copy of ``verts`` (V, 3); same dtype and device."""
        _check_verts(verts)
        out = verts
        if self.rotate != "none":
            out = random_rotation(out, generator, axis=self.rotate)
        if self.scale is not None:
            out = random_scale(out, generator, low=self.scale[0], high=self.scale[1])
        if self.jitter_sigma > 0:
            out = jitter(out, generator, sigma=self.jitter_sigma, clip=self.jitter_clip)
        return out
