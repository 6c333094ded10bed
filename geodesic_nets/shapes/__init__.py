"""Meshes the package generates itself (numpy only, deterministic given a seed or generator).

Shape generators, not datasets: the datasets built from them are in :mod:`geodesic_nets.data`.
This layer sits beside :mod:`geodesic_nets.geometry`: it imports ``surface``, ``errors`` and
``geometry`` only.

===============  ===================================================================
module           contents
===============  ===================================================================
``primitives``   closed-form references: spheres, planes, tori, a triangle, a cloud
``spheres``      random sphere-topology meshes (spread directions, their convex hull,
                 star-shaped maps to surface points)
``tori``         random torus-topology parameter grids
``deform``       smooth non-rigid deformations, random placement, vertex shuffles
===============  ===================================================================

The random rotation behind them is :func:`geodesic_nets.geometry.rotations.random_rotation_matrix`.
"""

from . import deform, primitives, spheres, tori
from .deform import random_placement, shuffle_vertices, smooth_deformation
from .primitives import bumpy_sphere, icosphere, plane_grid, single_triangle, sphere_point_cloud, torus, uv_sphere
from .spheres import SHAPE_MAPS, fibonacci_directions, radial_bump_map, random_sphere_directions, sphere_tessellation
from .tori import torus_grid, torus_grid_size

# closed-form primitives, random meshes, random changes: each submodule's public names
__all__ = [*primitives.__all__, *spheres.__all__, *tori.__all__, *deform.__all__]
