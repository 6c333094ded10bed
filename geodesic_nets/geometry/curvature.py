"""Discrete curvatures of triangle meshes: angle defect, Gaussian, mean and principal curvatures.

* angle defect (integrated Gaussian curvature): ``2 pi - sum of corner angles`` at interior
  vertices, ``pi - sum`` at boundary vertices, so that ``sum_i defect_i = 2 pi chi`` exactly
  (discrete Gauss-Bonnet); vertices in no face get 0;
* Gaussian curvature: ``defect / vertex area``, with the mixed Voronoi area of Meyer et al. by
  default (the barycentric area is off by ~15% at the irregular vertices of an icosphere);
* mean curvature: ``H = 1/2 |M^{-1} L x|`` with the sign of ``(M^{-1} L x) . n`` (``L`` the PSD
  cotangent Laplacian, ``n`` the outward vertex normal), so a sphere of radius ``R`` with
  outward-facing triangles has ``H ~ +1/R``. At boundary vertices ``L x`` contains the
  boundary's own curvature and ``H`` is not meaningful (mask them with
  :func:`geodesic_nets.geometry.boundary_vertex_mask`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import ArgumentError, GeometryError
from ..validation import check_faces, check_verts
from .elements import boundary_vertex_mask, corner_angles, face_edge_lengths, vertex_normals
from .laplacian import cotan_laplacian_from_lengths, mass_from_lengths

__all__ = ["angle_defect", "gaussian_curvature", "mean_curvature", "principal_curvatures"]

AreaKind = Literal["barycentric", "voronoi"]


def _mesh(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if faces is None:
        raise GeometryError("curvatures need a triangle mesh, got a point cloud (faces=None)")
    v = check_verts(verts, error=GeometryError, allow_empty=False)
    return v, check_faces(faces, len(v), error=GeometryError, allow_empty=False)


def angle_defect(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Angle defect (integrated Gaussian curvature) per vertex, shape (V,) float64.

    ``2 pi - sum of incident corner angles`` at interior vertices, ``pi - sum`` at boundary
    vertices, 0 at vertices in no face.
    """
    v, f = _mesh(verts, faces)
    n = len(v)
    angle_sum = np.bincount(f.ravel(), weights=corner_angles(v, f).ravel(), minlength=n)
    used = np.bincount(f.ravel(), minlength=n) > 0
    full = np.where(boundary_vertex_mask(f, n), np.pi, 2.0 * np.pi)
    return np.where(used, full - angle_sum, 0.0)


def gaussian_curvature(verts: np.ndarray, faces: np.ndarray, *, area: AreaKind = "voronoi") -> np.ndarray:
    """Pointwise Gaussian curvature ``angle_defect / vertex_area``, shape (V,) float64.

    ``area`` picks the vertex area (see :func:`geodesic_nets.geometry.laplacian.mass_from_lengths`).
    Vertices in no face get 0.
    """
    if area not in ("barycentric", "voronoi"):
        raise ArgumentError(f"area must be 'barycentric' or 'voronoi', got {area!r}")
    v, f = _mesh(verts, faces)
    m = mass_from_lengths(f, face_edge_lengths(v, f), len(v), kind=area).diagonal()
    return angle_defect(v, f) / m


def mean_curvature(verts: np.ndarray, faces: np.ndarray, *, area: AreaKind = "voronoi") -> np.ndarray:
    """Signed mean curvature ``H = (k1 + k2) / 2``, shape (V,) float64 (see the module docstring).

    Positive on a sphere whose faces are oriented with outward normals. Vertices in no face get 0.
    """
    if area not in ("barycentric", "voronoi"):
        raise ArgumentError(f"area must be 'barycentric' or 'voronoi', got {area!r}")
    v, f = _mesh(verts, faces)
    lengths = face_edge_lengths(v, f)
    L = cotan_laplacian_from_lengths(f, lengths, len(v))
    m = mass_from_lengths(f, lengths, len(v), kind=area).diagonal()
    hn = (L @ v) / m[:, None]  # (V, 3) = 2 H n (mean curvature normal)
    normals = vertex_normals(v, f)
    sign = np.sign(np.einsum("ij,ij->i", hn, normals))
    sign[sign == 0] = 1.0
    h = 0.5 * np.linalg.norm(hn, axis=1) * sign
    h[np.bincount(f.ravel(), minlength=len(v)) == 0] = 0.0
    return h


def principal_curvatures(verts: np.ndarray, faces: np.ndarray, *, area: AreaKind = "voronoi") -> tuple[np.ndarray, np.ndarray]:
    """Principal curvatures from ``H`` and ``K``: ``k = H +- sqrt(max(H^2 - K, 0))``.

    Returns
    -------
    k_max, k_min : ndarray, shape (V,), float64
        ``k_max >= k_min``.
    """
    h = mean_curvature(verts, faces, area=area)
    k = gaussian_curvature(verts, faces, area=area)
    d = np.sqrt(np.clip(h * h - k, 0.0, None))
    return h + d, h - d
