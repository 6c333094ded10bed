"""Elementary mesh quantities: edges, lengths, areas, angles, normals.

Everything here is a vectorized function of numpy arrays ``verts`` (V, 3) float64 and
``faces`` (F, 3) int64. Conventions shared by the whole ``geometry`` package:

* corner ``c`` of face ``f`` is vertex ``faces[f, c]``; the edge *opposite* that corner joins
  ``faces[f, c+1]`` and ``faces[f, c+2]`` (indices mod 3);
* ``face_edge_lengths[f, c]`` is the length of the edge opposite corner ``c``;
* directed edges come in both directions, sorted by ``(edge_src, edge_dst)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ArgumentError

__all__ = [
    "directed_edges",
    "undirected_edges",
    "face_edge_lengths",
    "face_areas",
    "face_areas_from_lengths",
    "face_normals",
    "corner_angles",
    "corner_angles_from_lengths",
    "vertex_areas",
    "vertex_normals",
    "vertex_adjacency",
    "boundary_vertex_mask",
]


def _unique_pairs(a: np.ndarray, b: np.ndarray, num_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique (a, b) pairs sorted by (a, b), via one int64 key (much faster than unique(axis=0))."""
    n = max(int(num_verts), int(max(a.max(initial=-1), b.max(initial=-1))) + 1, 1)
    key = np.unique(a.astype(np.int64) * n + b)
    return key // n, key % n


def undirected_edges(faces: np.ndarray, num_verts: int | None = None) -> np.ndarray:
    """Unique undirected edges, shape (E_u, 2) int64, each row sorted, rows sorted."""
    faces = np.asarray(faces, dtype=np.int64)
    if faces.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    lo, hi = e.min(axis=1), e.max(axis=1)
    keep = lo != hi
    a, b = _unique_pairs(lo[keep], hi[keep], num_verts or 0)
    return np.stack([a, b], axis=1)


def directed_edges(faces: np.ndarray, num_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every mesh edge, sorted by (src, dst).

    Returns
    -------
    edge_src, edge_dst : ndarray, shape (E,), int64
        ``E = 2 * number of undirected edges``; for every pair ``(i, j)`` the reverse ``(j, i)``
        is present too.
    """
    u = undirected_edges(faces, num_verts)
    return _unique_pairs(np.concatenate([u[:, 0], u[:, 1]]), np.concatenate([u[:, 1], u[:, 0]]), num_verts)


def face_edge_lengths(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Length of the edge opposite each corner, shape (F, 3) float64."""
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    p0, p1, p2 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return np.stack(
        [np.linalg.norm(p2 - p1, axis=1), np.linalg.norm(p0 - p2, axis=1), np.linalg.norm(p1 - p0, axis=1)],
        axis=1,
    )


def face_areas_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """Triangle areas from edge lengths (F, 3) by the numerically stable Heron formula, (F,).

    Triangles that violate the triangle inequality (possible only for intrinsic lengths) get 0.
    """
    s = np.sort(np.asarray(lengths, dtype=np.float64), axis=1)[:, ::-1]  # a >= b >= c
    a, b, c = s[:, 0], s[:, 1], s[:, 2]
    q = (a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c))
    return 0.25 * np.sqrt(np.clip(q, 0.0, None))


def face_normals(verts: np.ndarray, faces: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Face normals (F, 3). With ``normalize=False`` the length is twice the face area.

    Degenerate faces get a zero normal.
    """
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    if normalize:
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    return n


def face_areas(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle areas, shape (F,) float64."""
    return 0.5 * np.linalg.norm(face_normals(verts, faces, normalize=False), axis=1)


def corner_angles_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """Interior angle at each corner from the edge lengths (F, 3), by the law of cosines, (F, 3)."""
    l = np.asarray(lengths, dtype=np.float64)
    a, b, c = l[:, 0], l[:, 1], l[:, 2]

    def angle(opp, s1, s2):
        den = 2.0 * s1 * s2
        cos = np.divide(s1 * s1 + s2 * s2 - opp * opp, den, out=np.ones_like(den), where=den > 0)
        return np.arccos(np.clip(cos, -1.0, 1.0))

    return np.stack([angle(a, b, c), angle(b, c, a), angle(c, a, b)], axis=1)


def corner_angles(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Interior angle at each corner, (F, 3), computed with atan2 (accurate for thin triangles)."""
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    out = np.empty(f.shape, dtype=np.float64)
    for c in range(3):
        p = v[f[:, c]]
        e1 = v[f[:, (c + 1) % 3]] - p
        e2 = v[f[:, (c + 2) % 3]] - p
        out[:, c] = np.arctan2(np.linalg.norm(np.cross(e1, e2), axis=1), np.einsum("ij,ij->i", e1, e2))
    return out


def vertex_areas(verts: np.ndarray, faces: np.ndarray, num_verts: int | None = None) -> np.ndarray:
    """Barycentric (one third of each incident face) vertex areas, shape (V,)."""
    nv = len(verts) if num_verts is None else num_verts
    a = face_areas(verts, faces) / 3.0
    return np.bincount(np.asarray(faces).ravel(), weights=np.repeat(a, 3), minlength=nv)


def vertex_normals(verts: np.ndarray, faces: np.ndarray, *, weighting: str = "angle") -> np.ndarray:
    """Unit vertex normals (V, 3), the ``weighting`` ("angle" or "area") average of face normals.

    Vertices in no face, or whose incident normals cancel, get a zero vector.
    """
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    fn = face_normals(v, f)
    if weighting == "angle":
        w = corner_angles(v, f)
    elif weighting == "area":
        w = np.repeat(face_areas(v, f)[:, None], 3, axis=1)
    else:
        raise ArgumentError(f"weighting must be 'angle' or 'area', got {weighting!r}")
    n = np.zeros_like(v)
    for c in range(3):
        np.add.at(n, f[:, c], fn * w[:, c : c + 1])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)


def vertex_adjacency(faces: np.ndarray, num_verts: int) -> sp.csr_matrix:
    """Symmetric 0/1 vertex adjacency, shape (V, V) CSR with sorted indices."""
    src, dst = directed_edges(faces, num_verts)
    return sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(num_verts, num_verts))


def boundary_vertex_mask(faces: np.ndarray, num_verts: int) -> np.ndarray:
    """True for vertices on an edge used by exactly one face, shape (V,) bool."""
    f = np.asarray(faces, dtype=np.int64)
    mask = np.zeros(num_verts, dtype=bool)
    if f.size == 0:
        return mask
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    key, counts = np.unique(e[:, 0] * num_verts + e[:, 1], return_counts=True)
    once = key[counts == 1]
    mask[once // num_verts] = True
    mask[once % num_verts] = True
    return mask
