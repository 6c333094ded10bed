"""geodesic_nets: geometric deep learning on surfaces.

Dimension vocabulary used in every docstring: V vertices, F faces, E directed edges
(``edge_src -> edge_dst``), B meshes in a batch, C channels, K eigenpairs, M irreps order,
R radial rings.
"""

from .errors import (
    CacheError,
    GeodesicNetsError,
    GeometryError,
    InvalidSurfaceError,
    MeshFormatError,
    UnsupportedFormatError,
)
from .surface import Surface

__version__ = "0.1.0"

__all__ = [
    "CacheError",
    "GeodesicNetsError",
    "GeometryError",
    "InvalidSurfaceError",
    "MeshFormatError",
    "UnsupportedFormatError",
    "Surface",
    "__version__",
]
