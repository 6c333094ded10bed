"""Intrinsic patch operators on geodesic polar patches: GCNN, ACNN and MoNet layers.

All layers take ``forward(x (V, C_in), batch) -> (V, C_out)`` on a :class:`~geodesic_nets.batch.MeshBatch`
built from operators computed with ``compute_operators(surface, patch_size=k)``.
"""

from .acnn import ACNNConv
from .gcnn import GCNNConv
from .monet import GaussianKernels, MoNetConv
from .network import PatchNet
from .patch_operator import PatchAggregate, PatchGather, aggregate_flat

__all__ = [
    "ACNNConv",
    "GCNNConv",
    "GaussianKernels",
    "MoNetConv",
    "PatchAggregate",
    "PatchGather",
    "PatchNet",
    "aggregate_flat",
]
