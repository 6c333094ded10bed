"""DiffusionNet, under its earlier import path.

The code is in :mod:`geodesic_nets.nn.diffusion.network`.
"""

from .diffusion.network import (
    DiffusionNet,
    DiffusionNetBlock,
)

__all__ = [
    "DiffusionNetBlock",
    "DiffusionNet",
]
