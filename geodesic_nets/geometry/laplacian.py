"""Cotangent Laplacian and mass matrices (intrinsic core on edge lengths, extrinsic wrappers).

Sign convention, used by the whole package: the Laplacian ``L`` is the *positive semidefinite*
weak Laplacian, ``L = -igl.cotmatrix(verts, faces)``:

* ``L[i, j] = -(cot a_ij + cot b_ij) / 2`` for an edge ``(i, j)`` (``a_ij``, ``b_ij`` the angles
  opposite the edge in its one or two faces), ``L[i, i] = -sum_j L[i, j]``;
* ``x^T L x = 1/2 sum_ij w_ij (x_i - x_j)^2 >= 0`` on a Delaunay mesh, rows sum to zero;
* the Laplace-Beltrami eigenproblem is ``L phi = lambda M phi`` with ``lambda >= 0`` and the
  pointwise Laplacian of ``f`` is ``-M^{-1} L f`` (``Delta f`` with the analyst's sign).

Degenerate faces (zero area, or intrinsic lengths violating the triangle inequality)
contribute nothing to ``L`` or ``M``: no NaN or infinity ever appears. Vertices in no face
(isolated) get an empty row and column in ``L`` and a tiny positive mass
(:data:`ISOLATED_MASS_FRACTION` times the mean mass of the other vertices) so that ``M`` stays
invertible.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ..errors import ArgumentError, GeometryError
from ..validation import check_faces, check_verts
from .elements import face_areas_from_lengths, face_edge_lengths
from .validate import check_point_cloud

__all__ = [
    "ISOLATED_MASS_FRACTION",
    "cotan_weights_from_lengths",
    "cotan_laplacian_from_lengths",
    "cotan_laplacian",
    "mass_from_lengths",
    "mass_matrix",
    "laplacian_and_mass",
]

logger = logging.getLogger(__name__)

MassKind = Literal["barycentric", "voronoi"]
LaplacianMethod = Literal["cotan", "robust"]

#: Mass given to a vertex in no face, relative to the mean mass of the other vertices.
ISOLATED_MASS_FRACTION = 1e-8

_MASS_KINDS = ("barycentric", "voronoi")
_METHODS = ("cotan", "robust")
# A face whose area is below this fraction of (longest edge)^2 counts as degenerate.
_DEGENERATE_REL_AREA = 1e-14


def _check_faces_lengths(faces: np.ndarray, lengths: np.ndarray, num_verts: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(faces, dtype=np.int64)
    l = np.asarray(lengths, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != 3:
        raise GeometryError(f"expected faces of shape (F, 3), got {f.shape}")
    if l.shape != f.shape:
        raise GeometryError(f"expected edge lengths of shape {f.shape} (one per face corner), got {l.shape}")
    if num_verts < 0:
        raise GeometryError(f"num_verts must be >= 0, got {num_verts}")
    if f.size and (f.min() < 0 or f.max() >= num_verts):
        bad = int(np.flatnonzero((f < 0).any(axis=1) | (f >= num_verts).any(axis=1))[0])
        raise GeometryError(f"face {bad} = {f[bad].tolist()} has a vertex index outside [0, {num_verts})")
    if not np.all(np.isfinite(l)) or (l < 0).any():
        raise GeometryError("edge lengths must be finite and non-negative")
    return f, l


def _cotangents(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cotangent of each corner angle (F, 3) and the face areas (F,); 0 on degenerate faces."""
    area = face_areas_from_lengths(lengths)  # (F,)
    sq = lengths * lengths  # (F, 3)
    # cot(angle at corner c) = (l_{c+1}^2 + l_{c+2}^2 - l_c^2) / (4 A)
    num = np.roll(sq, -1, axis=1) + np.roll(sq, -2, axis=1) - sq  # (F, 3)
    ok = area > _DEGENERATE_REL_AREA * np.max(sq, axis=1, initial=0.0)
    cot = np.zeros_like(sq)
    np.divide(num, 4.0 * area[:, None], out=cot, where=ok[:, None])
    return cot, np.where(ok, area, 0.0)


def cotan_weights_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """Half cotangent of each corner angle, shape (F, 3) float64.

    Entry ``[f, c]`` is the weight face ``f`` gives to the edge opposite corner ``c`` (the edge
    ``faces[f, c+1] -- faces[f, c+2]``); it is 0 on degenerate faces.
    """
    cot, _ = _cotangents(np.asarray(lengths, dtype=np.float64))
    return 0.5 * cot


