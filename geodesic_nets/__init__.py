"""geodesic_nets: geometric deep learning on surfaces.

Dimension vocabulary used in every docstring: V vertices, F faces, E directed edges
(``edge_src -> edge_dst``), B meshes in a batch, C channels, K eigenpairs, M irreps order,
R radial rings.

Subpackages: :mod:`geodesic_nets.io` (files, validation, repair, normalization),
:mod:`geodesic_nets.geometry` (numpy/scipy geometry processing), :mod:`geodesic_nets.primitives`
(generated meshes).
"""

from . import geometry, io, primitives
from .cache import default_cache_dir
from .errors import (
    ArgumentError,
    CacheError,
    DatasetError,
    DependencyError,
    IndexOutOfRangeError,
    GeodesicNetsError,
    GeometryError,
    InvalidSurfaceError,
    MeshFormatError,
    UnsupportedFormatError,
)
from .io import inspect, load, save
from .operators import OperatorCache, OperatorTensors, SurfaceOperators, compute_operators
from .settings import AnisotropicSettings, OperatorSettings
from .surface import Surface

from .version import __version__

__all__ = [
    "ArgumentError",
    "CacheError",
    "DatasetError",
    "DependencyError",
    "IndexOutOfRangeError",
    "GeodesicNetsError",
    "GeometryError",
    "InvalidSurfaceError",
    "MeshFormatError",
    "UnsupportedFormatError",
    "Surface",
    "load",
    "save",
    "inspect",
    "OperatorSettings",
    "AnisotropicSettings",
    "SurfaceOperators",
    "OperatorTensors",
    "compute_operators",
    "OperatorCache",
    "default_cache_dir",
    "geometry",
    "io",
    "primitives",
    "MeshBatch",
    "collate",
    "__version__",
]


def __getattr__(name: str):
    """``MeshBatch`` and ``collate`` load on first use, so that the numpy layers import without torch."""
    if name in ("MeshBatch", "collate"):
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module 'geodesic_nets' has no attribute {name!r}")
