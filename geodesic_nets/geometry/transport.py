"""The :class:`Connection` (parallel transport along directed edges) and what it is used for:
transporting vectors along edges and paths, and the holonomy of a loop.

The sign conventions are written once in :mod:`geodesic_nets.geometry.connection`, which builds
a connection (:func:`~geodesic_nets.geometry.connection.levi_civita_connection`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ArgumentError, GeometryError

__all__ = ["Connection", "transport_vectors", "transport_along_path", "holonomy", "wrap_angle"]


def wrap_angle(a: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to ``(-pi, pi]``, same shape, float64."""
    a = np.asarray(a, dtype=np.float64)
    return np.pi - np.mod(np.pi - a, 2.0 * np.pi)


@dataclass(frozen=True)
class Connection:
    """Parallel transport along the directed edges of a mesh or a neighbour graph.

    Attributes
    ----------
    edge_src, edge_dst : ndarray, shape (E,), int64
        Directed edges sorted by ``(src, dst)``; both directions are present.
    transport : ndarray, shape (E,), float64
        Rotation angle, in ``(-pi, pi]``, of the transport from the frame of ``src`` to the frame
        of ``dst`` (see the module docstring).
    edge_angle : ndarray, shape (E,), float64
        Polar angle, in ``(-pi, pi]``, of the edge ``src -> dst`` in the frame of ``src``.
    edge_length : ndarray, shape (E,), float64
        Euclidean edge length.
    """

    edge_src: np.ndarray
    edge_dst: np.ndarray
    transport: np.ndarray
    edge_angle: np.ndarray
    edge_length: np.ndarray

    @property
    def num_verts(self) -> int:
        """One more than the largest vertex index used by an edge (0 without edges)."""
        if len(self.edge_src) == 0:
            return 0
        return int(max(self.edge_src.max(), self.edge_dst.max())) + 1

    def edge_index(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Index of the edges ``src[k] -> dst[k]``, shape like ``src``, int64.

        Raises
        ------
        GeometryError
            If one of the pairs is not an edge (naming the first such pair).
        """
        s = np.asarray(src, dtype=np.int64)
        d = np.asarray(dst, dtype=np.int64)
        n = max(self.num_verts, int(s.max(initial=0)) + 1, int(d.max(initial=0)) + 1)
        keys = self.edge_src * n + self.edge_dst
        q = s * n + d
        if len(keys) == 0:
            pos = np.zeros(q.shape, dtype=np.int64)
            ok = np.zeros(q.shape, dtype=bool)
        else:
            pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
            ok = keys[pos] == q
        if not np.all(ok):
            k = np.flatnonzero(~np.ravel(ok))[0]
            raise GeometryError(
                f"vertices {int(np.ravel(s)[k])} and {int(np.ravel(d)[k])} are not joined by an edge"
            )
        return pos

    def reverse_index(self) -> np.ndarray:
        """Index of the reverse edge ``dst -> src`` of every edge, shape (E,), int64."""
        return self.edge_index(self.edge_dst, self.edge_src)


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def _rotate(coords: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    x, y = coords[..., 0], coords[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def transport_vectors(connection: Connection, edge_index: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Parallel transport tangent vectors along edges.

    Parameters
    ----------
    connection : Connection
    edge_index : array, shape (N,), int64
        Edge along which each vector travels (from the frame of its src to that of its dst).
    coords : array, shape (N, 2), float64
        Coordinates in the frame of ``edge_src[edge_index]``.

    Returns
    -------
    ndarray, shape (N, 2), float64
        Coordinates in the frame of ``edge_dst[edge_index]``.
    """
    e = np.asarray(edge_index, dtype=np.int64)
    c = np.asarray(coords, dtype=np.float64)
    if c.shape != e.shape + (2,):
        raise ArgumentError(f"expected coords of shape {e.shape + (2,)}, got {c.shape}")
    return _rotate(c, connection.transport[e])


def _path_angle(connection: Connection, path: Sequence[int]) -> float:
    p = np.asarray(path, dtype=np.int64).ravel()
    if len(p) < 2:
        return 0.0
    e = connection.edge_index(p[:-1], p[1:])
    return float(np.sum(connection.transport[e]))


def transport_along_path(connection: Connection, path: Sequence[int], coords: np.ndarray) -> np.ndarray:
    """Transport one tangent vector along a path of adjacent vertices.

    Parameters
    ----------
    path : sequence of int, length P
        Vertex indices; consecutive ones must be joined by an edge.
    coords : array, shape (2,), float64
        Coordinates in the frame of ``path[0]``.

    Returns
    -------
    ndarray, shape (2,), float64
        Coordinates in the frame of ``path[-1]``.
    """
    c = np.asarray(coords, dtype=np.float64)
    if c.shape != (2,):
        raise ArgumentError(f"expected coords of shape (2,), got {c.shape}")
    return _rotate(c, _path_angle(connection, path))


def holonomy(connection: Connection, loop: Sequence[int]) -> float:
    """Rotation angle of a vector transported once around a closed vertex loop.

    Parameters
    ----------
    loop : sequence of int
        Vertices of the loop; it is closed automatically when ``loop[-1] != loop[0]``.

    Returns
    -------
    float
        In ``(-pi, pi]``; counter-clockwise loops enclosing positive curvature give positive
        angles (the enclosed angle defect on a mesh).
    """
    p = list(np.asarray(loop, dtype=np.int64).ravel())
    if len(p) and p[-1] != p[0]:
        p.append(p[0])
    return float(wrap_angle(_path_angle(connection, p)))