def cotan_laplacian_from_lengths(faces: np.ndarray, lengths: np.ndarray, num_verts: int) -> sp.csr_matrix:
    """Positive semidefinite cotangent Laplacian from edge lengths only (intrinsic).

    Parameters
    ----------
    faces : ndarray, shape (F, 3), int64
    lengths : ndarray, shape (F, 3), float64
        ``lengths[f, c]`` is the length of the edge opposite corner ``c`` of face ``f``.
    num_verts : int
        V; vertices in no face get an empty row and column.

    Returns
    -------
    L : scipy.sparse.csr_matrix, shape (V, V), float64
        Symmetric, rows summing to zero, ``L = -igl.cotmatrix`` (see the module docstring).
    """
    f, l = _check_faces_lengths(faces, lengths, num_verts)
    w = cotan_weights_from_lengths(l)  # (F, 3), weight of the edge opposite each corner
    i = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])  # edge opposite corner c: (c+1, c+2)
    j = np.concatenate([f[:, 2], f[:, 0], f[:, 1]])
    ww = np.concatenate([w[:, 0], w[:, 1], w[:, 2]])
    diag = np.bincount(i, weights=ww, minlength=num_verts) + np.bincount(j, weights=ww, minlength=num_verts)
    rows = np.concatenate([i, j, np.arange(num_verts)])
    cols = np.concatenate([j, i, np.arange(num_verts)])
    vals = np.concatenate([-ww, -ww, diag])
    L = sp.coo_matrix((vals, (rows, cols)), shape=(num_verts, num_verts)).tocsr()
    L.sum_duplicates()
    L.sort_indices()
    return L


