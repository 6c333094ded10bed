"""Anisotropic Laplacians and their heat kernels on geodesic patches (the ACNN patch operator).

Construction (Andreux et al. 2014, "Anisotropic Laplace-Beltrami operators for shape analysis";
Boscaini et al. 2016, "Learning shape correspondence with anisotropic convolutional neural
networks")
-------------------------------------------------------------------------------------------------
On each face the conductivity tensor is ``A = alpha u u^T + w w^T``, with ``u`` the unit direction
at angle ``theta`` (counter-clockwise about the face normal) from the face's principal (maximum)
curvature direction and ``w = n x u``: heat spreads ``alpha`` times faster along ``u`` than
across it. The anisotropic Laplacian is the P1 finite-element stiffness matrix of
``-div(A grad f)``,

    L_{alpha, theta}[i, j] = sum_f area_f  grad(phi_i)_f^T  A_f  grad(phi_j)_f,

symmetric positive semidefinite with constants in its kernel; ``alpha = 1`` gives the cotangent
Laplacian exactly. With the lumped masses ``M`` and the ``K`` smallest eigenpairs of
``L phi = lambda M phi``, the heat kernel is ``h_t(x, y) = sum_k exp(-t lambda_k) phi_k(x)
phi_k(y)``; the ACNN patch operator weighs the neighbours ``y`` of ``x`` by it.

Principal directions
--------------------
:func:`face_principal_directions` fits, on every face, the 2 x 2 shape operator ``S`` (``dn = S dx``)
to the changes of the angle-weighted vertex normals along the face's three edges (least squares,
as in Rusinkiewicz 2004, "Estimating curvatures and their derivatives on triangle meshes"),
smooths it once (the area-weighted mean of the face tensors around each vertex, then the mean of
the three corner tensors, each projected onto the face plane), and takes the eigenvector of its
largest eigenvalue (the maximum curvature, positive on convex parts with outward normals). Every
step is a sum over faces or corners, so the result does not depend on the vertex numbering
(libigl's quadric-fit ``principal_curvature`` does, which broke the permutation test of the
ACNN layer). Where the two eigenvalues coincide (planes, spheres) the
face's first edge is used: the direction is then arbitrary but deterministic, and the kernels
lose their meaning as curvature-aligned (they stay valid anisotropic kernels).

Limits
------
Triangle meshes only (the point-cloud analogue needs an anisotropic point-cloud Laplacian).
The truncated expansion resolves kernels down to about ``1 / lambda_K`` in time: shorter times
ring, and the (small) negative lobes are clipped to 0 before use.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ArgumentError, GeometryError
from .elements import face_areas, face_normals, vertex_normals
from .gradient import hat_gradients
from .frames import _as_faces, _as_verts
from .spectral import eigen_basis

__all__ = [
    "face_principal_directions",
    "anisotropic_laplacian",
    "anisotropic_heat_kernels",
    "weyl_time_unit",
]

_CHUNK = 1 << 14  # patch entries evaluated together (the (P, K) products stay in cache)


def _mesh(verts: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if faces is None:
        raise GeometryError("anisotropic kernels need a triangle mesh, got a point cloud (faces=None)")
    v = _as_verts(verts)
    f = _as_faces(faces, len(v))
    if len(f) == 0:
        raise GeometryError("anisotropic kernels need at least one face")
    return v, f


def _face_frame(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit normal, first-edge direction and ``normal x first edge`` of each face, (F, 3) each.

    Degenerate faces get zero vectors.
    """
    n = face_normals(v, f)
    e = v[f[:, 1]] - v[f[:, 0]]
    e = e - np.sum(e * n, axis=1, keepdims=True) * n
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    ex = np.divide(e, norm, out=np.zeros_like(e), where=norm > 0)
    return n, ex, np.cross(n, ex)


