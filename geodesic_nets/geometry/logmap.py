"""Logarithmic maps (geodesic polar coordinates) in this package's tangent frames.

:class:`LogMapSolver` wraps potpourri3d's vector heat method (Sharp et al. 2019): the operators
are factored once, every source then costs a few back-substitutions. potpourri3d reports the log
map in its own tangent basis; it is converted exactly to the frame of
:func:`~geodesic_nets.geometry.frames.vertex_frames` (or the frames given).

Conversion, meshes
------------------
Both potpourri3d (geometry-central) and :func:`levi_civita_connection` give the outgoing edges of
a vertex intrinsic angles: cumulative corner angles, from different reference edges. Inside the
mesh both are rescaled to sum to ``2 pi``, so ``theta_pp[j] = edge_angle[j] - delta`` for one
offset ``delta``. geometry-central's extrinsic ``basis_x`` is ``unit(sum_j R_N(-theta_pp[j])
P_N(e_j))`` (``P_N`` projects the edge vector ``e_j`` onto its tangent plane, ``R_N`` rotates
about its normal ``N``), hence ``basis_x = R_N(delta) S`` with ``S = unit(sum_j
R_N(-edge_angle[j]) P_N(e_j))``: ``delta`` follows exactly, and the log map in our frame is
potpourri3d's rotated by ``delta``.

At a boundary vertex geometry-central spreads the fan over ``pi`` ("half disk") while the
connection may keep the true angle sum ("wedge", its default) or use ``pi`` too. Both are linear
in the cumulative angle from the first edge of the fan, so the angle ``a`` of a potpourri3d
vector becomes ``edge_angle[head] + ratio * (a + delta)`` with ``ratio = span / pi``, ``span``
the connection's angle from the first (head) to the last (tail) boundary edge, and ``delta``
found as above from the half-disk angles ``(edge_angle[j] - edge_angle[head]) / ratio``.

Conversion, point clouds
------------------------
Both bases are extrinsic there: ``basis_x`` of potpourri3d has polar angle ``alpha`` in our frame
at the source, and its orientation (the sign of ``cross(x, y) . n`` against our normal) says
whether the second coordinate flips.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import ArgumentError, GeometryError
from .components import _split_components
from .connection import levi_civita_connection
from .frames import TangentFrames, vertex_frames
from .transport import Connection
from .validate import _as_faces, _as_verts, _check_edge_manifold, _check_index

__all__ = ["LogMapSolver", "log_map"]

Strategy = Literal["affine_local", "affine_adaptive", "vector_heat"]
_PP3D_STRATEGY = {"affine_local": "AffineLocal", "affine_adaptive": "AffineAdaptive", "vector_heat": "VectorHeat"}


def _rotate_about(vec: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate tangent vectors (n, 3) about unit ``axis`` (3,) by ``angle`` (n,) (Rodrigues)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return c * vec + s * np.cross(axis, vec) + (1.0 - c) * (vec @ axis)[:, None] * axis


class LogMapSolver:
    """Log maps from any source vertex, expressed in this package's tangent frames.

    Parameters
    ----------
    verts : array, shape (V, 3), float
    faces : array, shape (F, 3), int, optional
        ``None`` for a point cloud.
    frames : TangentFrames, optional
        The gauge of the result; default ``vertex_frames(verts, faces)``.
    connection : Connection, optional
        Meshes only: the connection of ``frames``; default ``levi_civita_connection(verts, faces,
        frames)``. Its ``edge_angle`` defines directions, also at boundary vertices (either of its
        ``boundary`` conventions is honoured).
    strategy : {"affine_local", "affine_adaptive", "vector_heat"}, keyword-only
        Meshes only: potpourri3d's log-map strategy (``"affine_local"`` is its default, accurate
        near the source; ``"vector_heat"`` is the original, smoother far away).
    t_coef : float, keyword-only
        Diffusion time as a multiple of the squared mean edge length.

    Notes
    -----
    A mesh is split into connected components (each factored separately, the vector heat method
    needs a manifold mesh); vertices outside the source's component get ``nan``.
    """

    def __init__(
        self,
        verts,
        faces=None,
        *,
        frames: TangentFrames | None = None,
        connection: Connection | None = None,
        strategy: Strategy = "affine_local",
        t_coef: float = 1.0,
    ) -> None:
        v = _as_verts(verts)
        if strategy not in _PP3D_STRATEGY:
            raise ArgumentError(f"strategy must be one of {sorted(_PP3D_STRATEGY)}, got {strategy!r}")
        if not (isinstance(t_coef, (int, float, np.floating)) and np.isfinite(t_coef) and t_coef > 0):
            raise ArgumentError(f"t_coef must be a positive finite number, got {t_coef!r}")
        self._verts = v
        self.strategy = strategy
        self.t_coef = float(t_coef)
        self.is_point_cloud = faces is None
        if self.is_point_cloud:
            if connection is not None:
                raise ArgumentError("connection only applies to meshes; a point cloud log map uses the frames alone")
            if strategy != "affine_local":
                raise ArgumentError("strategy only applies to meshes")
            if len(v) < 4:
                raise GeometryError(f"a point cloud needs at least 4 points for the log map, got {len(v)}")
            self._faces = None
        else:
            self._faces = _as_faces(faces, len(v))
            _check_edge_manifold(self._faces, len(v), "the vector heat log map")
        if frames is None:
            frames = vertex_frames(v, self._faces)
        elif len(frames.normals) != len(v):
            raise GeometryError(f"frames have {len(frames.normals)} vertices, verts have {len(v)}")
        self.frames = frames
        self.connection: Connection | None = None
        if self.is_point_cloud:
            import potpourri3d as pp3d

            self._cloud = pp3d.PointCloudHeatSolver(v, t_coef=self.t_coef)
            self._cloud_basis: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
            return
        if connection is None:
            connection = levi_civita_connection(v, self._faces, frames)
        elif connection.num_verts > len(v):
            raise GeometryError(
                f"connection refers to vertex {connection.num_verts - 1} but there are {len(v)} vertices"
            )
        self.connection = connection
        self._edge_starts = np.searchsorted(connection.edge_src, np.arange(len(v) + 1))
        self._labels, self._comps = _split_components(self._faces, len(v))
        self._solvers: dict[int, tuple] = {}

    @property
    def num_verts(self) -> int:
        """Number of vertices V."""
        return len(self._verts)

    # ------------------------------------------------------------------ meshes
    def _component_solver(self, comp_id: int):
        """(pp3d solver, its basis_x (Vc, 3), normals (Vc, 3)) of one component, built on demand."""
        if comp_id not in self._solvers:
            import potpourri3d as pp3d

            comp = self._comps[comp_id]
            try:
                solver = pp3d.MeshVectorHeatSolver(
                    np.ascontiguousarray(self._verts[comp.verts]), comp.faces, t_coef=self.t_coef
                )
                bx, _, nrm = solver.get_tangent_frames()
            except (RuntimeError, ValueError) as exc:
                raise GeometryError(
                    f"vector heat solver could not be built (the mesh must be manifold): {exc}"
                ) from exc
            self._solvers[comp_id] = (solver, np.asarray(bx), np.asarray(nrm))
        return self._solvers[comp_id]

    def _boundary_fan(self) -> tuple[np.ndarray, np.ndarray]:
        """First (head) and last (tail) outgoing boundary edge of every vertex, -1 inside."""
        if not hasattr(self, "_fan"):
            nv = self.num_verts
            f = self._faces
            half = np.sort(np.concatenate([f[:, 0] * nv + f[:, 1], f[:, 1] * nv + f[:, 2], f[:, 2] * nv + f[:, 0]]))
            src, dst = self.connection.edge_src, self.connection.edge_dst

            def present(keys: np.ndarray) -> np.ndarray:
                pos = np.minimum(np.searchsorted(half, keys), len(half) - 1)
                return half[pos] == keys

            fwd, rev = present(src * nv + dst), present(dst * nv + src)
            head = np.full(nv, -1, dtype=np.int64)
            tail = np.full(nv, -1, dtype=np.int64)
            e_head = np.flatnonzero(fwd & ~rev)  # the face lies to the left of src -> dst
            e_tail = np.flatnonzero(rev & ~fwd)
            head[src[e_head]] = e_head
            tail[src[e_tail]] = e_tail
            # only a simple boundary vertex (one fan) gets the boundary treatment
            simple = (np.bincount(src[e_head], minlength=nv) == 1) & (np.bincount(src[e_tail], minlength=nv) == 1)
            head[~simple] = -1
            tail[~simple] = -1
            self._fan = (head, tail)
        return self._fan

    def frame_conversion(self, source: int) -> tuple[float, float, float]:
        """How potpourri3d's polar angles at a mesh vertex map to this solver's frame.

        Returns
        -------
        base, ratio, delta : float
            A tangent vector with polar angle ``a`` in potpourri3d's basis has polar angle
            ``base + ratio * (a + delta)`` in our frame (``base = 0, ratio = 1`` inside the mesh;
            see the module docstring).
        """
        if self.is_point_cloud:
            raise GeometryError("frame_conversion is defined for meshes; point clouds use the extrinsic bases")
        s = _check_index(source, self.num_verts)
        comp_id = int(self._labels[s])
        if self._comps[comp_id] is None:
            return 0.0, 1.0, 0.0
        _, bx, nrm = self._component_solver(comp_id)
        local = int(self._comps[comp_id].local[s])
        n, x_pp = nrm[local], bx[local]
        e = np.arange(self._edge_starts[s], self._edge_starts[s + 1])
        angle = self.connection.edge_angle[e]
        base, ratio = 0.0, 1.0
        head, tail = self._boundary_fan()
        if head[s] >= 0:
            base = float(self.connection.edge_angle[head[s]])
            span = float(np.mod(self.connection.edge_angle[tail[s]] - base, 2.0 * np.pi))
            if span > 1e-12:
                ratio = span / np.pi
                angle = np.mod(angle - base, 2.0 * np.pi) / ratio
        d = self._verts[self.connection.edge_dst[e]] - self._verts[s]
        d = d - (d @ n)[:, None] * n
        total = _rotate_about(d, n, -angle).sum(axis=0)
        delta = float(np.arctan2(np.cross(total, x_pp) @ n, total @ x_pp))
        return base, ratio, delta

    def _mesh_log_map(self, s: int) -> np.ndarray:
        out = np.full((self.num_verts, 2), np.nan)
        out[s] = 0.0
        comp_id = int(self._labels[s])
        comp = self._comps[comp_id]
        if comp is None:
            return out
        solver, _, _ = self._component_solver(comp_id)
        lm = np.asarray(solver.compute_log_map(int(comp.local[s]), _PP3D_STRATEGY[self.strategy]))
        base, ratio, delta = self.frame_conversion(s)
        if ratio == 1.0:
            a = base + delta
            c, si = np.cos(a), np.sin(a)
            xy = np.stack([c * lm[:, 0] - si * lm[:, 1], si * lm[:, 0] + c * lm[:, 1]], axis=1)
        else:
            # angles measured on the half disk, continued a quarter turn beyond each end
            a = np.arctan2(lm[:, 1], lm[:, 0]) + delta
            a = np.mod(a + 0.5 * np.pi, 2.0 * np.pi) - 0.5 * np.pi
            a = base + ratio * a
            r = np.hypot(lm[:, 0], lm[:, 1])
            xy = r[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1)
        out[comp.verts] = xy
        out[s] = 0.0
        return out

    # ------------------------------------------------------------------ point clouds
    def _cloud_log_map(self, s: int) -> np.ndarray:
        if self._cloud_basis is None:
            bx, by, _ = self._cloud.get_tangent_frames()
            self._cloud_basis = (np.asarray(bx), np.asarray(by), np.cross(bx, by))
        bx, by, orient = self._cloud_basis
        fr = self.frames
        alpha = np.arctan2(bx[s] @ fr.basis_y[s], bx[s] @ fr.basis_x[s])
        flip = -1.0 if orient[s] @ fr.normals[s] < 0 else 1.0
        lm = np.asarray(self._cloud.compute_log_map(s))
        x, y = lm[:, 0], flip * lm[:, 1]
        c, si = np.cos(alpha), np.sin(alpha)
        out = np.stack([c * x - si * y, si * x + c * y], axis=1)
        out[s] = 0.0
        return out

    def log_map(self, source: int) -> np.ndarray:
        """Log map of every vertex at ``source``.

        Parameters
        ----------
        source : int

        Returns
        -------
        coords : ndarray, shape (V, 2), float64
            ``coords[q]`` = geodesic polar coordinates of ``q`` as a tangent vector at ``source``,
            in the source's frame: ``|coords[q]|`` estimates the geodesic distance and
            ``atan2(y, x)`` the direction. 0 at the source; ``nan`` outside its component.
        """
        s = _check_index(source, self.num_verts)
        return self._cloud_log_map(s) if self.is_point_cloud else self._mesh_log_map(s)

    def __repr__(self) -> str:
        kind = "point cloud" if self.is_point_cloud else "mesh"
        return f"LogMapSolver({self.num_verts} verts, {kind}, strategy={self.strategy!r})"


def log_map(verts, faces, source: int, *, frames: TangentFrames | None = None) -> np.ndarray:
    """One-off log map at ``source`` in ``frames`` (default ``vertex_frames``), shape (V, 2).

    See :class:`LogMapSolver` (build it once when querying several sources).
    """
    return LogMapSolver(verts, faces, frames=frames).log_map(source)
