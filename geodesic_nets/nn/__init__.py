"""Torch layers on surfaces.

Every layer takes ``forward(x, batch)`` with ``x : Tensor, shape (V, C_in)`` and a
:class:`~geodesic_nets.batch.MeshBatch`, and returns per-vertex ``(V, C_out)``, per-face
``(F, C_out)`` or per-mesh ``(B, C_out)`` features.

==========================  ===================================================================
subpackage / module         contents
==========================  ===================================================================
``diffusion``               DiffusionNet: learned diffusion (spectral or implicit), gradient
                            features, its blocks (the fused, tiled CPU form with a custom backward)
``mlp``, ``pooling``        per-vertex MLP; mass-weighted global pooling, vertices to faces
``sparse``                  CSR sparse products with a transposed backward
``linear_cross_entropy``    a linear head fused with its cross-entropy (many classes, no logits;
                            per-row and weighted-sum forms)
``gauge``                   GEM-CNN style gauge-equivariant convolutions on SO(2) irreps
``patch``                   GCNN, ACNN and MoNet convolutions on geodesic polar patches
==========================  ===================================================================
"""

from . import diffusion, gauge, patch
from .diffusion import (
    DiffusionNet,
    DiffusionNetBlock,
    LearnedDiffusion,
    SpatialGradientFeatures,
    implicit_diffusion,
    spectral_diffusion,
)
from .gauge import FieldType, GaugeConv, GaugeEquivariantNet, GaugeInvariantPool, NormNonlinearity, RegularNonlinearity
from .linear_cross_entropy import linear_argmax, linear_cross_entropy, weighted_linear_cross_entropy
from .mlp import MLP
from .patch import ACNNConv, GCNNConv, MoNetConv, PatchNet
from .pooling import GlobalPool, global_max_pool, global_mean_pool, vertices_to_faces
from .sparse import CsrOperator, csr_matmul

__all__ = [
    "diffusion",
    "gauge",
    "patch",
    "LearnedDiffusion",
    "spectral_diffusion",
    "implicit_diffusion",
    "SpatialGradientFeatures",
    "MLP",
    "linear_cross_entropy",
    "weighted_linear_cross_entropy",
    "linear_argmax",
    "DiffusionNetBlock",
    "DiffusionNet",
    "GlobalPool",
    "global_mean_pool",
    "global_max_pool",
    "vertices_to_faces",
    "CsrOperator",
    "csr_matmul",
    "FieldType",
    "GaugeConv",
    "NormNonlinearity",
    "RegularNonlinearity",
    "GaugeInvariantPool",
    "GaugeEquivariantNet",
    "GCNNConv",
    "ACNNConv",
    "MoNetConv",
    "PatchNet",
]
