"""Centering and scaling of a surface, returned with what undoes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from ..errors import ArgumentError, GeometryError
from ..surface import Surface
from ._areas import face_areas

__all__ = ["Center", "Scale", "Normalized", "normalize"]

Center = Literal["auto", "area", "mean", "bbox", "none"]
Scale = Literal["auto", "area", "bbox_diagonal", "radius", "none"]


@dataclass(frozen=True)
class Normalized:
    """A normalized surface and the map ``x -> (x - offset) * scale`` that made it.

    Attributes
    ----------
    surface : Surface
    offset : ndarray, shape (3,), float64
    scale : float
    """

    surface: Surface
    offset: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map points (N, 3) of the original surface's space into the normalized space."""
        return (np.asarray(points, dtype=np.float64) - self.offset) * self.scale

    def invert(self, points: np.ndarray) -> np.ndarray:
        """Map points (N, 3) of the normalized space back to the original space."""
        return np.asarray(points, dtype=np.float64) / self.scale + self.offset


def normalize(surface: Surface, *, center: Center = "auto", scale: Scale = "area") -> Normalized:
    """Translate and scale a surface uniformly.

    Parameters
    ----------
    surface : Surface
    center : {"auto", "area", "mean", "bbox", "none"}
        "area": area-weighted centroid of the faces (meshes only); "mean": mean of the
        vertices; "bbox": centre of the bounding box; "auto": "area" for a mesh, "mean" for a
        point cloud.
    scale : {"area", "bbox_diagonal", "radius", "none", "auto"}
        Make the total area 1 (meshes only; the convention of the correspondence literature),
        the bounding-box diagonal 1, or the largest distance from the centre 1; "auto": "area"
        for a mesh, "radius" for a point cloud (what the datasets and ``precompute
        --normalize`` do, with ``center="auto"``).

    Returns
    -------
    Normalized
        ``surface.verts == (old.verts - offset) * scale``.

    Raises
    ------
    GeometryError
        Area-based options on a point cloud, or a surface of zero area or size.
    """
    if center not in get_args(Center):
        raise ArgumentError(f"center must be one of {get_args(Center)}, got {center!r}")
    if scale not in get_args(Scale):
        raise ArgumentError(f"scale must be one of {get_args(Scale)}, got {scale!r}")
    if len(surface.verts) == 0:
        raise GeometryError("cannot normalize an empty surface")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow shows up as a non-finite size
        return _normalize(surface, center, scale)


def _normalize(surface: Surface, center: str, scale: str) -> Normalized:
    v = surface.verts
    if scale == "auto":
        scale = "radius" if surface.is_point_cloud else "area"
    needs_area = center == "area" or scale == "area" or (center == "auto" and not surface.is_point_cloud)
    area = None
    if needs_area:
        if surface.is_point_cloud or surface.num_faces == 0:
            raise GeometryError(f"center={center!r}, scale={scale!r} need faces; {surface!r} has none")
        f = surface.faces
        fa = face_areas(v, f)
        area = float(fa.sum())
        if not (area > 0 and np.isfinite(area)):
            raise GeometryError(f"{surface!r} has total area {area}, cannot normalize by it")
    if center in ("area", "auto") and not surface.is_point_cloud:
        offset = (fa[:, None] * v[f].mean(axis=1)).sum(axis=0) / area
    elif center in ("mean", "auto"):
        offset = v.mean(axis=0)
    elif center == "bbox":
        offset = 0.5 * (v.min(axis=0) + v.max(axis=0))
    else:
        offset = np.zeros(3)
    if scale == "area":
        size = np.sqrt(area)
    elif scale == "bbox_diagonal":
        size = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    elif scale == "radius":
        size = float(np.linalg.norm(v - offset, axis=1).max())
    else:
        size = 1.0
    if not np.all(np.isfinite(offset)):
        raise GeometryError(f"cannot center {surface!r}: its {center} centre is not finite")
    if not (size > 0 and np.isfinite(size)):
        raise GeometryError(f"cannot scale {surface!r}: its {scale} is {size}")
    s = 1.0 / size
    return Normalized(surface.with_verts((v - offset) * s), np.asarray(offset, dtype=np.float64), float(s))
