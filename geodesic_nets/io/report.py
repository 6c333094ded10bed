"""Validation report: what is in a mesh or point cloud and what is wrong with it.

:func:`inspect` never raises on bad content: NaN coordinates, out-of-range indices, degenerate
and non-manifold faces are counted and described, with the first offending indices.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Union

import numpy as np

from ..errors import ArgumentError, InvalidSurfaceError
from ..surface import Surface
from ._areas import face_areas
from ._topology import count_components, duplicate_rows, edge_topology, fans_per_vertex

__all__ = ["ValidationReport", "inspect"]

_SHOW = 5  # offending indices quoted per problem


@dataclass(frozen=True)
class ValidationReport:
    """Counts and problems of one surface; build it with :func:`inspect`.

    Mesh-only fields are ``None`` for a point cloud. Topology (edges, boundary, manifoldness,
    orientation, components, Euler characteristic, genus) is computed on the *proper* faces:
    those with indices in range and three distinct vertices.

    Attributes
    ----------
    name : str or None
    is_point_cloud : bool
    num_verts, num_faces : int
        As stored (``num_faces`` is None for a point cloud).
    num_edges : int
        Undirected edges.
    num_boundary_edges, num_boundary_loops : int
        Edges used by one face, and the connected groups they form.
    num_components : int
        Edge-connected components among the vertices used by faces (unreferenced vertices
        are counted apart).
    euler_characteristic : int
        ``V - E + F`` with all ``V`` vertices and the proper faces.
    genus : int or None
        ``(2 C - B - chi') / 2`` summed over components, with ``chi'`` the Euler characteristic
        of the vertices used by faces; only for a manifold, consistently oriented mesh without
        out-of-range or repeated-index faces, else None.
    num_nonmanifold_edges : int
        Edges used by more than 2 faces.
    num_nonmanifold_verts : int
        Vertices whose incident faces form more than one fan (bow-ties).
    num_degenerate_faces : int
        Faces with a repeated vertex index or zero area (``num_repeated_index_faces`` of them
        repeat an index).
    num_duplicate_faces : int
        Faces with the same vertex set as an earlier face.
    num_duplicate_verts : int
        Vertices with exactly the same coordinates as an earlier vertex.
    num_unreferenced_verts, num_nonfinite_verts, num_out_of_range_faces : int
    num_inconsistent_edges : int
        Edges whose two faces traverse them in the same direction.
    total_area : float or None
        Sum of the areas of the faces with finite vertices.
    bbox_min, bbox_max : tuple of 3 float, or None
        Over the finite vertices.
    problems : tuple of str
        Human-readable, with the first offending indices.
    """

    name: str | None
    is_point_cloud: bool
    num_verts: int
    num_faces: int | None = None
    num_edges: int | None = None
    num_boundary_edges: int | None = None
    num_boundary_loops: int | None = None
    num_components: int | None = None
    euler_characteristic: int | None = None
    genus: int | None = None
    num_nonmanifold_edges: int | None = None
    num_nonmanifold_verts: int | None = None
    num_degenerate_faces: int | None = None
    num_repeated_index_faces: int | None = None
    num_duplicate_faces: int | None = None
    num_duplicate_verts: int = 0
    num_unreferenced_verts: int | None = None
    num_nonfinite_verts: int = 0
    num_out_of_range_faces: int | None = None
    num_inconsistent_edges: int | None = None
    total_area: float | None = None
    bbox_min: tuple[float, float, float] | None = None
    bbox_max: tuple[float, float, float] | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ verdicts
    @property
    def is_valid(self) -> bool:
        """True when no problem was found (boundaries and several components are not problems)."""
        return not self.problems

    @property
    def is_loadable(self) -> bool:
        """True when the arrays make a :class:`~geodesic_nets.Surface` (finite, indices in range)."""
        return self.num_verts > 0 and self.num_nonfinite_verts == 0 and not self.num_out_of_range_faces

    @property
    def is_manifold(self) -> bool:
        """True for a mesh with no non-manifold edge or vertex, no repeated-index or
        out-of-range face; False for a point cloud."""
        if self.is_point_cloud:
            return False
        return not (
            self.num_nonmanifold_edges or self.num_nonmanifold_verts
            or self.num_repeated_index_faces or self.num_out_of_range_faces
        )

    @property
    def is_closed(self) -> bool:
        """True for a mesh with faces and no boundary edge."""
        return not self.is_point_cloud and bool(self.num_faces) and self.num_boundary_edges == 0

    @property
    def bbox_diagonal(self) -> float | None:
        if self.bbox_min is None or self.bbox_max is None:
            return None
        return float(math.dist(self.bbox_min, self.bbox_max))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict (strict JSON: no NaN/inf) of every field plus the verdicts."""
        d = asdict(self)
        if self.total_area is not None and not math.isfinite(self.total_area):
            d["total_area"] = None  # overflow on huge coordinates; strict JSON has no inf
        d["bbox_min"] = None if self.bbox_min is None else list(self.bbox_min)
        d["bbox_max"] = None if self.bbox_max is None else list(self.bbox_max)
        d["problems"] = list(self.problems)
        d.update(is_valid=self.is_valid, is_manifold=self.is_manifold, is_loadable=self.is_loadable)
        return d

    def summary(self) -> str:
        """Aligned two-column text table, then the problems."""
        rows: list[tuple[str, str]] = [("name", self.name or "-"), ("kind", "point cloud" if self.is_point_cloud else "mesh")]
        labels = [
            ("vertices", "num_verts"), ("faces", "num_faces"), ("edges", "num_edges"),
            ("boundary edges", "num_boundary_edges"), ("boundary loops", "num_boundary_loops"),
            ("components", "num_components"), ("euler characteristic", "euler_characteristic"),
            ("genus", "genus"), ("non-manifold edges", "num_nonmanifold_edges"),
            ("non-manifold vertices", "num_nonmanifold_verts"), ("degenerate faces", "num_degenerate_faces"),
            ("repeated-index faces", "num_repeated_index_faces"), ("duplicate faces", "num_duplicate_faces"),
            ("duplicate vertices", "num_duplicate_verts"), ("unreferenced vertices", "num_unreferenced_verts"),
            ("non-finite vertices", "num_nonfinite_verts"), ("out-of-range faces", "num_out_of_range_faces"),
            ("inconsistent edges", "num_inconsistent_edges"),
        ]  # fmt: skip
        for label, attr in labels:
            value = getattr(self, attr)
            if value is None and self.is_point_cloud:
                continue
            rows.append((label, "-" if value is None else str(value)))
        if self.total_area is not None:
            rows.append(("total area", f"{self.total_area:.6g}"))
        if self.bbox_min is not None and self.bbox_max is not None:
            rows.append(("bbox min", " ".join(f"{x:.6g}" for x in self.bbox_min)))
            rows.append(("bbox max", " ".join(f"{x:.6g}" for x in self.bbox_max)))
        rows.append(("valid", "yes" if self.is_valid else "no"))
        if not self.is_point_cloud:
            rows.append(("manifold", "yes" if self.is_manifold else "no"))
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
        if self.problems:
            lines.append(f"problems ({len(self.problems)}):")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _first(idx: np.ndarray) -> str:
    idx = np.asarray(idx).ravel()
    s = ", ".join(str(int(i)) for i in idx[:_SHOW])
    return s + (", ..." if len(idx) > _SHOW else "")


def _as_arrays(x: Any) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    if isinstance(x, Surface):
        return np.asarray(x.verts), None if x.faces is None else np.asarray(x.faces), x.name
    if isinstance(x, (str, os.PathLike)):
        from .formats import read_arrays

        v, f = read_arrays(x)
        return v, f, str(x)
    if isinstance(x, tuple) and len(x) == 2:
        try:
            v = np.asarray(x[0], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidSurfaceError(f"vertices are not numeric: {exc}") from None
        if v.size == 0:
            v = v.reshape(0, 3)
        if v.ndim != 2 or v.shape[1] != 3:
            raise InvalidSurfaceError(f"expected verts of shape (V, 3), got {v.shape}")
        if x[1] is None:
            return v, None, None
        f = np.asarray(x[1])
        if f.size == 0:
            f = f.reshape(0, 3)
        if f.ndim != 2 or f.shape[1] != 3:
            raise InvalidSurfaceError(f"expected faces of shape (F, 3), got {f.shape}")
        if f.dtype.kind == "f":
            if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
                raise InvalidSurfaceError("face indices are not integers")
        elif f.dtype.kind not in "iu":
            raise InvalidSurfaceError(f"face indices have dtype {f.dtype}, expected int")
        return v, f.astype(np.int64), None
    raise ArgumentError(f"inspect expects a Surface, a path or a (verts, faces) tuple, got {type(x).__name__}")


def inspect(
    x: Union[Surface, str, "os.PathLike[str]", tuple[Any, Any]], *, zero_area_tol: float = 1e-14
) -> ValidationReport:
    """Report counts and problems of a surface, a file, or raw ``(verts, faces)`` arrays.

    Parameters
    ----------
    x : Surface, str, PathLike or tuple
        A Surface; a path (read with :func:`geodesic_nets.io.read_arrays`, unvalidated); or
        ``(verts, faces)`` with verts (V, 3) float and faces (F, 3) int or None, which may hold
        NaN and out-of-range indices.
    zero_area_tol : float
        A face is zero-area when its area is ``<= zero_area_tol * d**2``, d the bounding-box
        diagonal (so 0 means exactly zero).

    Returns
    -------
    ValidationReport

    Raises
    ------
    InvalidSurfaceError
        Arrays of the wrong shape or dtype (nothing to report on).
    MeshFormatError
        A path that cannot be read.
    """
    if not (isinstance(zero_area_tol, (int, float)) and zero_area_tol >= 0):
        raise ArgumentError(f"zero_area_tol must be a number >= 0, got {zero_area_tol!r}")
    v, f, name = _as_arrays(x)
    with np.errstate(over="ignore", invalid="ignore"):  # huge coordinates give inf areas, reported as is
        return _inspect(v, f, name, zero_area_tol)


def _inspect(v: np.ndarray, f: np.ndarray | None, name: str | None, zero_area_tol: float) -> ValidationReport:
    problems: list[str] = []  # appended by each step, in the order of the checks
    finite, diag, common = _check_vertices(v, name, problems)
    if f is None:
        return ValidationReport(is_point_cloud=True, problems=tuple(problems), **common)
    faces = _check_faces(v, f, finite, diag, zero_area_tol, problems)
    topo = _check_topology(faces["proper"], len(v), problems)
    return _mesh_report(len(v), f, faces, topo, problems, common)


def _check_vertices(v: np.ndarray, name: str | None, problems: list[str]) -> tuple[np.ndarray, float, dict]:
    """Finite mask (V,), bounding-box diagonal, and the report fields of the vertices."""
    nv = len(v)
    finite = np.isfinite(v).all(axis=1)
    nonfinite = np.flatnonzero(~finite)
    if nv == 0:
        problems.append("no vertices")
    if len(nonfinite):
        problems.append(f"{len(nonfinite)} vertices with a NaN or infinite coordinate (first: {_first(nonfinite)})")
    bbox_min = bbox_max = None
    diag = 0.0
    if finite.any():
        lo, hi = v[finite].min(axis=0), v[finite].max(axis=0)
        bbox_min, bbox_max = tuple(float(a) for a in lo), tuple(float(a) for a in hi)
        diag = float(np.linalg.norm(hi - lo))
    first_dup = duplicate_rows(v)
    dup = np.flatnonzero(first_dup != np.arange(nv))
    if len(dup):
        problems.append(
            f"{len(dup)} duplicate vertices with exactly equal coordinates"
            f" (first: vertex {int(dup[0])} = vertex {int(first_dup[dup[0]])})"
        )
    common = dict(name=name, num_verts=nv, num_duplicate_verts=len(dup), num_nonfinite_verts=len(nonfinite),
                  bbox_min=bbox_min, bbox_max=bbox_max)  # fmt: skip
    return finite, diag, common


def _check_faces(
    v: np.ndarray, f: np.ndarray, finite: np.ndarray, diag: float, zero_area_tol: float, problems: list[str]
) -> dict:
    """Face indices, repeated-index, zero-area and duplicate faces, unreferenced vertices.

    Returns the arrays the later steps and the report need (``proper``: the in-range faces
    without a repeated index, (F', 3)).
    """
    nv, nf = len(v), len(f)
    if nf == 0:
        problems.append("mesh has no faces")
    oor = np.flatnonzero(((f < 0) | (f >= nv)).any(axis=1))
    if len(oor):
        j = int(oor[0])
        problems.append(
            f"{len(oor)} faces reference vertices out of range [0, {nv})"
            f" (first: face {j} -> {f[j].tolist()}; faces {_first(oor)})"
        )
    in_range = np.ones(nf, dtype=bool)
    in_range[oor] = False
    fi = np.flatnonzero(in_range)  # original index of each in-range face
    fg = f[in_range]
    repeated = (fg[:, 0] == fg[:, 1]) | (fg[:, 1] == fg[:, 2]) | (fg[:, 0] == fg[:, 2])
    face_ok = finite[fg].all(axis=1) if len(fg) else np.zeros(0, dtype=bool)
    vv = np.where(finite[:, None], v, 0.0)
    area = face_areas(vv, fg) if len(fg) else np.zeros(0)
    unit = diag if 0 < diag < np.inf else 1.0  # relative test, safe from overflow
    zero = face_ok & ~repeated & ((area / unit) / unit <= zero_area_tol)
    if repeated.any():
        problems.append(f"{int(repeated.sum())} faces repeat a vertex index (first: {_first(fi[repeated])})")
    if zero.any():
        problems.append(f"{int(zero.sum())} faces have zero area (first: {_first(fi[zero])})")
    proper = fg[~repeated]
    proper_idx = fi[~repeated]
    first_face = duplicate_rows(np.sort(proper, axis=1))
    dup_face = np.flatnonzero(first_face != np.arange(len(proper)))
    if len(dup_face):
        problems.append(
            f"{len(dup_face)} duplicate faces (first: face {int(proper_idx[dup_face[0]])}"
            f" = face {int(proper_idx[first_face[dup_face[0]]])})"
        )
    used = np.zeros(nv, dtype=bool)
    used[fg.ravel()] = True
    unref = np.flatnonzero(~used)
    if len(unref) and nf:
        problems.append(f"{len(unref)} unreferenced vertices (first: {_first(unref)})")
    return dict(oor=oor, repeated=repeated, zero=zero, proper=proper, dup_face=dup_face, unref=unref,
                total_area=float(area[face_ok].sum()))  # fmt: skip


def _check_topology(proper: np.ndarray, nv: int, problems: list[str]) -> dict:
    """Non-manifold edges and vertices, orientation, components and boundary loops."""
    topo = edge_topology(proper, nv)
    boundary = topo.face_count == 1
    nm_edges = np.flatnonzero(topo.face_count > 2)
    if len(nm_edges):
        e = topo.edges[nm_edges[0]].tolist()
        problems.append(
            f"{len(nm_edges)} non-manifold edges used by more than 2 faces"
            f" (first: edge {e} in {int(topo.face_count[nm_edges[0]])} faces)"
        )
    fans = fans_per_vertex(proper, nv, topo)
    nm_verts = np.flatnonzero(fans > 1)
    if len(nm_verts):
        problems.append(
            f"{len(nm_verts)} non-manifold vertices whose faces form more than one fan (first: {_first(nm_verts)})"
        )
    bad_orient = np.flatnonzero(topo.inconsistent)
    if len(bad_orient):
        problems.append(
            f"{len(bad_orient)} edges with inconsistently oriented faces"
            f" (first: edge {topo.edges[bad_orient[0]].tolist()})"
        )
    proper_used = np.zeros(nv, dtype=bool)
    proper_used[proper.ravel()] = True
    n_comp = count_components(topo.edges, nv, proper_used)
    b_edges = topo.edges[boundary]
    b_used = np.zeros(nv, dtype=bool)
    b_used[b_edges.ravel()] = True
    n_loops = count_components(b_edges, nv, b_used)
    return dict(num_edges=len(topo.edges), boundary=boundary, nm_edges=nm_edges, nm_verts=nm_verts,
                bad_orient=bad_orient, n_comp=n_comp, n_loops=n_loops, n_used=int(proper_used.sum()))  # fmt: skip


def _mesh_report(nv: int, f: np.ndarray, faces: dict, topo: dict, problems: list[str], common: dict) -> ValidationReport:
    """The report of a mesh, with its genus when the mesh is clean enough to have one."""
    oor, repeated, zero, proper = faces["oor"], faces["repeated"], faces["zero"], faces["proper"]
    nm_edges, nm_verts, bad_orient = topo["nm_edges"], topo["nm_verts"], topo["bad_orient"]
    n_comp, n_loops, ne = topo["n_comp"], topo["n_loops"], topo["num_edges"]
    euler = nv - ne + len(proper)
    genus = None
    clean = not (len(oor) or repeated.any() or len(nm_edges) or len(nm_verts) or len(bad_orient))
    if clean and len(proper):
        twice = 2 * n_comp - n_loops - (euler - (nv - topo["n_used"]))
        if twice >= 0 and twice % 2 == 0:
            genus = twice // 2
    return ValidationReport(
        is_point_cloud=False,
        num_faces=len(f),
        num_edges=ne,
        num_boundary_edges=int(topo["boundary"].sum()),
        num_boundary_loops=n_loops,
        num_components=n_comp,
        euler_characteristic=int(euler),
        genus=genus,
        num_nonmanifold_edges=len(nm_edges),
        num_nonmanifold_verts=len(nm_verts),
        num_degenerate_faces=int(repeated.sum() + zero.sum()),
        num_repeated_index_faces=int(repeated.sum()),
        num_duplicate_faces=len(faces["dup_face"]),
        num_unreferenced_verts=len(faces["unref"]),
        num_out_of_range_faces=len(oor),
        num_inconsistent_edges=len(bad_orient),
        total_area=faces["total_area"],
        problems=tuple(problems),
        **common,
    )
