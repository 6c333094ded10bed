"""Geodesic distances on meshes and point clouds: heat method, exact (MMP), many-source blocks.

* :class:`HeatGeodesicSolver` wraps potpourri3d's heat-method solvers (Crane et al. 2013): the
  Laplacian is factored once, every source then costs two back-substitutions.
* :class:`ExactGeodesicSolver` / :func:`exact_geodesic` call libigl's exact polyhedral distance
  (Mitchell-Mount-Papadimitriou), slow but exact on the piecewise-flat surface.
* :func:`geodesic_distance_blocks`, :func:`geodesic_distance_matrix` and
  :func:`pairwise_geodesic_distances` evaluate many sources with any solver while holding at most
  ``block_size`` rows of length V in memory.

The code lives in one module per method; this module gathers their public names.

=====================  =================================================================
module                 contents
=====================  =================================================================
``heat_geodesics``     :class:`HeatGeodesicSolver`, :func:`heat_geodesic`
``exact_geodesics``    :class:`ExactGeodesicSolver`, :func:`exact_geodesic`
``geodesic_blocks``    the :class:`GeodesicSolver` protocol and the many-source functions
``components``         :func:`mesh_components`
=====================  =================================================================

Conventions
-----------
* Vertices that cannot be reached from the source (another connected component of the mesh, or
  a vertex used by no face) are at distance ``inf``. Components are found from the faces; for a
  point cloud there are none and every point is reachable.
* The heat distance is not exactly symmetric. Everywhere in this module ``d(s, t)`` means the
  value at ``t`` of the solve whose source is ``s``; ``symmetrize=True`` (where offered) averages
  the two directions instead.
"""

from __future__ import annotations

from . import components, exact_geodesics, geodesic_blocks, heat_geodesics
from .components import mesh_components
from .exact_geodesics import ExactGeodesicSolver, exact_geodesic
from .geodesic_blocks import (
    GeodesicSolver,
    geodesic_distance_blocks,
    geodesic_distance_matrix,
    pairwise_geodesic_distances,
)
from .heat_geodesics import HeatGeodesicSolver, heat_geodesic

__all__ = [*geodesic_blocks.__all__, *heat_geodesics.__all__, *exact_geodesics.__all__, *components.__all__]
