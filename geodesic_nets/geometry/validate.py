"""Checks on point clouds before a compiled extension sees them."""

from __future__ import annotations

import numpy as np

from ..errors import GeometryError

__all__ = ["check_point_cloud", "MIN_CLOUD_POINTS"]

#: fewest points a point-cloud Laplacian, connection or heat solver is built on
MIN_CLOUD_POINTS = 4


def check_point_cloud(verts: np.ndarray, *, what: str = "point cloud") -> np.ndarray:
    """The points as float64, or a :class:`GeometryError` saying why no surface operator fits them.

    The local triangulations behind the point-cloud Laplacian and heat method (robust_laplacian,
    potpourri3d) abort inside C++ on clouds with too few points or without two independent
    directions; this says so in the package's words first.

    Parameters
    ----------
    verts : array, shape (V, 3)
        Finite coordinates.

    Raises
    ------
    GeometryError
        Fewer than :data:`MIN_CLOUD_POINTS` points; all points identical; all points on one line.
    """
    v = np.asarray(verts, dtype=np.float64)
    if len(v) < MIN_CLOUD_POINTS:
        raise GeometryError(f"a {what} needs at least {MIN_CLOUD_POINTS} points, got {len(v)}")
    centred = v - v.mean(axis=0)
    extent = np.abs(centred).max(axis=0)
    if not extent.max() > 0:
        raise GeometryError(f"all {len(v)} points of the {what} are identical: there is no surface to sample")
    sv = np.linalg.svd(centred / extent.max(), compute_uv=False)  # scaled first: no underflow at 1e-150
    if not sv[1] > 1e-9 * sv[0]:
        raise GeometryError(f"the {len(v)} points of the {what} lie on one line: they span no surface")
    return v
