"""DiffusionNet (Sharp et al. 2022) and its parts: learned diffusion, gradient features, blocks.

``geodesic_nets.nn.diffusion`` was a module holding the learned diffusion; it is now this
subpackage and still exposes those names (and the network's).

=====================  ===================================================================
module                 contents
=====================  ===================================================================
``learned``            learned per-channel diffusion (spectral or implicit)
``gradient_features``  gauge-invariant spatial gradient features
``block``              the fused, tiled CPU form of a DiffusionNet block (custom backward)
``network``            DiffusionNetBlock and DiffusionNet, assembled from the above
=====================  ===================================================================
"""

from . import learned, network
from .block import BlockOperators, spectral_block
from .gradient_features import SpatialGradientFeatures
from .learned import (
    DiffusionMethod,
    ImplicitSystem,
    LearnedDiffusion,
    SpectralBasis,
    implicit_diffusion,
    spectral_diffusion,
)
from .network import DiffusionNet, DiffusionNetBlock

__all__ = [
    # learned (the names of the former module geodesic_nets.nn.diffusion)
    *learned.__all__,
    "DiffusionMethod",
    # gradient features, blocks, network (the function gradient_features is in its module)
    "SpatialGradientFeatures",
    "BlockOperators",
    "spectral_block",
    *network.__all__,
]
