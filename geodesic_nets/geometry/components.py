"""Connected components of a mesh through its faces, and the per-component sub-meshes the
geodesic and log-map solvers factor one at a time."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["mesh_components"]


def mesh_components(faces: np.ndarray, num_verts: int) -> tuple[int, np.ndarray]:
    """Connected components of a mesh through its faces.

    Returns
    -------
    n : int
        Number of components; a vertex used by no face is a component of its own.
    labels : ndarray, shape (V,), int64
    """
    f = np.asarray(faces, dtype=np.int64)
    rows = np.concatenate([f[:, 0], f[:, 1]])
    cols = np.concatenate([f[:, 1], f[:, 2]])
    adj = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(num_verts, num_verts))
    n, labels = connected_components(adj, directed=False)
    return int(n), labels.astype(np.int64)


class _Component:
    """The faces of one connected component, re-indexed onto its own vertices."""

    __slots__ = ("verts", "faces", "local")

    def __init__(self, verts_index: np.ndarray, faces: np.ndarray, num_verts: int) -> None:
        self.verts = verts_index  # (Vc,) global indices, sorted
        local = np.full(num_verts, -1, dtype=np.int64)
        local[verts_index] = np.arange(len(verts_index))
        self.local = local  # only read at this component's vertices
        self.faces = local[faces]


def _split_components(faces: np.ndarray, num_verts: int) -> tuple[np.ndarray, list[_Component | None]]:
    """Per-component sub-meshes; entry ``None`` for an isolated vertex (no face)."""
    n, labels = mesh_components(faces, num_verts)
    face_label = labels[faces[:, 0]]
    order = np.argsort(face_label, kind="stable")
    face_starts = np.searchsorted(face_label[order], np.arange(n + 1))
    vert_order = np.argsort(labels, kind="stable")
    vert_starts = np.searchsorted(labels[vert_order], np.arange(n + 1))
    comps: list[_Component | None] = []
    for c in range(n):
        fc = faces[order[face_starts[c] : face_starts[c + 1]]]
        if len(fc) == 0:
            comps.append(None)
        else:
            comps.append(_Component(vert_order[vert_starts[c] : vert_starts[c + 1]], fc, num_verts))
    return labels, comps

