"""Explicit, reported cleaning of a surface, with the index maps that carry labels along."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..surface import Surface
from ._areas import face_areas
from ._topology import duplicate_rows
from ..errors import ArgumentError

__all__ = ["RepairResult", "repair"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepairResult:
    """The repaired surface and how its indices relate to the input's.

    Attributes
    ----------
    surface : Surface
        The repaired surface (same name).
    vert_map : ndarray, shape (V_old,), int64
        New index of each old vertex; -1 if it was removed. Merged duplicates map to the index
        of the vertex they were merged into, so ``surface.verts[vert_map[i]] == old.verts[i]``
        wherever ``vert_map[i] >= 0``.
    face_map : ndarray, shape (F_new,), int64, or None
        Old index of each new face (``None`` for a point cloud).
    vert_source : ndarray, shape (V_new,), int64
        Old index each new vertex was taken from (the first of a merged group), so per-vertex
        data follows with ``new_data = old_data[vert_source]``.
    changes : dict of str to int
        ``merged_vertices``, ``removed_degenerate_faces``, ``removed_duplicate_faces``,
        ``removed_unreferenced_vertices``.
    """

    surface: Surface
    vert_map: np.ndarray
    face_map: np.ndarray | None
    vert_source: np.ndarray
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.changes.values())

    def summary(self) -> str:
        if not self.changed:
            return "repair: nothing to change"
        return "repair: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in self.changes.items() if v)

    def __str__(self) -> str:
        return self.summary()


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ArgumentError(f"{name} must be a bool, got {value!r}")


def repair(
    surface: Surface,
    *,
    remove_unreferenced: bool = True,
    merge_duplicates: bool = True,
    remove_degenerate: bool = True,
    remove_duplicate_faces: bool = True,
    zero_area_tol: float = 1e-14,
) -> RepairResult:
    """Clean a surface and report what changed; nothing else is touched.

    Steps, in order: merge vertices with exactly equal coordinates into the first of them
    (faces follow); remove faces that repeat a vertex index or have zero area; remove faces with
    the same vertex set as an earlier face (orientation ignored); remove vertices no face uses.
    Kept vertices and faces keep their relative order.

    Parameters
    ----------
    surface : Surface
    remove_unreferenced, merge_duplicates, remove_degenerate, remove_duplicate_faces : bool
        Switch each step. Point clouds only merge duplicates.
    zero_area_tol : float
        Zero area means ``area <= zero_area_tol * d**2``, d the bounding-box diagonal, as in
        :func:`geodesic_nets.io.inspect`.

    Returns
    -------
    RepairResult
    """
    if not isinstance(surface, Surface):
        raise ArgumentError(f"repair expects a Surface, got {type(surface).__name__}")
    for name, flag in [("remove_unreferenced", remove_unreferenced), ("merge_duplicates", merge_duplicates),
                       ("remove_degenerate", remove_degenerate), ("remove_duplicate_faces", remove_duplicate_faces)]:  # fmt: skip
        _check_flag(name, flag)
    if not (isinstance(zero_area_tol, (int, float)) and zero_area_tol >= 0):
        raise ArgumentError(f"zero_area_tol must be a number >= 0, got {zero_area_tol!r}")
    v = surface.verts
    nv = len(v)
    rep = duplicate_rows(v) if merge_duplicates else np.arange(nv, dtype=np.int64)
    is_rep = rep == np.arange(nv)
    changes = {"merged_vertices": int(nv - is_rep.sum())}

    if surface.faces is None:
        keep_vert = is_rep
        faces_new = face_map = None
    else:
        f = rep[surface.faces]  # (F, 3) faces on representatives
        keep_face = np.ones(len(f), dtype=bool)
        if remove_degenerate and len(f):
            repeated = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
            with np.errstate(over="ignore", invalid="ignore"):
                diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if nv else 0.0
                unit = diag if 0 < diag < np.inf else 1.0
                zero = (face_areas(v, f) / unit) / unit <= zero_area_tol
            keep_face &= ~(repeated | zero)
        changes["removed_degenerate_faces"] = int(len(f) - keep_face.sum())
        if remove_duplicate_faces and keep_face.any():
            kept = np.flatnonzero(keep_face)
            first = duplicate_rows(np.sort(f[kept], axis=1))
            keep_face[kept[first != np.arange(len(kept))]] = False
        changes["removed_duplicate_faces"] = int(len(f) - keep_face.sum()) - changes["removed_degenerate_faces"]
        keep_vert = is_rep.copy()
        if remove_unreferenced:
            used = np.zeros(nv, dtype=bool)
            used[f[keep_face].ravel()] = True
            keep_vert &= used
        face_map = np.flatnonzero(keep_face).astype(np.int64)
        faces_new = f[keep_face]
    changes["removed_unreferenced_vertices"] = int(is_rep.sum() - keep_vert.sum())

    new_index = np.full(nv, -1, dtype=np.int64)
    new_index[keep_vert] = np.arange(int(keep_vert.sum()), dtype=np.int64)
    vert_map = new_index[rep]
    vert_source = np.flatnonzero(keep_vert).astype(np.int64)
    if faces_new is not None:
        faces_new = new_index[faces_new]
    out = Surface(v[vert_source], faces_new, name=surface.name)
    result = RepairResult(out, vert_map, face_map, vert_source, changes)
    logger.info("%s: %s", surface.name or "surface", result.summary())
    return result
