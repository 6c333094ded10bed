"""Torch layers on surfaces.

Every layer takes ``forward(x, batch)`` with ``x : Tensor, shape (V, C_in)`` and a
:class:`~geodesic_nets.batch.MeshBatch`, and returns per-vertex ``(V, C_out)``, per-face
``(F, C_out)`` or per-mesh ``(B, C_out)`` features.

=====================  ===================================================================
subpackage / module    contents
=====================  ===================================================================
``diffusion_net``      DiffusionNet: learned diffusion, gradient features, MLP blocks
``diffusion``          learned per-channel diffusion (spectral or implicit)
``diffusion_block``    the fused, tiled CPU form of a DiffusionNet block (custom backward)
``gradient_features``  gauge-invariant spatial gradient features
``mlp``, ``pooling``   per-vertex MLP; mass-weighted global pooling, vertices to faces
``sparse``             CSR sparse products with a transposed backward
``gauge``              GEM-CNN style gauge-equivariant convolutions on SO(2) irreps
``patch``              GCNN, ACNN and MoNet convolutions on geodesic polar patches
=====================  ===================================================================
"""

from . import gauge, patch
from .diffusion import LearnedDiffusion, implicit_diffusion, spectral_diffusion
from .diffusion_net import DiffusionNet, DiffusionNetBlock
from .gauge import FieldType, GaugeConv, GaugeEquivariantNet, GaugeInvariantPool, NormNonlinearity, RegularNonlinearity
from .gradient_features import SpatialGradientFeatures
from .mlp import MLP
from .patch import ACNNConv, GCNNConv, MoNetConv, PatchNet
from .pooling import GlobalPool, global_max_pool, global_mean_pool, vertices_to_faces
from .sparse import CsrOperator, csr_matmul

__all__ = [
    "gauge",
    "patch",
    "LearnedDiffusion",
    "spectral_diffusion",
    "implicit_diffusion",
    "SpatialGradientFeatures",
    "MLP",
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
