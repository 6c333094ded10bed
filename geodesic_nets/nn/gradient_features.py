"""Spatial gradient features, under its earlier import path.

The code is in :mod:`geodesic_nets.nn.diffusion.gradient_features`.
"""

from .diffusion.gradient_features import (
    SpatialGradientFeatures,
    batch_feature_operator,
    features_from_pairs,
    gradient_feature_operator,
    gradient_features,
    pair_adjoint_input,
    stacked_gradient,
)

__all__ = [
    "stacked_gradient",
    "gradient_feature_operator",
    "batch_feature_operator",
    "gradient_features",
    "SpatialGradientFeatures",
    "features_from_pairs",
    "pair_adjoint_input",
]
