"""Meshes the package generates itself: spheres, planes, tori, single triangles.

They live in :mod:`geodesic_nets.shapes.primitives`; this module keeps their import path
(``from geodesic_nets import primitives``). They serve as closed-form references in the tests,
as the embedded default of the demo, and as the seeds of the synthetic datasets. All are
deterministic.
"""

from __future__ import annotations

from .shapes.primitives import (
    bumpy_sphere,
    icosphere,
    plane_grid,
    single_triangle,
    sphere_point_cloud,
    torus,
    uv_sphere,
)
from .surface import Surface  # ``primitives.Surface`` was reachable before the move

__all__ = [
    "icosphere",
    "uv_sphere",
    "plane_grid",
    "torus",
    "single_triangle",
    "sphere_point_cloud",
    "bumpy_sphere",
]
