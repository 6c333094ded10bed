"""Exact polyhedral geodesic distance through libigl (Mitchell-Mount-Papadimitriou).

Slow but exact on the piecewise-flat surface: meant for references and small meshes.
"""

from __future__ import annotations

import numpy as np

from ..errors import GeometryError
from .components import _split_components
from .validate import _as_faces, _as_verts, _check_edge_manifold, _check_index, _check_indices

__all__ = ["ExactGeodesicSolver", "exact_geodesic"]


class ExactGeodesicSolver:
    """Exact polyhedral geodesic distance (libigl's MMP), with the solver interface.

    Nothing is factored: each query runs the window propagation on the source's connected
    component, O(V^2 log V) in the worst case. Meant for references and small meshes.

    Parameters
    ----------
    verts : array, shape (V, 3)
    faces : array, shape (F, 3), int
        An edge-manifold triangle mesh (no edge in more than two faces, no face repeating a
        vertex); point clouds have no exact geodesic distance.

    Raises
    ------
    GeometryError
        Empty mesh, point cloud, non-manifold edge or degenerate face (named in the message).
    """

    def __init__(self, verts, faces) -> None:
        if faces is None:
            raise GeometryError("exact geodesic distance needs a triangle mesh; got a point cloud (faces=None)")
        self._verts = _as_verts(verts)
        self._faces = _as_faces(faces, len(self._verts))
        # libigl's MMP crashes the interpreter on these: refuse them with a clear error
        _check_edge_manifold(self._faces, len(self._verts), "exact geodesic distance")
        self._labels, self._comps = _split_components(self._faces, len(self._verts))

    @property
    def num_verts(self) -> int:
        """Number of vertices V."""
        return len(self._verts)

    def distance(self, source: int, targets=None) -> np.ndarray:
        """Exact distance from ``source``.

        Parameters
        ----------
        source : int
        targets : array-like of int, shape (T,), optional
            Only these vertices (default: all).

        Returns
        -------
        dist : ndarray, shape (V,) or (T,), float64
            ``inf`` for vertices not connected to the source.
        """
        import igl

        s = _check_index(source, self.num_verts)
        tgt = None if targets is None else _check_indices(targets, self.num_verts, what="target")
        out = np.full(self.num_verts, np.inf)
        comp = self._comps[self._labels[s]]
        if comp is not None:
            d = igl.exact_geodesic(
                np.ascontiguousarray(self._verts[comp.verts]),
                comp.faces,
                VS=np.array([comp.local[s]], dtype=np.int64),
                VT=np.arange(len(comp.verts), dtype=np.int64),
            )
            out[comp.verts] = np.asarray(d, dtype=np.float64)
        out[s] = 0.0
        return out if tgt is None else out[tgt]


def exact_geodesic(verts, faces, source: int, targets=None) -> np.ndarray:
    """Exact polyhedral geodesic distance from one vertex (libigl, MMP algorithm).

    Parameters
    ----------
    verts : array, shape (V, 3)
    faces : array, shape (F, 3), int
    source : int
    targets : array-like of int, shape (T,), optional

    Returns
    -------
    dist : ndarray, shape (V,) or (T,), float64
        ``inf`` for vertices not connected to the source.

    Raises
    ------
    GeometryError
        Empty mesh, point cloud, or an index out of range (named in the message).
    """
    return ExactGeodesicSolver(verts, faces).distance(source, targets)

