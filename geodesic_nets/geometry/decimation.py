"""Mesh decimation by quadric-error edge collapse (libigl's ``qslim``), with where every vertex came from.

Decimated copies of test shapes measure how a trained network copes with a different
discretisation of the same surface; ``source_vertex`` carries per-vertex ground truth (labels,
correspondences) over to the coarser mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GeometryError
from ..validation import check_faces, check_verts
from .validate import _check_edge_manifold

__all__ = ["Decimation", "decimate", "non_manifold_edges"]


@dataclass(frozen=True)
class Decimation:
    """A decimated mesh.

    Attributes
    ----------
    verts : ndarray, shape (V', 3), float64
    faces : ndarray, shape (F', 3), int64
        Oriented as the input's faces.
    source_vertex : ndarray, shape (V',), int64
        The input vertex each output vertex was born from (it survived every collapse it took part
        in; its position was moved to the quadric optimum).
    source_face : ndarray, shape (F',), int64
        The input face each output face was born from.
    """

    verts: np.ndarray
    faces: np.ndarray
    source_vertex: np.ndarray
    source_face: np.ndarray


def non_manifold_edges(faces: np.ndarray) -> np.ndarray:
    """Undirected edges, shape (N, 2) int64, that are not shared by one or two oppositely oriented faces."""
    f = np.asarray(faces, dtype=np.int64)
    half = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1).reshape(-1, 2)
    key = np.sort(half, axis=1)
    uniq, inverse, count = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    # +1 for a half-edge running (min -> max), -1 for (max -> min): a manifold pair sums to 0
    direction = np.where(half[:, 0] < half[:, 1], 1, -1)
    balance = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(balance, inverse, direction)
    bad = (count > 2) | ((count == 2) & (balance != 0))
    return uniq[bad]


def decimate(
    verts: np.ndarray,
    faces: np.ndarray,
    *,
    target_faces: int | None = None,
    ratio: float | None = None,
) -> Decimation:
    """Collapse edges by quadric error until at most ``target_faces`` (or ``ratio * F``) faces remain.

    Parameters
    ----------
    verts : array, shape (V, 3), float
    faces : array, shape (F, 3), int
        An edge-manifold triangle mesh, consistently oriented (boundaries allowed).
    target_faces : int, optional
        Faces to keep, at least 4 and fewer than ``F``.
    ratio : float, optional
        Fraction of the faces to keep, in (0, 1); exactly one of the two is given.

    Returns
    -------
    Decimation
        libigl stops early where no collapse keeps the mesh manifold, so ``len(faces)`` may stay
        above the target; unreferenced vertices are removed.

    Raises
    ------
    GeometryError
        Bad arrays, a face with a repeated vertex, a non-manifold or inconsistently oriented mesh
        (libigl assumes a manifold and may abort on one), or a target out of range.
    """
    v = check_verts(verts, error=GeometryError, allow_empty=False)
    f = check_faces(faces, len(v), error=GeometryError, allow_empty=False)
    if (target_faces is None) == (ratio is None):
        raise GeometryError("decimate needs exactly one of target_faces and ratio")
    if ratio is not None:
        if not 0.0 < float(ratio) < 1.0:
            raise GeometryError(f"ratio must be in (0, 1), got {ratio}")
        target_faces = max(4, round(float(ratio) * len(f)))
    if isinstance(target_faces, bool) or not isinstance(target_faces, (int, np.integer)):
        raise GeometryError(f"target_faces must be an int, got {target_faces!r}")
    if not 4 <= int(target_faces) < len(f):
        raise GeometryError(f"target_faces must be in [4, {len(f)}) for a mesh of {len(f)} faces, got {target_faces}")
    _check_edge_manifold(f, len(v), "decimation")  # repeated vertices, edges of more than two faces
    bad = non_manifold_edges(f)  # what is left: inconsistently oriented pairs
    if len(bad):
        raise GeometryError(f"cannot decimate a mesh with {len(bad)} non-manifold or inconsistently oriented "
                            f"edges (the first: vertices {bad[0, 0]}, {bad[0, 1]})")
    import igl

    U, G, J, I = igl.qslim(np.asfortranarray(v), np.asfortranarray(f, dtype=np.int32), int(target_faces))
    G = np.asarray(G, dtype=np.int64)
    I = np.asarray(I, dtype=np.int64)
    used = np.zeros(len(U), dtype=bool)
    used[G.ravel()] = True
    new_index = np.cumsum(used) - 1
    return Decimation(
        verts=np.ascontiguousarray(U[used], dtype=np.float64),
        faces=new_index[G].astype(np.int64),
        source_vertex=I[used],
        source_face=np.asarray(J, dtype=np.int64),
    )
