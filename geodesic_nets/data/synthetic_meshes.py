"""Building blocks of the synthetic datasets, under their earlier import path.

The shape generators live in :mod:`geodesic_nets.shapes` (generators of meshes are not
datasets) and the random rotation in :mod:`geodesic_nets.geometry.rotations`.
"""

from __future__ import annotations

from ..geometry.rotations import random_rotation_matrix
from ..shapes.deform import smooth_deformation
from ..shapes.spheres import (
    SHAPE_MAPS,
    fibonacci_directions,
    radial_bump_map,
    random_sphere_directions,
    sphere_tessellation,
)
from ..shapes.tori import torus_grid

__all__ = [
    "random_rotation_matrix",
    "fibonacci_directions",
    "random_sphere_directions",
    "sphere_tessellation",
    "torus_grid",
    "smooth_deformation",
    "radial_bump_map",
    "SHAPE_MAPS",
]
