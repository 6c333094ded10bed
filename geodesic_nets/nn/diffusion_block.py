"""The tiled DiffusionNet block, under its earlier import path.

The code is in :mod:`geodesic_nets.nn.diffusion.block`.
"""

from .diffusion.block import (
    BlockOperators,
    ROWS_PER_TILE,
    spectral_block,
)

__all__ = [
    "ROWS_PER_TILE",
    "BlockOperators",
    "spectral_block",
]
