"""Gauge-equivariant convolutions on surfaces (GEM-CNN style, de Haan, Weiler, Cohen, Welling 2021).

Features are stacks of SO(2) irreps (:class:`FieldType`); :class:`GaugeConv` convolves over
one-ring neighbourhoods with the exact discrete Levi-Civita transport and the analytically solved
kernel constraint; :class:`NormNonlinearity` / :class:`RegularNonlinearity` are the
nonlinearities; :func:`to_scalars` / :class:`GaugeInvariantPool` give invariants;
:class:`GaugeEquivariantNet` assembles them. :func:`assert_gauge_equivariant` tests a layer.
"""

from .conv import GaugeConv
from .field_type import FieldType, rotate_irreps
from .kernels import edge_kernel, kernel_basis_size, radial_basis, self_kernel
from .network import GaugeEquivariantNet
from .nonlinearity import NormNonlinearity, RegularNonlinearity
from .pooling import GaugeInvariantPool, to_scalars
from .testing import assert_gauge_equivariant
from .transport import EdgeGeometry, gather_rotate, rotate_scatter, transport_to_centre

__all__ = [
    "FieldType",
    "rotate_irreps",
    "EdgeGeometry",
    "transport_to_centre",
    "gather_rotate",
    "rotate_scatter",
    "kernel_basis_size",
    "edge_kernel",
    "self_kernel",
    "radial_basis",
    "GaugeConv",
    "NormNonlinearity",
    "RegularNonlinearity",
    "to_scalars",
    "GaugeInvariantPool",
    "GaugeEquivariantNet",
    "assert_gauge_equivariant",
]
