"""Discrete Levi-Civita connection: parallel transport between neighbouring tangent frames.

Sign conventions (``i -> j`` is directed edge ``e``)
---------------------------------------------------
* ``edge_angle[e]``: polar angle (counter-clockwise about the normal, from ``basis_x``) of the
  direction of ``j`` seen from ``i``, in the frame of ``i``; ``edge_length[e] * exp(1j *
  edge_angle[e])`` is the discrete log map of ``j`` at ``i``.
* ``transport[e]``: a tangent vector with polar angle ``a`` in the frame of ``i`` has polar angle
  ``a + transport[e]`` in the frame of ``j`` after parallel transport along the edge. In complex
  form ``z_j = exp(1j * transport[e]) * z_i``. For meshes ``transport[i->j] = edge_angle[j->i] +
  pi - edge_angle[i->j]``, so ``transport[j->i] = -transport[i->j]`` (mod 2 pi).
* A gauge change ``frames.rotated(phi)`` changes ``edge_angle[e]`` by ``-phi[i]`` and
  ``transport[e]`` by ``phi[i] - phi[j]``.
* Holonomy of a loop traversed counter-clockwise (region on the left, normals outward) is
  ``+`` the enclosed curvature: ``~ +area`` for a small loop on the unit sphere.

Meshes use the intrinsic *vertex tangent space* discretization (as in the vector heat method):
the corner angles around vertex ``i`` are rescaled to sum to ``2 pi`` (interior) and the outgoing
edges get the cumulative rescaled angle, counted counter-clockwise from the frame's reference edge
(:func:`~geodesic_nets.geometry.frames.reference_neighbors`) and offset by the polar angle of
that edge in the given frame (0 for :func:`vertex_frames`, ``-phi`` for rotated frames). At
boundary vertices the angles keep their true sum by default (``boundary="wedge"``: planar
domains, corners included, are exactly flat) or are rescaled to sum to ``pi``
(``boundary="half_disk"``, geometry-central's convention for the vector heat method).
Vertices whose one-ring is not a single consistently oriented fan (non-manifold, inconsistent
orientation, a vertex touching degenerate faces, zero angle sum) fall back to the extrinsic
projected angle ``atan2(d . y, d . x)`` of the edge vector ``d``.

Point clouds use the symmetrized k-NN graph; angles are extrinsic (projected edges) and the
transport is the minimal rotation taking ``n_i`` to ``n_j``, measured in ``j``'s frame.

The connection is built here; :mod:`~geodesic_nets.geometry.transport` holds the
:class:`Connection` type and its uses (transport, holonomy),
:mod:`~geodesic_nets.geometry.tangent_space` the intrinsic edge angles of meshes and
:mod:`~geodesic_nets.geometry.connection_laplacian` the connection Laplacian; their public names
are importable from this module too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import connection_laplacian as _connection_laplacian, transport as _transport
from .connection_laplacian import connection_laplacian
from .elements import directed_edges
from .frames import TangentFrames, _as_faces, _verts_in_frames
from .neighbors import knn_edges
from .tangent_space import _extrinsic_angles, _intrinsic_angles
from .transport import Connection, holonomy, transport_along_path, transport_vectors, wrap_angle
from ..errors import ArgumentError

# the connection built here, and the names of its uses, importable from this module too
__all__ = ["levi_civita_connection", *_transport.__all__, *_connection_laplacian.__all__]


def _rotation_transport(frames: TangentFrames, src: np.ndarray, dst: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Angle of the minimal rotation n_src -> n_dst applied to x_src, measured in dst's frame."""
    a, b = frames.normals[src], frames.normals[dst]
    x = frames.basis_x[src]
    c = np.einsum("ij,ij->i", a, b)
    w = np.cross(a, b)
    anti = 1.0 + c < 1e-12
    den = np.where(anti, 1.0, 1.0 + c)
    wx = np.cross(w, x)
    rx = x + wx + np.cross(w, wx) / den[:, None]
    if anti.any():  # rotation by pi about a tangent axis (the projected edge, else x itself)
        u = d[anti] - np.einsum("ij,ij->i", d[anti], a[anti])[:, None] * a[anti]
        un = np.linalg.norm(u, axis=1, keepdims=True)
        u = np.where(un > 0, u / np.where(un > 0, un, 1.0), x[anti])
        xa = x[anti]
        rx[anti] = 2.0 * np.einsum("ij,ij->i", u, xa)[:, None] * u - xa
    return np.arctan2(
        np.einsum("ij,ij->i", rx, frames.basis_y[dst]), np.einsum("ij,ij->i", rx, frames.basis_x[dst])
    )


def levi_civita_connection(
    verts: np.ndarray,
    faces: np.ndarray | None,
    frames: TangentFrames,
    *,
    n_neighbors: int = 30,
    boundary: Literal["half_disk", "wedge"] = "wedge",
) -> Connection:
    """Discrete Levi-Civita connection in the gauge ``frames``.

    Parameters
    ----------
    verts : array, shape (V, 3), float64
    faces : array, shape (F, 3), int64, or None
        ``None`` for a point cloud (edges: symmetrized ``n_neighbors``-NN graph).
    frames : TangentFrames
        The gauge, e.g. from :func:`~geodesic_nets.geometry.frames.vertex_frames`.
    n_neighbors : int
        Neighbours of the point-cloud graph (meshes use their edges).
    boundary : {"half_disk", "wedge"}
        Meshes only: keep the true angle sum at boundary vertices (default; exactly flat on a
        planar domain, corners included) or rescale it to ``pi`` (geometry-central's convention).

    Returns
    -------
    Connection
        See the module docstring for the sign conventions.
    """
    if boundary not in ("half_disk", "wedge"):
        raise ArgumentError(f"boundary must be 'half_disk' or 'wedge', got {boundary!r}")
    v, n_neighbors = _verts_in_frames(verts, frames, n_neighbors)
    if faces is None:
        src, dst = knn_edges(v, n_neighbors) if len(v) > 1 else (np.zeros(0, np.int64),) * 2
        angle = _extrinsic_angles(v, frames, src, dst)
        transport = _rotation_transport(frames, src, dst, v[dst] - v[src])
    else:
        f = _as_faces(faces, len(v))
        src, dst = directed_edges(f, len(v))
        angle = _intrinsic_angles(v, f, frames, src, dst, boundary)
        nv = len(v)
        rev = np.searchsorted(src * nv + dst, dst * nv + src)
        transport = angle[rev] + np.pi - angle
    return Connection(
        edge_src=src.astype(np.int64),
        edge_dst=dst.astype(np.int64),
        transport=wrap_angle(transport),
        edge_angle=wrap_angle(angle),
        edge_length=np.linalg.norm(v[dst] - v[src], axis=1),
    )

