"""Meshes the package generates itself: spheres, planes, tori, single triangles.

They live in :mod:`geodesic_nets.shapes.primitives`; this module keeps their import path
(``from geodesic_nets import primitives``). They serve as closed-form references in the tests,
as the embedded default of the demo, and as the seeds of the synthetic datasets. All are
deterministic.
"""

from __future__ import annotations

from .shapes import primitives as _home
from .shapes.primitives import *  # noqa: F403 (exactly the names of its __all__)
from .surface import Surface  # ``primitives.Surface`` was reachable before the move

__all__ = list(_home.__all__)