def cotan_laplacian(verts: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """Positive semidefinite cotangent Laplacian of a triangle mesh, ``-igl.cotmatrix``.

    Parameters
    ----------
    verts : ndarray, shape (V, 3), float64
    faces : ndarray, shape (F, 3), int64

    Returns
    -------
    L : scipy.sparse.csr_matrix, shape (V, V), float64
    """
    v, f = _check_mesh(verts, faces)
    return cotan_laplacian_from_lengths(f, face_edge_lengths(v, f), len(v))


def _isolated_mass(mass: np.ndarray) -> np.ndarray:
    """Give vertices of zero mass a tiny positive mass (documented in the module docstring)."""
    zero = mass <= 0
    if zero.any():
        pos = mass[~zero]
        ref = pos.mean() if pos.size else 1.0
        mass = mass.copy()
        mass[zero] = ISOLATED_MASS_FRACTION * ref
        logger.debug("%d vertices have no area; gave them mass %.3g", int(zero.sum()), mass[zero][0])
    return mass


def mass_from_lengths(
    faces: np.ndarray, lengths: np.ndarray, num_verts: int, *, kind: MassKind = "barycentric"
) -> sp.csr_matrix:
    """Lumped (diagonal) mass matrix from edge lengths only.

    Parameters
    ----------
    faces : ndarray, shape (F, 3), int64
    lengths : ndarray, shape (F, 3), float64
        Length of the edge opposite each corner.
    num_verts : int
    kind : {"barycentric", "voronoi"}
        ``"barycentric"``: a third of each incident face area. ``"voronoi"``: the mixed Voronoi
        area of Meyer et al. 2003 (the obtuse corner of an obtuse triangle takes half its area,
        the other two a quarter each), as ``igl.massmatrix(..., MASSMATRIX_TYPE_VORONOI)``.

    Returns
    -------
    M : scipy.sparse.csr_matrix, shape (V, V), float64, diagonal with positive entries
        Vertices in no face get a tiny positive mass (see the module docstring).
    """
    if kind not in _MASS_KINDS:
        raise ArgumentError(f"mass kind must be one of {_MASS_KINDS}, got {kind!r}")
    f, l = _check_faces_lengths(faces, lengths, num_verts)
    cot, area = _cotangents(l)  # (F, 3), (F,)
    if kind == "barycentric":
        corner = np.repeat(area[:, None] / 3.0, 3, axis=1)  # (F, 3)
    else:
        sq = l * l
        # Voronoi part of corner c: (l_{c+1}^2 cot_{c+1} + l_{c+2}^2 cot_{c+2}) / 8
        t = sq * cot  # (F, 3)
        corner = (np.roll(t, -1, axis=1) + np.roll(t, -2, axis=1)) / 8.0
        obtuse = cot < 0  # angle > pi/2 at that corner (cos < 0)
        any_obtuse = obtuse.any(axis=1)
        corner[any_obtuse] = np.where(obtuse[any_obtuse], 0.5, 0.25) * area[any_obtuse, None]
    mass = np.bincount(f.ravel(), weights=corner.ravel(), minlength=num_verts)
    return sp.diags(_isolated_mass(mass)).tocsr()


def mass_matrix(verts: np.ndarray, faces: np.ndarray, *, kind: MassKind = "barycentric") -> sp.csr_matrix:
    """Lumped mass matrix of a triangle mesh, shape (V, V) diagonal CSR (see :func:`mass_from_lengths`)."""
    if kind not in _MASS_KINDS:
        raise ArgumentError(f"mass kind must be one of {_MASS_KINDS}, got {kind!r}")
    v, f = _check_mesh(verts, faces)
    return mass_from_lengths(f, face_edge_lengths(v, f), len(v), kind=kind)


def _check_mesh(verts: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    v = check_verts(verts, error=GeometryError, allow_empty=False)
    return v, None if faces is None else check_faces(faces, len(v), error=GeometryError, allow_empty=False)


def laplacian_and_mass(
    verts: np.ndarray,
    faces: np.ndarray | None = None,
    *,
    method: LaplacianMethod = "cotan",
    mass: MassKind = "barycentric",
    n_neighbors: int = 30,
    mollify_factor: float = 1e-5,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Laplacian and lumped mass matrix of a mesh or a point cloud.

    Parameters
    ----------
    verts : ndarray, shape (V, 3), float64
    faces : ndarray, shape (F, 3), int64, or None
        ``None``: a point cloud, handled by ``robust_laplacian.point_cloud_laplacian``
        (Sharp & Crane 2020: local Delaunay triangulations of ``n_neighbors`` neighbours).
    method : {"cotan", "robust"}
        ``"cotan"``: the cotangent Laplacian of the mesh itself. ``"robust"``: the cotangent
        Laplacian of the intrinsic Delaunay triangulation of its tufted cover
        (``robust_laplacian.mesh_laplacian``), which handles non-manifold and poorly shaped
        meshes and is PSD with non-negative off-diagonal weights. Ignored for a point cloud.
    mass : {"barycentric", "voronoi"}
        Kind of lumped mass (see :func:`mass_from_lengths`). The robust and point-cloud
        Laplacians come with their own barycentric mass; ``"voronoi"`` is refused for them.
    n_neighbors : int
        Neighbours per point of the point-cloud Laplacian (clamped to ``V - 1``).
    mollify_factor : float
        Intrinsic mollification of the robust Laplacians (relative to the mean edge length).

    Returns
    -------
    L : scipy.sparse.csr_matrix, shape (V, V), float64
        Positive semidefinite (see the module docstring).
    M : scipy.sparse.csr_matrix, shape (V, V), float64
        Diagonal, positive.

    Raises
    ------
    GeometryError
        Empty surface (no vertices, or faces given but empty), bad shapes, a point cloud of
        fewer than 4 points, of identical points or of points on one line.
    ValueError
        An unknown option.
    """
    if method not in _METHODS:
        raise ArgumentError(f"method must be one of {_METHODS}, got {method!r}")
    if mass not in _MASS_KINDS:
        raise ArgumentError(f"mass must be one of {_MASS_KINDS}, got {mass!r}")
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 2:
        raise ArgumentError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
    if not np.isfinite(mollify_factor) or mollify_factor < 0:
        raise ArgumentError(f"mollify_factor must be finite and >= 0, got {mollify_factor!r}")
    v, f = _check_mesh(verts, faces)

    if f is not None and method == "cotan":
        lengths = face_edge_lengths(v, f)
        return cotan_laplacian_from_lengths(f, lengths, len(v)), mass_from_lengths(f, lengths, len(v), kind=mass)

    if mass != "barycentric":
        what = "point clouds" if f is None else "method='robust'"
        raise ArgumentError(f"mass={mass!r} is not available for {what}; use mass='barycentric'")
    import robust_laplacian  # local import: a compiled extension, only needed here

    if f is None:
        check_point_cloud(v)
        L, M = robust_laplacian.point_cloud_laplacian(
            v, mollify_factor=float(mollify_factor), n_neighbors=int(min(n_neighbors, len(v) - 1))
        )
    else:
        L, M = robust_laplacian.mesh_laplacian(v, f, mollify_factor=float(mollify_factor))
    L = sp.csr_matrix(L, dtype=np.float64)
    m = np.asarray(M.diagonal(), dtype=np.float64).copy()
    if f is not None:
        # Vertices in no face: robust_laplacian puts an identity row there; make them isolated.
        unused = np.bincount(f.ravel(), minlength=len(v)) == 0
        if unused.any():
            keep = sp.diags((~unused).astype(np.float64))
            L = (keep @ L @ keep).tocsr()
            L.eliminate_zeros()
            m[unused] = 0.0
    L.sum_duplicates()
    L.sort_indices()
    m = _isolated_mass(m)
    return L, sp.diags(m).tocsr()