def face_principal_directions(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Maximum principal curvature direction of each face, as a unit vector in the face plane.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64

    Returns
    -------
    ndarray, shape (F, 3), float64
        Unit vectors orthogonal to the face normals (defined up to sign); the first edge's
        direction where the curvature is isotropic; zero on degenerate faces.

    Raises
    ------
    GeometryError
        On a point cloud, or an empty or malformed mesh.
    """
    v, f = _mesh(verts, faces)
    n, ex, ey = _face_frame(v, f)
    vn = vertex_normals(v, f)
    frame = np.stack([ex, ey], axis=2)  # (F, 3, 2)
    # Least-squares fit of S (symmetric 2x2: a, b, c) to S e_k = dn_k over the three edges.
    rows, rhs = [], []
    for k in range(3):
        i, j = f[:, k], f[:, (k + 1) % 3]
        e = np.einsum("fx,fxa->fa", v[j] - v[i], frame)  # (F, 2)
        dn = np.einsum("fx,fxa->fa", vn[j] - vn[i], frame)
        zero = np.zeros(len(f))
        rows += [np.stack([e[:, 0], e[:, 1], zero], 1), np.stack([zero, e[:, 0], e[:, 1]], 1)]
        rhs += [dn[:, 0], dn[:, 1]]
    A = np.stack(rows, axis=1)  # (F, 6, 3)
    y = np.stack(rhs, axis=1)  # (F, 6)
    ata = np.einsum("fra,frb->fab", A, A)
    aty = np.einsum("fra,fr->fa", A, y)
    ok = np.abs(np.linalg.det(ata)) > 1e-300
    abc = np.zeros((len(f), 3))
    abc[ok] = np.linalg.solve(ata[ok], aty[ok][..., None])[..., 0]
    S2 = np.stack([np.stack([abc[:, 0], abc[:, 1]], -1), np.stack([abc[:, 1], abc[:, 2]], -1)], -2)  # (F, 2, 2)
    T = np.einsum("fxa,fab,fyb->fxy", frame, S2, frame)  # (F, 3, 3), in the face plane
    area = face_areas(v, f)
    Tv = np.zeros((len(v), 3, 3))
    wv = np.zeros(len(v))
    for k in range(3):
        np.add.at(Tv, f[:, k], area[:, None, None] * T)
        np.add.at(wv, f[:, k], area)
    Tv = np.divide(Tv, wv[:, None, None], out=np.zeros_like(Tv), where=wv[:, None, None] > 0)
    S = np.einsum("fxa,fxy,fyb->fab", frame, Tv[f].mean(axis=1), frame)  # (F, 2, 2)
    # Largest eigenvalue's eigenvector of [[p, q], [q, r]]: angle 0.5 atan2(2q, p - r).
    p, q, r = S[:, 0, 0], 0.5 * (S[:, 0, 1] + S[:, 1, 0]), S[:, 1, 1]
    gap = np.hypot(p - r, 2 * q)
    scale = np.abs(S).reshape(len(f), -1).max(axis=1)
    defined = gap > 1e-8 * scale
    half = np.where(defined, 0.5 * np.arctan2(2 * q, p - r), 0.0)  # fallback: the first edge (angle 0)
    return np.cos(half)[:, None] * ex + np.sin(half)[:, None] * ey


class _OrientedStiffness:
    """What the anisotropic Laplacians of one mesh and one direction field share: the hat
    gradients, areas, normals and unit reference directions, computed once for every
    (anisotropy, angle)."""

    def __init__(self, v: np.ndarray, f: np.ndarray, directions: np.ndarray) -> None:
        d = np.asarray(directions, dtype=np.float64)
        if d.shape != f.shape:
            raise GeometryError(f"directions must have shape (F, 3) = {f.shape}, got {d.shape}")
        self.faces, self.num_verts = f, len(v)
        self.normals = face_normals(v, f)
        self.area = face_areas(v, f)
        self.grads = hat_gradients(v, f)  # (F, corner, 3)
        d = d - np.sum(d * self.normals, axis=1, keepdims=True) * self.normals
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        self.directions = np.divide(d, norm, out=np.zeros_like(d), where=norm > 1e-12)

    def matrix(self, alpha: float, angle: float) -> sp.csr_matrix:
        n, d, f = self.normals, self.directions, self.faces
        u = np.cos(angle) * d + np.sin(angle) * np.cross(n, d)
        w = np.cross(n, u)
        gu = np.einsum("fcx,fx->fc", self.grads, u)  # (F, 3)
        gw = np.einsum("fcx,fx->fc", self.grads, w)
        local = self.area[:, None, None] * (alpha * gu[:, :, None] * gu[:, None, :] + gw[:, :, None] * gw[:, None, :])
        rows = np.repeat(f, 3, axis=1).ravel()  # (F * 9,): corner a of row-major (a, b)
        cols = np.tile(f, (1, 3)).ravel()
        nv = self.num_verts
        return sp.csr_matrix((local.ravel(), (rows, cols)), shape=(nv, nv))


def anisotropic_laplacian(
    verts: np.ndarray,
    faces: np.ndarray,
    directions: np.ndarray,
    *,
    anisotropy: float,
    angle: float = 0.0,
) -> sp.csr_matrix:
    """P1 stiffness matrix of ``-div(A grad f)`` with ``A = alpha u u^T + w w^T`` per face.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64
    directions : array, shape (F, 3)
        Reference direction of each face (e.g. :func:`face_principal_directions`); projected
        onto the face plane and normalized here.
    anisotropy : float
        ``alpha > 0``: conductivity along ``u`` relative to across it.
    angle : float
        ``u`` is ``directions`` rotated by ``angle`` radians counter-clockwise about the normal.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), float64
        Symmetric positive semidefinite (the sign convention of the package's Laplacians);
        ``anisotropy = 1`` gives the cotangent Laplacian. Degenerate faces, and faces whose
        direction is zero or normal to them, contribute nothing.
    """
    v, f = _mesh(verts, faces)
    return _OrientedStiffness(v, f, directions).matrix(_anisotropy(anisotropy), angle)


def _anisotropy(value: float) -> float:
    alpha = float(value)
    if not np.isfinite(alpha) or alpha <= 0:
        raise ArgumentError(f"anisotropy must be a positive finite number, got {value!r}")
    return alpha


def weyl_time_unit(total_area: float, k: int) -> float:
    """``A / (4 pi k)``: about ``1 / lambda_k`` of a surface of area ``A`` (Weyl's law)."""
    return float(total_area) / (4.0 * np.pi * max(int(k), 1))


def anisotropic_heat_kernels(
    verts: np.ndarray,
    faces: np.ndarray,
    mass: np.ndarray,
    center: np.ndarray,
    neighbor: np.ndarray,
    *,
    n_orientations: int,
    anisotropy: tuple[float, ...],
    times: tuple[float, ...],
    k_eig: int,
    directions: np.ndarray | None = None,
) -> np.ndarray:
    """Anisotropic heat kernels ``h(center[p], neighbor[p])`` at every patch entry.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64
    mass : array, shape (V,)
        Positive lumped masses (the ``M`` of the eigenproblem).
    center, neighbor : array, shape (P,), int64
        Patch entries (:class:`~geodesic_nets.geometry.patches.GeodesicPatches`).
    n_orientations : int
        Orientations ``theta_k = pi k / n_orientations`` from ``directions``.
    anisotropy : tuple of float
        Ratios ``alpha >= 1``.
    times : tuple of float
        Diffusion times in units of :func:`weyl_time_unit` ``(area, K)``.
    k_eig : int
        Eigenpairs per anisotropic Laplacian (``K = min(k_eig, V)``).
    directions : array, shape (F, 3), optional
        Reference directions; default :func:`face_principal_directions`.

    Returns
    -------
    ndarray, shape (P, len(anisotropy) * len(times) * n_orientations), float64
        Columns ordered (alpha, t, theta) with theta fastest; negative values of the truncated
        expansion are set to 0. Not normalized (the patch operator normalizes per patch).
    """
    v, f = _mesh(verts, faces)
    m = np.asarray(mass, dtype=np.float64)
    c = np.asarray(center, dtype=np.int64)
    q = np.asarray(neighbor, dtype=np.int64)
    if m.shape != (len(v),) or not (m > 0).all():
        raise GeometryError(f"mass must be positive with shape ({len(v)},)")
    if c.shape != q.shape or c.ndim != 1:
        raise GeometryError(f"center and neighbor must be 1-D of one length, got {c.shape} and {q.shape}")
    if not isinstance(n_orientations, int) or n_orientations < 1:
        raise ArgumentError(f"n_orientations must be a positive int, got {n_orientations!r}")
    alphas = tuple(float(a) for a in anisotropy)
    taus = np.asarray(times, dtype=np.float64)
    if not alphas or min(alphas) < 1 or taus.size == 0 or not (taus > 0).all():
        raise ArgumentError(f"need anisotropy >= 1 and positive times, got {anisotropy!r}, {times!r}")
    stiffness = _OrientedStiffness(v, f, face_principal_directions(v, f) if directions is None else directions)
    k = min(int(k_eig), len(v))
    t = taus * weyl_time_unit(float(face_areas(v, f).sum()), k)  # (n_t,)
    out = np.empty((len(c), len(alphas), len(taus), n_orientations))
    for ia, alpha in enumerate(alphas):
        for it_ in range(n_orientations):
            L = stiffness.matrix(alpha, np.pi * it_ / n_orientations)
            evals, evecs = eigen_basis(L, m, k)
            decay = np.exp(-np.outer(evals, t))  # (K, n_t)
            for s in range(0, len(c), _CHUNK):
                sl = slice(s, s + _CHUNK)
                out[sl, ia, :, it_] = (evecs[c[sl]] * evecs[q[sl]]) @ decay
    np.maximum(out, 0.0, out=out)
    return out.reshape(len(c), -1)
