"""Heat-method geodesic distance (Crane et al. 2013) through potpourri3d's solvers.

:class:`HeatGeodesicSolver` factors the Laplacian once; every source then costs two
back-substitutions. See :mod:`geodesic_nets.geometry.geodesics` for the conventions (``inf`` at
unreachable vertices, ``d(s, t)`` read from the solve whose source is ``s``).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, GeometryError
from .components import _Component, _split_components
from .validate import _as_faces, _as_verts, _check_index, _check_indices, check_mesh_scale, check_point_cloud

#: potpourri3d's PointCloudHeatSolver builds each point's neighbourhood from its 30 nearest points
_PP3D_CLOUD_MIN_POINTS = 31

__all__ = ["HeatGeodesicSolver", "heat_geodesic"]


class HeatGeodesicSolver:
    """Heat-method geodesic distance, factored once and queried for many sources.

    Parameters
    ----------
    verts : array, shape (V, 3), float
    faces : array, shape (F, 3), int, optional
        ``None`` treats ``verts`` as a point cloud (potpourri3d's point-cloud heat solver on a
        local triangulation).
    t_coef : float, keyword-only
        Diffusion time as a multiple of the squared mean edge spacing (1.0 is the heat method's
        standard choice; larger is smoother, smaller is closer to the exact distance on good
        meshes but less robust).
    use_robust : bool, keyword-only
        Meshes only: use the intrinsic-Delaunay / tufted-cover robust Laplacian (recommended on
        non-manifold or poorly shaped meshes). Must stay ``True`` for a point cloud, where it has
        no meaning.

    Notes
    -----
    A mesh is split into its connected components and each is factored separately, so vertices
    of other components (and vertices used by no face) are at distance ``inf``. On very coarse
    meshes (a single triangle) the heat method is a poor approximation; use
    :func:`exact_geodesic` there.
    """

    def __init__(self, verts, faces=None, *, t_coef: float = 1.0, use_robust: bool = True) -> None:
        import potpourri3d as pp3d

        v = _as_verts(verts)
        if not (isinstance(t_coef, (int, float, np.floating)) and np.isfinite(t_coef) and t_coef > 0):
            raise ArgumentError(f"t_coef must be a positive finite number, got {t_coef!r}")
        if not isinstance(use_robust, (bool, np.bool_)):
            raise ArgumentError(f"use_robust must be a bool, got {use_robust!r}")
        self._num_verts = len(v)
        self.t_coef = float(t_coef)
        self.use_robust = bool(use_robust)
        if faces is None:
            if not use_robust:
                raise ArgumentError("use_robust=False only applies to meshes; a point cloud has no such option")
            check_point_cloud(v, what="point cloud (heat method)")
            if len(v) < _PP3D_CLOUD_MIN_POINTS:  # its local triangulations use 30 neighbours, fixed
                raise GeometryError(f"the point-cloud heat method needs at least {_PP3D_CLOUD_MIN_POINTS} points "
                                    f"(30 neighbours each), got {len(v)}")
            self.is_point_cloud = True
            self._labels = np.zeros(len(v), dtype=np.int64)
            self._comps: list[_Component | None] = [None]
            self._solvers: list = [pp3d.PointCloudHeatSolver(v, t_coef=self.t_coef)]
            return
        f = _as_faces(faces, len(v))
        if len(f):
            check_mesh_scale(v, f, what="mesh given to the heat method")
        self.is_point_cloud = False
        self._labels, self._comps = _split_components(f, len(v))
        self._solvers = []
        for comp in self._comps:
            if comp is None:
                self._solvers.append(None)
                continue
            try:
                s = pp3d.MeshHeatMethodDistanceSolver(
                    np.ascontiguousarray(v[comp.verts]), comp.faces, t_coef=self.t_coef, use_robust=self.use_robust
                )
            except (RuntimeError, ValueError) as exc:  # pragma: no cover - geometry-central refused it
                raise GeometryError(f"heat method solver could not be built: {exc}") from exc
            self._solvers.append(s)

    @property
    def num_verts(self) -> int:
        """Number of vertices V."""
        return self._num_verts

    def _solve(self, comp_id: int, sources_local: np.ndarray) -> np.ndarray:
        solver = self._solvers[comp_id]
        if len(sources_local) == 1:
            return np.asarray(solver.compute_distance(int(sources_local[0])), dtype=np.float64)
        return np.asarray(solver.compute_distance_multisource(sources_local), dtype=np.float64)

    def distance(self, source: int) -> np.ndarray:
        """Geodesic distance from one source vertex.

        Parameters
        ----------
        source : int
            Vertex index in ``[0, V)``.

        Returns
        -------
        dist : ndarray, shape (V,), float64
            0 at the source, ``inf`` at unreachable vertices.

        Raises
        ------
        GeometryError
            If ``source`` is not a valid vertex index (the message names it).
        """
        s = _check_index(source, self._num_verts)
        return self.distance_multisource(np.array([s], dtype=np.int64))

    def distance_multisource(self, sources) -> np.ndarray:
        """Distance to the nearest of several sources.

        Parameters
        ----------
        sources : array-like of int, shape (S,)
            At least one vertex index; duplicates are allowed.

        Returns
        -------
        dist : ndarray, shape (V,), float64
            Non-negative; ``inf`` at vertices whose component holds no source.
        """
        src = np.unique(_check_indices(sources, self._num_verts))
        if src.size == 0:
            raise GeometryError("distance_multisource needs at least one source vertex")
        if self.is_point_cloud:
            d = self._solve(0, src)
            d[src] = 0.0
            return d
        out = np.full(self._num_verts, np.inf)
        labels = self._labels[src]
        for c in np.unique(labels):
            comp = self._comps[c]
            in_c = src[labels == c]
            if comp is None:  # an isolated vertex: reachable only from itself
                out[in_c] = 0.0
                continue
            d = self._solve(int(c), comp.local[in_c])
            out[comp.verts] = np.minimum(out[comp.verts], d)
        out[src] = 0.0
        # the heat method's approximation can dip below zero away from the sources (seen: -2.8e-4
        # on a FAUST registration, mean edge 0.01); a distance never does
        return np.maximum(out, 0.0, out=out)

    def __repr__(self) -> str:
        kind = "point cloud" if self.is_point_cloud else f"{sum(c is not None for c in self._comps)} component(s)"
        return f"HeatGeodesicSolver({self._num_verts} verts, {kind}, t_coef={self.t_coef})"


def heat_geodesic(verts, faces, sources) -> np.ndarray:
    """One-off heat-method distance to the nearest of ``sources``.

    Parameters
    ----------
    verts : array, shape (V, 3)
    faces : array, shape (F, 3) or None (point cloud)
    sources : int or array-like of int, shape (S,)

    Returns
    -------
    dist : ndarray, shape (V,), float64
        See :class:`HeatGeodesicSolver` (factor once there when querying several sources).
    """
    return HeatGeodesicSolver(verts, faces).distance_multisource(sources)

