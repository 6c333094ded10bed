"""The connection (Bochner) Laplacian on complex tangent-vector coordinates."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from .frames import _as_faces, _as_verts
from .transport import Connection
from .validate import check_point_cloud
from ..errors import ArgumentError

__all__ = ["connection_laplacian"]


def _cotan_edge_weights(v: np.ndarray, f: np.ndarray, connection: Connection) -> np.ndarray:
    """``(cot a + cot b) / 2`` on every directed edge of the connection, shape (E,)."""
    nv = len(v)
    keys = connection.edge_src * nv + connection.edge_dst
    w = np.zeros(len(keys))
    for c in range(3):
        i, j, k = f[:, c], f[:, (c + 1) % 3], f[:, (c + 2) % 3]
        e1, e2 = v[j] - v[i], v[k] - v[i]
        cross = np.linalg.norm(np.cross(e1, e2), axis=1)
        dot = np.einsum("ij,ij->i", e1, e2)
        cot = np.divide(dot, cross, out=np.zeros_like(dot), where=cross > 0)
        valid = j != k
        for a, b in ((j, k), (k, j)):
            pos = np.searchsorted(keys, a[valid] * nv + b[valid])
            pos = np.minimum(pos, len(keys) - 1)
            hit = keys[pos] == a[valid] * nv + b[valid]
            np.add.at(w, pos[hit], 0.5 * cot[valid][hit])
    return w


def _robust_cloud_weights(v: np.ndarray, connection: Connection) -> np.ndarray:
    import robust_laplacian

    check_point_cloud(v)
    lap, _ = robust_laplacian.point_cloud_laplacian(v, n_neighbors=int(min(30, len(v) - 1)))
    lap = sp.csr_matrix(lap)
    return -np.asarray(lap[connection.edge_src, connection.edge_dst]).ravel()


def connection_laplacian(
    verts: np.ndarray,
    faces: np.ndarray | None,
    connection: Connection,
    *,
    weights: Literal["cotan", "uniform"] = "cotan",
) -> sp.csr_matrix:
    """Connection (Bochner) Laplacian acting on complex tangent-vector coordinates.

    ``u^H L u = sum over undirected edges of w_ij |u_j - exp(1j transport[i->j]) u_i|^2``, i.e.
    ``L[i, i] = sum_j w_ij`` and ``L[j, i] = -w_ij exp(1j transport[i->j])``.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, or None
    connection : Connection
    weights : {"cotan", "uniform"}
        ``"cotan"``: the cotan weights ``(cot a + cot b) / 2`` on a mesh (the off-diagonal of
        ``-igl.cotmatrix``); on a point cloud the weights of ``robust_laplacian``'s point-cloud
        Laplacian on the connection's edges (its entries on other pairs are dropped).
        ``"uniform"``: 1 on every edge.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), complex128
        Hermitian; positive semidefinite when the weights are non-negative (e.g. Delaunay meshes).
        Use it with a mass matrix (vertex areas) for the generalized eigenproblem.
    """
    if weights not in ("cotan", "uniform"):
        raise ArgumentError(f"weights must be 'cotan' or 'uniform', got {weights!r}")
    v = _as_verts(verts)
    nv = len(v)
    src, dst = connection.edge_src, connection.edge_dst
    if weights == "uniform":
        w = np.ones(len(src))
    elif faces is None:
        w = _robust_cloud_weights(v, connection) if len(src) else np.zeros(0)
    else:
        w = _cotan_edge_weights(v, _as_faces(faces, nv), connection) if len(src) else np.zeros(0)
    diag = np.bincount(src, weights=w, minlength=nv)
    off = -w * np.exp(1j * connection.transport)
    rows = np.concatenate([dst, np.arange(nv)])
    cols = np.concatenate([src, np.arange(nv)])
    vals = np.concatenate([off, diag.astype(np.complex128)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(nv, nv))
