"""Geodesic distances on meshes and point clouds: heat method, exact (MMP), many-source blocks.

* :class:`HeatGeodesicSolver` wraps potpourri3d's heat-method solvers (Crane et al. 2013): the
  Laplacian is factored once, every source then costs two back-substitutions.
* :class:`ExactGeodesicSolver` / :func:`exact_geodesic` call libigl's exact polyhedral distance
  (Mitchell-Mount-Papadimitriou), slow but exact on the piecewise-flat surface.
* :func:`geodesic_distance_blocks`, :func:`geodesic_distance_matrix` and
  :func:`pairwise_geodesic_distances` evaluate many sources with any solver while holding at most
  ``block_size`` rows of length V in memory.

Conventions
-----------
* Vertices that cannot be reached from the source (another connected component of the mesh, or
  a vertex used by no face) are at distance ``inf``. Components are found from the faces; for a
  point cloud there are none and every point is reachable.
* The heat distance is not exactly symmetric. Everywhere in this module ``d(s, t)`` means the
  value at ``t`` of the solve whose source is ``s``; ``symmetrize=True`` (where offered) averages
  the two directions instead.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import GeometryError
from .validate import check_mesh_scale, check_point_cloud

#: potpourri3d's PointCloudHeatSolver builds each point's neighbourhood from its 30 nearest points
_PP3D_CLOUD_MIN_POINTS = 31

__all__ = [
    "GeodesicSolver",
    "HeatGeodesicSolver",
    "ExactGeodesicSolver",
    "heat_geodesic",
    "exact_geodesic",
    "geodesic_distance_blocks",
    "geodesic_distance_matrix",
    "pairwise_geodesic_distances",
    "mesh_components",
]


class GeodesicSolver(Protocol):
    """What the many-source functions need: a vertex count and a single-source distance."""

    @property
    def num_verts(self) -> int: ...

    def distance(self, source: int) -> np.ndarray: ...


# ---------------------------------------------------------------------------- validation helpers
def _as_verts(verts) -> np.ndarray:
    v = np.ascontiguousarray(verts, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise GeometryError(f"expected verts of shape (V, 3), got {v.shape}")
    if len(v) == 0:
        raise GeometryError("the surface is empty (0 vertices)")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v).all(axis=1))[0])
        raise GeometryError(f"vertex {i} has a non-finite coordinate {v[i].tolist()}")
    return v


def _as_faces(faces, num_verts: int) -> np.ndarray:
    f = np.asarray(faces)
    if f.size == 0:
        raise GeometryError("the mesh has no faces (pass faces=None for a point cloud)")
    if f.ndim != 2 or f.shape[1] != 3:
        raise GeometryError(f"expected faces of shape (F, 3), got {f.shape}")
    if f.dtype.kind not in "iu":
        raise GeometryError(f"face indices have dtype {f.dtype}, expected an integer dtype")
    f = np.ascontiguousarray(f, dtype=np.int64)
    bad = (f < 0) | (f >= num_verts)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=1))[0])
        raise GeometryError(f"face {j} references vertex {f[j].tolist()} but there are {num_verts} vertices")
    return f


def _check_index(index, num_verts: int, what: str = "source") -> int:
    """A vertex index as a Python int, or a GeometryError naming it."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise GeometryError(f"{what} must be an integer vertex index, got {index!r}")
    i = int(index)
    if not 0 <= i < num_verts:
        raise GeometryError(f"{what} vertex {i} is out of range for a surface of {num_verts} vertices")
    return i


