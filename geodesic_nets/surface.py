"""The :class:`Surface`: a triangle mesh or a point cloud, validated and immutable.

Vocabulary used across the package: V vertices, F faces, E directed edges (``edge_src ->
edge_dst``), B meshes in a batch, C channels, K eigenpairs.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DependencyError
from .validation import check_faces, check_verts

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

__all__ = ["Surface"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, order="C", copy=True)  # own copy: never freeze the caller's array
    a.setflags(write=False)
    return a


class Surface:
    """A triangle mesh (``faces`` given) or a point cloud (``faces is None``).

    Parameters
    ----------
    verts : array, shape (V, 3)
        Vertex positions; stored as float64.
    faces : array, shape (F, 3), optional
        Vertex indices of each triangle; stored as int64. ``None`` makes a point cloud.
    name : str, optional
        Where the surface came from (a file name), used in error messages.

    Raises
    ------
    InvalidSurfaceError
        On a wrong shape, a non-finite coordinate (naming the vertex) or a face index out of
        range (naming the face). Degenerate faces, duplicate and unreferenced vertices are *not*
        errors here: :func:`geodesic_nets.io.inspect` reports them and
        :func:`geodesic_nets.io.repair` removes them.

    Notes
    -----
    The arrays are read-only views; a Surface never changes after construction.
    """

    __slots__ = ("_verts", "_faces", "_name", "_hash")

    def __init__(self, verts: Any, faces: Any = None, *, name: str | None = None) -> None:
        v = check_verts(verts, what=name)
        f = None if faces is None else check_faces(faces, len(v), what=name)
        self._verts = _readonly(v)
        self._faces = None if f is None else _readonly(f)
        self._name = name
        self._hash: str | None = None

    # ------------------------------------------------------------------ properties
    @property
    def verts(self) -> np.ndarray:
        """Vertex positions, shape (V, 3), float64, read-only."""
        return self._verts

    @property
    def faces(self) -> np.ndarray | None:
        """Triangles, shape (F, 3), int64, read-only; ``None`` for a point cloud."""
        return self._faces

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def is_point_cloud(self) -> bool:
        return self._faces is None

    @property
    def num_verts(self) -> int:
        return int(self._verts.shape[0])

    @property
    def num_faces(self) -> int:
        return 0 if self._faces is None else int(self._faces.shape[0])

    def geometry_hash(self) -> str:
        """SHA-256 of the exact vertex and face bytes (the name does not enter)."""
        if self._hash is None:
            h = hashlib.sha256()
            h.update(b"pc" if self._faces is None else b"mesh")
            h.update(np.asarray(self._verts.shape, dtype=np.int64).tobytes())
            h.update(self._verts.tobytes())
            if self._faces is not None:
                h.update(np.asarray(self._faces.shape, dtype=np.int64).tobytes())
                h.update(self._faces.tobytes())
            self._hash = h.hexdigest()
        return self._hash

    def with_verts(self, verts: Any) -> "Surface":
        """A new Surface with the same faces and name and new vertex positions."""
        return Surface(verts, self._faces, name=self._name)

    def __repr__(self) -> str:
        kind = "point cloud" if self.is_point_cloud else f"{self.num_faces} faces"
        nm = f" {self._name!r}" if self._name else ""
        return f"Surface({self.num_verts} verts, {kind}{nm})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Surface):
            return NotImplemented
        return self.geometry_hash() == other.geometry_hash()

    def __hash__(self) -> int:
        return hash(self.geometry_hash())

    # ------------------------------------------------------------ conversions
    @classmethod
    def from_trimesh(cls, mesh: "trimesh.Trimesh | trimesh.PointCloud", *, name: str | None = None) -> "Surface":
        """Take the vertices and faces of a ``trimesh.Trimesh`` (or ``PointCloud``) as they are."""
        faces = getattr(mesh, "faces", None)
        if faces is not None and len(faces) == 0 and mesh.__class__.__name__ == "PointCloud":
            faces = None
        return cls(np.asarray(mesh.vertices), None if faces is None else np.asarray(faces), name=name)

    @classmethod
    def from_pyvista(cls, mesh: Any, *, name: str | None = None) -> "Surface":
        """Take a ``pyvista.PolyData``; polygons are fan-triangulated, vertex order kept.

        A PolyData without polygon faces becomes a point cloud.
        """
        pts = np.asarray(mesh.points, dtype=np.float64)
        flat = np.asarray(mesh.faces if mesh.faces is not None else [], dtype=np.int64)
        if flat.size == 0:
            return cls(pts, None, name=name)
        if flat.size % 4 == 0 and np.all(flat[::4] == 3):  # all triangles: fast path
            return cls(pts, flat.reshape(-1, 4)[:, 1:], name=name)
        tris = []
        i = 0
        while i < len(flat):  # mixed polygons: fan-triangulate each
            n = int(flat[i])
            poly = flat[i + 1 : i + 1 + n]
            tris.extend((poly[0], poly[k], poly[k + 1]) for k in range(1, n - 1))
            i += n + 1
        return cls(pts, np.asarray(tris, dtype=np.int64).reshape(-1, 3), name=name)

    def to_trimesh(self) -> "trimesh.Trimesh | trimesh.PointCloud":
        """A ``trimesh`` object with the same vertex order (``process=False``)."""
        import trimesh

        if self._faces is None:
            return trimesh.PointCloud(self._verts.copy())
        return trimesh.Trimesh(self._verts.copy(), self._faces.copy(), process=False)

    def to_pyvista(self) -> Any:
        """A ``pyvista.PolyData`` (needs the ``[viz]`` extra)."""
        try:
            import pyvista as pv
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DependencyError(
                "Surface.to_pyvista needs pyvista: pip install 'geodesic-nets[viz]'"
            ) from exc
        if self._faces is None:
            return pv.PolyData(self._verts.copy())
        cells = np.hstack([np.full((self.num_faces, 1), 3, dtype=np.int64), self._faces])
        return pv.PolyData(self._verts.copy(), cells.ravel())
