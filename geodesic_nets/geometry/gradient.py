"""Gradient operators: exact per-face P1 gradients and per-vertex tangent gradients.

Layouts
-------
* :func:`face_gradient` returns a real ``(3F, V)`` matrix whose row ``3 * f + axis`` gives the
  ``axis`` (x, y, z) component of the gradient of the piecewise-linear interpolant on face ``f``.
  (``igl.grad`` stacks the same rows axis-major: row ``axis * F + f``.)
* :func:`tangent_gradient` returns a complex ``(V, V)`` matrix: ``(G u)[i] = du/dx + 1j du/dy``
  in the frame of vertex ``i``; a gauge change ``frames.rotated(phi)`` multiplies row ``i`` by
  ``exp(-1j phi[i])``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .elements import face_areas, face_normals
from .frames import TangentFrames, _as_faces, _as_verts, _verts_in_frames
from .neighbors import knn

__all__ = ["face_gradient", "hat_gradients", "tangent_gradient"]


def hat_gradients(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Gradient of every corner's hat function on its face.

    On face ``f`` with unit normal ``n`` and area ``A``, the hat function of corner ``c`` has the
    constant gradient ``n x (p[c+2] - p[c+1]) / (2 A)``.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64

    Returns
    -------
    ndarray, shape (F, 3, 3), float64
        ``[f, c]`` the gradient (x, y, z) of corner ``c``'s hat function; zero on degenerate
        (zero-area) faces.
    """
    v = _as_verts(verts)
    f = _as_faces(faces, len(v))
    n = face_normals(v, f)  # (F, 3), zero on degenerate faces
    area = face_areas(v, f)
    inv2a = np.divide(1.0, 2.0 * area, out=np.zeros_like(area), where=area > 0)
    edges = np.stack([v[f[:, (c + 2) % 3]] - v[f[:, (c + 1) % 3]] for c in range(3)], axis=1)  # (F, 3, 3)
    return np.cross(n[:, None, :], edges) * inv2a[:, None, None]


def face_gradient(verts: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """Exact gradient of piecewise-linear functions on each face (see :func:`hat_gradients`).

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64

    Returns
    -------
    scipy.sparse.csr_matrix, shape (3F, V), float64
        Row ``3 * f + axis``. Degenerate (zero-area) faces get zero rows.
    """
    v = _as_verts(verts)
    f = _as_faces(faces, len(v))
    nf = len(f)
    g = hat_gradients(v, f)  # (F, corner, axis)
    rows = np.broadcast_to(3 * np.arange(nf)[:, None, None] + np.arange(3)[None, None, :], g.shape)
    cols = np.broadcast_to(f[:, :, None], g.shape)
    return sp.csr_matrix((g.ravel(), (rows.ravel(), cols.ravel())), shape=(3 * nf, len(v)))


def _mesh_tangent_gradient(v: np.ndarray, f: np.ndarray, frames: TangentFrames) -> sp.csr_matrix:
    nv, nf = len(v), len(f)
    grad = face_gradient(v, f)
    area = face_areas(v, f)
    # Area-weighted average of the adjacent faces, then the frame coordinates: one (V, 3F) matrix
    # whose entry (i, 3f + axis) = A_f / sum A * (basis_x[i] + 1j basis_y[i])[axis].
    total = np.bincount(f.ravel(), weights=np.repeat(area, 3), minlength=nv)
    inv_total = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    frame = frames.basis_x + 1j * frames.basis_y  # (V, 3)
    vert = f.ravel()  # (3F,) corners, face-major
    face = np.repeat(np.arange(nf), 3)
    w = area[face] * inv_total[vert]  # (3F,)
    rows = np.repeat(vert, 3)
    cols = (3 * face[:, None] + np.arange(3)[None, :]).ravel()
    vals = (w[:, None] * frame[vert]).ravel()
    avg = sp.csr_matrix((vals, (rows, cols)), shape=(nv, 3 * nf))
    return (avg @ grad).tocsr()


def _cloud_tangent_gradient(v: np.ndarray, frames: TangentFrames, n_neighbors: int) -> sp.csr_matrix:
    nv = len(v)
    idx, _ = knn(v, n_neighbors)  # (V, k)
    k = idx.shape[1]
    if nv == 0 or k == 0:
        return sp.csr_matrix((nv, nv), dtype=np.complex128)
    d = v[idx] - v[:, None, :]  # (V, k, 3)
    dx = np.einsum("vkj,vj->vk", d, frames.basis_x)
    dy = np.einsum("vkj,vj->vk", d, frames.basis_y)
    D = np.stack([dx, dy], axis=-1)  # (V, k, 2)
    # Least squares D g = u[nbrs] - u[i], slightly regularized (scale-aware) for stability.
    normal = np.einsum("vka,vkb->vab", D, D)  # (V, 2, 2)
    reg = 1e-10 * np.trace(normal, axis1=1, axis2=2) + 1e-300
    normal = normal + reg[:, None, None] * np.eye(2)
    coef = np.linalg.solve(normal, np.swapaxes(D, 1, 2))  # (V, 2, k)
    c = coef[:, 0, :] + 1j * coef[:, 1, :]  # (V, k)
    rows = np.concatenate([np.repeat(np.arange(nv), k), np.arange(nv)])
    cols = np.concatenate([idx.ravel(), np.arange(nv)])
    vals = np.concatenate([c.ravel(), -c.sum(axis=1)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(nv, nv))


def tangent_gradient(
    verts: np.ndarray,
    faces: np.ndarray | None,
    frames: TangentFrames,
    *,
    n_neighbors: int = 30,
) -> sp.csr_matrix:
    """Per-vertex gradient as a complex number in each vertex's tangent frame.

    Meshes: the area-weighted average of the P1 gradients of the faces around vertex ``i``,
    projected onto its tangent plane. Point clouds (``faces=None``): the least-squares fit of a
    linear function of the frame coordinates to the differences ``u[j] - u[i]`` over the
    ``n_neighbors`` nearest neighbours (uniform weights, a relative ``1e-10`` Tikhonov term), as
    in DiffusionNet.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, or None
    frames : TangentFrames
    n_neighbors : int
        Neighbourhood size of the point-cloud fit (unused by meshes).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), complex128
        ``(G u)[i] = du/dx + 1j du/dy``; rows of isolated mesh vertices are zero.
    """
    v, n_neighbors = _verts_in_frames(verts, frames, n_neighbors)
    if faces is None:
        return _cloud_tangent_gradient(v, frames, n_neighbors)
    return _mesh_tangent_gradient(v, _as_faces(faces, len(v)), frames)
