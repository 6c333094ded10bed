"""Checks on inputs before a compiled extension sees them: point clouds, mesh scale, and the
arrays and vertex indices given to the geodesic and log-map solvers."""

from __future__ import annotations

import numpy as np

from ..errors import GeometryError
from ..validation import check_faces, check_index, check_indices, check_verts

__all__ = ["check_point_cloud", "check_mesh_scale", "MIN_CLOUD_POINTS", "SCALE_RANGE"]

#: mean edge lengths outside this range make the heat method's time step (its square) leave the
#: range of normal float64 numbers, and geometry-central's solvers abort on non-finite entries
SCALE_RANGE = (1e-100, 1e100)

#: fewest points a point-cloud Laplacian, connection or heat solver is built on
MIN_CLOUD_POINTS = 4


def check_point_cloud(verts: np.ndarray, *, what: str = "point cloud") -> np.ndarray:
    """The points as float64, or a :class:`GeometryError` saying why no surface operator fits them.

    The local triangulations behind the point-cloud Laplacian and heat method (robust_laplacian,
    potpourri3d) abort inside C++ on clouds with too few points or without two independent
    directions; this says so in the package's words first.

    Parameters
    ----------
    verts : array, shape (V, 3)
        Finite coordinates.

    Raises
    ------
    GeometryError
        Fewer than :data:`MIN_CLOUD_POINTS` points; all points identical; all points on one line.
    """
    v = np.asarray(verts, dtype=np.float64)
    if len(v) < MIN_CLOUD_POINTS:
        raise GeometryError(f"a {what} needs at least {MIN_CLOUD_POINTS} points, got {len(v)}")
    centred = v - v.mean(axis=0)
    extent = np.abs(centred).max(axis=0)
    if not extent.max() > 0:
        raise GeometryError(f"all {len(v)} points of the {what} are identical: there is no surface to sample")
    sv = np.linalg.svd(centred / extent.max(), compute_uv=False)  # scaled first: no underflow at 1e-150
    if not sv[1] > 1e-9 * sv[0]:
        raise GeometryError(f"the {len(v)} points of the {what} lie on one line: they span no surface")
    return v


#: Ratio of the longest to the shortest nonzero edge beyond which float64 operators lose their meaning.
EDGE_SPREAD_WARN = 1e12


def scale_problem(verts: np.ndarray, faces: np.ndarray | None, *, what: str = "mesh") -> str | None:
    """A sentence saying why the scales of a mesh make its operators unreliable, or None.

    Flags edge lengths spread over more than :data:`EDGE_SPREAD_WARN` (e.g. parts of one mesh
    scaled by 1e30 and 1e-30), or a mean edge length outside :data:`SCALE_RANGE`: the Laplacian's
    entries then span more than float64 can resolve, its small eigenvalues are noise, and the
    solvers may fall back to slow paths. Point clouds (``faces`` None) are not checked here.
    """
    if faces is None or len(faces) == 0:
        return None
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        lengths = np.linalg.norm(v[f] - v[np.roll(f, -1, axis=1)], axis=2).ravel()
    lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
    if lengths.size == 0:
        return None
    shortest, longest = float(lengths.min()), float(lengths.max())
    if longest > EDGE_SPREAD_WARN * shortest:
        return (f"the {what}'s edge lengths span {shortest:.1e} to {longest:.1e}: its operators are not meaningful "
                "in float64 and may take slow fallback paths; rescale or repair it (geodesic_nets.io.normalize)")
    lo, hi = SCALE_RANGE
    mean = float(lengths.mean())
    if not lo <= mean <= hi:
        return (f"the {what} has mean edge length {mean:.1e}, outside [{lo:.0e}, {hi:.0e}]; rescale it "
                "(geodesic_nets.io.normalize)")
    return None


def check_mesh_scale(verts: np.ndarray, faces: np.ndarray, *, what: str = "mesh") -> float:
    """The mean edge length of a mesh, or a :class:`GeometryError` when no solver can use it.

    Raises
    ------
    GeometryError
        Every edge has length 0 (the vertices of its faces coincide), or the mean edge length
        is outside :data:`SCALE_RANGE` (the message says to rescale, e.g. with
        :func:`geodesic_nets.io.normalize`).
    """
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        lengths = np.linalg.norm(v[f] - v[np.roll(f, -1, axis=1)], axis=2)
        mean = float(lengths.mean()) if lengths.size else 0.0
    if not np.isfinite(mean):
        raise GeometryError(f"the edge lengths of the {what} overflow float64: rescale it (geodesic_nets.io.normalize)")
    if mean == 0.0:
        raise GeometryError(f"every edge of the {what} has length 0: its faces' vertices coincide")
    lo, hi = SCALE_RANGE
    if not lo <= mean <= hi:
        raise GeometryError(f"the {what} has mean edge length {mean:.1e}, outside [{lo:.0e}, {hi:.0e}] where the "
                            "heat method's time step is a normal float64: rescale it (geodesic_nets.io.normalize)")
    return mean


# ---------------------------------------------------------------------------- solver inputs
def _as_verts(verts) -> np.ndarray:
    return check_verts(verts, error=GeometryError, allow_empty=False)


def _as_faces(faces, num_verts: int) -> np.ndarray:
    return check_faces(faces, num_verts, error=GeometryError, allow_empty=False)


def _check_index(index, num_verts: int, what: str = "source") -> int:
    """A vertex index as a Python int, or a GeometryError naming it."""
    return check_index(index, num_verts, what=what, error=GeometryError)


def _check_indices(indices, num_verts: int, what: str = "source") -> np.ndarray:
    """A 1-D int64 array of vertex indices, or a GeometryError naming the first bad one."""
    return check_indices(indices, num_verts, what=what, error=GeometryError)


def _check_edge_manifold(faces: np.ndarray, num_verts: int, what: str) -> None:
    """GeometryError naming a face with a repeated vertex or an edge shared by > 2 faces."""
    rep = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    if rep.any():
        j = int(np.flatnonzero(rep)[0])
        raise GeometryError(
            f"face {j} repeats a vertex {faces[j].tolist()} ({int(rep.sum())} such faces); {what} needs"
            " a manifold mesh (geodesic_nets.io.repair removes degenerate faces)"
        )
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    keys, counts = np.unique(e[:, 0] * num_verts + e[:, 1], return_counts=True)
    if (counts > 2).any():
        k = int(keys[np.flatnonzero(counts > 2)[0]])
        raise GeometryError(
            f"edge ({k // num_verts}, {k % num_verts}) is shared by {int(counts.max())} faces"
            f" ({int((counts > 2).sum())} such edges); {what} needs an edge-manifold mesh"
        )