def _check_indices(indices, num_verts: int, what: str = "source") -> np.ndarray:
    """A 1-D int64 array of vertex indices, or a GeometryError naming the first bad one."""
    a = np.asarray(indices)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise GeometryError(f"{what} indices must be a 1-D array, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise GeometryError(f"{what} indices have dtype {a.dtype}, expected an integer dtype")
    a = a.astype(np.int64)
    bad = (a < 0) | (a >= num_verts)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise GeometryError(
            f"{what} vertex {int(a[k])} (position {k}) is out of range for a surface of {num_verts} vertices"
        )
    return a


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


# ---------------------------------------------------------------------------- heat method
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
            raise ValueError(f"t_coef must be a positive finite number, got {t_coef!r}")
        if not isinstance(use_robust, (bool, np.bool_)):
            raise ValueError(f"use_robust must be a bool, got {use_robust!r}")
        self._num_verts = len(v)
        self.t_coef = float(t_coef)
        self.use_robust = bool(use_robust)
        if faces is None:
            if not use_robust:
                raise ValueError("use_robust=False only applies to meshes; a point cloud has no such option")
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
            ``inf`` at vertices whose component holds no source.
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
        return out

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


# ---------------------------------------------------------------------------- exact (MMP)
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


# ---------------------------------------------------------------------------- many sources
def _check_block_size(block_size) -> int:
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    return int(block_size)


def geodesic_distance_blocks(
    solver: GeodesicSolver, sources: Sequence[int] | np.ndarray, *, block_size: int = 256
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Distances from many sources, yielded a block of rows at a time.

    Parameters
    ----------
    solver : HeatGeodesicSolver, ExactGeodesicSolver or anything with ``num_verts`` and
        ``distance(source) -> (V,)``
    sources : array-like of int, shape (S,)
    block_size : int, keyword-only
        At most this many rows per block; peak memory is ``block_size * V`` floats.

    Yields
    ------
    sources_chunk : ndarray, shape (b,), int64
        The next ``b <= block_size`` sources, in the given order.
    dist : ndarray, shape (b, V), float64
        ``dist[i]`` is the solve with source ``sources_chunk[i]``.
    """
    bs = _check_block_size(block_size)  # validated now, not at the first next()
    nv = int(solver.num_verts)
    return _blocks(solver, _check_indices(sources, nv), bs, nv)


def _blocks(solver: GeodesicSolver, src: np.ndarray, bs: int, nv: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(src), bs):
        chunk = src[start : start + bs]
        block = np.empty((len(chunk), nv), dtype=np.float64)
        for i, s in enumerate(chunk):
            block[i] = solver.distance(int(s))
        yield chunk, block


def geodesic_distance_matrix(
    solver: GeodesicSolver,
    sources: Sequence[int] | np.ndarray,
    targets: Sequence[int] | np.ndarray | None = None,
    *,
    block_size: int = 256,
) -> np.ndarray:
    """Distance matrix between sources and targets, computed block by block.

    Parameters
    ----------
    solver : see :func:`geodesic_distance_blocks`
    sources : array-like of int, shape (S,)
    targets : array-like of int, shape (T,), optional
        Default: all V vertices.
    block_size : int, keyword-only
        Rows solved at once; only the ``targets`` columns of each block are kept, so memory is
        ``S * T + block_size * V`` floats.

    Returns
    -------
    dist : ndarray, shape (S, T), float64
        ``dist[i, j] = d(sources[i], targets[j])`` from the solve with ``sources[i]`` as
        source (the heat distance is not exactly symmetric).
    """
    nv = int(solver.num_verts)
    src = _check_indices(sources, nv)
    tgt = None if targets is None else _check_indices(targets, nv, what="target")
    out = np.empty((len(src), nv if tgt is None else len(tgt)), dtype=np.float64)
    row = 0
    for chunk, block in geodesic_distance_blocks(solver, src, block_size=block_size):
        out[row : row + len(chunk)] = block if tgt is None else block[:, tgt]
        row += len(chunk)
    return out


def pairwise_geodesic_distances(
    solver: GeodesicSolver,
    src: Sequence[int] | np.ndarray,
    dst: Sequence[int] | np.ndarray,
    *,
    block_size: int = 256,
    symmetrize: bool = False,
) -> np.ndarray:
    """Distances of N vertex pairs, ``d(src[n], dst[n])``, one solve per distinct source.

    Parameters
    ----------
    solver : see :func:`geodesic_distance_blocks`
    src, dst : array-like of int, shape (N,)
    block_size : int, keyword-only
        Distinct sources solved per block; memory is ``block_size * V + O(N)`` floats.
    symmetrize : bool, keyword-only
        ``False``: the value at ``dst[n]`` of the solve from ``src[n]``. ``True``: the mean of
        both directions (also solves from the distinct ``dst`` vertices).

    Returns
    -------
    dist : ndarray, shape (N,), float64
    """
    if not isinstance(symmetrize, (bool, np.bool_)):
        raise ValueError(f"symmetrize must be a bool, got {symmetrize!r}")
    nv = int(solver.num_verts)
    a = _check_indices(src, nv, what="src")
    b = _check_indices(dst, nv, what="dst")
    if a.shape != b.shape:
        raise GeometryError(f"src and dst must have the same length, got {a.shape[0]} and {b.shape[0]}")
    if symmetrize:
        return 0.5 * (
            _pairwise_one_way(solver, a, b, block_size) + _pairwise_one_way(solver, b, a, block_size)
        )
    return _pairwise_one_way(solver, a, b, block_size)


def _pairwise_one_way(solver: GeodesicSolver, a: np.ndarray, b: np.ndarray, block_size: int) -> np.ndarray:
    out = np.empty(len(a), dtype=np.float64)
    if len(a) == 0:
        return out
    uniq, inv = np.unique(a, return_inverse=True)  # inv: pair -> row in uniq
    order = np.argsort(inv, kind="stable")  # pairs grouped by source, sources in uniq order
    starts = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    row0 = 0
    for chunk, block in geodesic_distance_blocks(solver, uniq, block_size=block_size):
        pairs = order[starts[row0] : starts[row0 + len(chunk)]]
        out[pairs] = block[inv[pairs] - row0, b[pairs]]
        row0 += len(chunk)
    return out
