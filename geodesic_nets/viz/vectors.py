"""Tangent vectors on surfaces: vector fields, the vertex frames (gauges), parallel transport.

Tangent vectors are given as 2D coordinates in the vertex frames (``basis_x``, ``basis_y`` of
:func:`geodesic_nets.geometry.frames.vertex_frames`, the gauge every operator of the package
uses) or as 3D vectors. Arrows start slightly above the surface (along the normal) so that they
are not hidden inside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import numpy as np

from ..geometry.connection import levi_civita_connection
from ..geometry.frames import TangentFrames, vertex_frames
from ..geometry.transport import Connection, holonomy, transport_vectors
from ..surface import Surface
from ._backend import import_pyvista, new_plotter
from ._mesh import SurfaceLike, arrow_spacing, as_values, farthest_points, to_numpy
from ._panels import add_surface, check_positive, finite_range
from ._scene import checked_surface, finish_view
from .camera import View
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["plot_vector_field", "plot_frames", "plot_transport", "transported_coords"]

_X_COLOR = "#d62728"
_Y_COLOR = "#2ca02c"
_N_COLOR = "#1f5fd6"


# ----------------------------------------------------------------------------- helpers
def _frames_for(surf: Surface, frames: Any) -> TangentFrames:
    """``frames`` checked against the surface, or the package's vertex frames of it."""
    if frames is None:
        return vertex_frames(surf.verts, surf.faces)
    try:
        out = TangentFrames(*(np.asarray(to_numpy(getattr(frames, k)), dtype=np.float64)
                              for k in ("normals", "basis_x", "basis_y")))
    except AttributeError:
        raise ArgumentError(
            f"frames must have normals, basis_x and basis_y arrays (e.g. TangentFrames), got {type(frames).__name__}"
        ) from None
    for k in ("normals", "basis_x", "basis_y"):
        if getattr(out, k).shape != (surf.num_verts, 3):
            raise ArgumentError(f"frames.{k}: expected shape ({surf.num_verts}, 3), got {getattr(out, k).shape}")
    return out


def _shown(surf: Surface, n_arrows: int | None) -> np.ndarray:
    """Vertices that get an arrow: all, or ``n_arrows`` spread by farthest-point sampling."""
    if n_arrows is None or n_arrows >= surf.num_verts:
        return np.arange(surf.num_verts)
    return np.sort(farthest_points(surf.verts, n_arrows))


def _arrow_geometry(pv: Any) -> "pyvista.PolyData":
    return pv.Arrow(start=(0.0, 0.0, 0.0), direction=(1.0, 0.0, 0.0), tip_length=0.3, tip_radius=0.12,
                    shaft_radius=0.045, scale=1.0)


def _add_arrows(plotter: "pyvista.Plotter", origins: np.ndarray, vectors: np.ndarray, *,
                color: Any = None, scalars: np.ndarray | None = None, cmap: Any = None,
                clim: tuple[float, float] | None = None, name: str = "step") -> None:
    """Arrows from ``origins`` (N, 3) along ``vectors`` (N, 3), drawn at their length."""
    pv = import_pyvista()
    length = np.linalg.norm(vectors, axis=1)
    keep = length > 0
    if not keep.any():
        return
    cloud = pv.PolyData(np.ascontiguousarray(origins[keep]))
    cloud.point_data["vectors"] = np.ascontiguousarray(vectors[keep])
    if scalars is not None:
        cloud.point_data[name] = np.asarray(scalars, dtype=np.float64)[keep]
    glyphs = cloud.glyph(orient="vectors", scale="vectors", factor=1.0, geom=_arrow_geometry(pv))
    if scalars is not None:
        plotter.add_mesh(glyphs, scalars=name, cmap=cmap, clim=clim, show_scalar_bar=False, smooth_shading=True)
    else:
        plotter.add_mesh(glyphs, color=color, smooth_shading=True)


def _check_n_arrows(n_arrows: Any) -> int | None:
    return check_positive(n_arrows, "n_arrows", integer=True, allow_none=True)


def _lift(surf: Surface, n_shown: int) -> float:
    """Height above the surface where arrows start."""
    return 0.04 * arrow_spacing(surf, max(surf.num_verts, 1)) + 0.01 * arrow_spacing(surf, n_shown)


def _underlay_values(surf: Surface, scalars: Any, clim: Any) -> tuple | None:
    """``(values, location, name, clim)`` of the surface colouring, checked; None for none."""
    if scalars is None:
        return None
    name = "scalars"
    if isinstance(scalars, Mapping):
        if len(scalars) != 1:
            raise ArgumentError(f"scalars: expected one array or a mapping with one name, got {len(scalars)} entries")
        (name, scalars), = scalars.items()
    vals, where = as_values(surf, scalars, "auto", what=f"scalars {name!r}")
    return vals, where, str(name), finite_range(vals, clim)


def _underlay(plotter: "pyvista.Plotter", surf: Surface, colouring: tuple | None, *, cmap: Any,
              show_edges: bool, point_size: float) -> None:
    """The surface, plain or coloured as :func:`_underlay_values` prepared."""
    if colouring is None:
        add_surface(plotter, surf, show_edges=show_edges, point_size=point_size)
        return
    vals, where, name, lo_hi = colouring
    add_surface(plotter, surf, values=vals, location=where, name=name, cmap=cmap, clim=lo_hi,
                show_edges=show_edges, point_size=point_size)


# ----------------------------------------------------------------------------- vector fields
def plot_vector_field(
    surface: SurfaceLike,
    vectors: Any,
    *,
    frames: TangentFrames | None = None,
    scale: float | None = None,
    n_arrows: int | None = None,
    color: Any = "black",
    scalars: Any = None,
    cmap: Any = "viridis",
    clim: Sequence[float] | Literal["symmetric"] | None = None,
    show_edges: bool = False,
    title: str | None = None,
    point_size: float = 6.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """A tangent vector field as arrows on the surface.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    vectors : array, shape (V, 2) or (V, 3)
        2D coordinates in the vertex frames (``x * basis_x + y * basis_y``), or 3D vectors
        drawn as they are. Numpy or torch.
    frames : TangentFrames, optional
        The frames of (V, 2) coordinates (anything with ``normals``, ``basis_x``, ``basis_y``
        of shape (V, 3), e.g. ``SurfaceOperators.frames``); default
        :func:`~geodesic_nets.geometry.frames.vertex_frames` of the surface, the package's gauge.
    scale : float, optional
        Arrow length per unit of vector norm; default: the longest arrow is 0.8 times the
        typical spacing between the arrows drawn.
    n_arrows : int, optional
        Draw arrows at this many vertices, spread by farthest-point sampling (default: all).
    color : colour
        Colour of the arrows.
    scalars : array, shape (V,) or (F,), or ``{name: array}``, optional
        Colour the surface by these values (with ``cmap``, ``clim``), e.g. the field's norm;
        the name titles the colour bar.
    show_edges, title, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf = checked_surface(surface, view=view, zoom=zoom)
    n_arrows = _check_n_arrows(n_arrows)
    scale = check_positive(scale, "scale", allow_none=True)
    vec = np.asarray(to_numpy(vectors), dtype=np.float64)
    if vec.ndim != 2 or vec.shape[0] != surf.num_verts or vec.shape[1] not in (2, 3):
        raise ArgumentError(f"vectors: expected shape ({surf.num_verts}, 2) or ({surf.num_verts}, 3), got {vec.shape}")
    fr = _frames_for(surf, frames)
    world = fr.to_world(vec) if vec.shape[1] == 2 else vec  # (V, 3)
    world = np.where(np.isfinite(world), world, 0.0)
    shown = _shown(surf, n_arrows)
    norms = np.linalg.norm(world[shown], axis=1)
    if scale is None:
        top = float(norms.max()) if norms.size else 0.0
        scale = 0.8 * arrow_spacing(surf, len(shown)) / top if top > 0 else 1.0
    origins = surf.verts[shown] + _lift(surf, len(shown)) * fr.normals[shown]

    colouring = _underlay_values(surf, scalars, clim)
    plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    _underlay(plotter, surf, colouring, cmap=cmap, show_edges=show_edges, point_size=point_size)
    _add_arrows(plotter, origins, scale * world[shown], color=color)
    return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)


def plot_frames(
    surface: SurfaceLike,
    frames: TangentFrames | None = None,
    *,
    show_normals: bool = False,
    n_arrows: int | None = None,
    scale: float | None = None,
    scalars: Any = None,
    cmap: Any = "viridis",
    clim: Sequence[float] | Literal["symmetric"] | None = None,
    show_edges: bool = True,
    title: str | None = None,
    point_size: float = 6.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """The vertex frames (gauges): ``basis_x`` red, ``basis_y`` green, normals blue.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    frames : TangentFrames, optional
        Default :func:`~geodesic_nets.geometry.frames.vertex_frames` of the surface.
    show_normals : bool
        Also draw the normals.
    n_arrows : int, optional
        Draw the frames of this many vertices (farthest-point sampling; default all).
    scale : float, optional
        Arrow length; default 0.6 times the spacing between the frames drawn.
    scalars, cmap, clim
        Optional colouring of the surface, as in :func:`plot_vector_field`.
    show_edges, title, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars` (edges shown by default).

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf = checked_surface(surface, view=view, zoom=zoom)
    n_arrows = _check_n_arrows(n_arrows)
    scale = check_positive(scale, "scale", allow_none=True)
    fr = _frames_for(surf, frames)
    shown = _shown(surf, n_arrows)
    if scale is None:
        scale = 0.6 * arrow_spacing(surf, len(shown))
    origins = surf.verts[shown] + _lift(surf, len(shown)) * fr.normals[shown]

    colouring = _underlay_values(surf, scalars, clim)
    plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    _underlay(plotter, surf, colouring, cmap=cmap, show_edges=show_edges, point_size=point_size)
    _add_arrows(plotter, origins, scale * fr.basis_x[shown], color=_X_COLOR)
    _add_arrows(plotter, origins, scale * fr.basis_y[shown], color=_Y_COLOR)
    if show_normals:
        _add_arrows(plotter, origins, scale * fr.normals[shown], color=_N_COLOR)
    return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)


# ----------------------------------------------------------------------------- transport
def transported_coords(connection: Connection, path: Sequence[int], vector: Any) -> np.ndarray:
    """A tangent vector parallel-transported along a vertex path, at every vertex of the path.

    Parameters
    ----------
    connection : Connection
        E.g. :func:`~geodesic_nets.geometry.connection.levi_civita_connection`.
    path : sequence of int, length P >= 1
        Vertices; consecutive ones must be joined by an edge of the connection.
    vector : array, shape (2,)
        Coordinates in the frame of ``path[0]``.

    Returns
    -------
    ndarray, shape (P, 2), float64
        Row ``k``: the vector after transport along ``path[:k + 1]``, in the frame of ``path[k]``.

    Raises
    ------
    GeometryError
        When two consecutive vertices are not joined by an edge (naming them).
    """
    p = np.asarray(path, dtype=np.int64).ravel()
    c = np.asarray(to_numpy(vector), dtype=np.float64)
    if c.shape != (2,):
        raise ArgumentError(f"vector: expected frame coordinates of shape (2,), got {c.shape}")
    if len(p) == 0:
        raise ArgumentError("path: expected at least one vertex")
    out = np.zeros((len(p), 2))
    out[0] = c
    if len(p) > 1:
        edges = connection.edge_index(p[:-1], p[1:])
        for k, e in enumerate(edges):
            out[k + 1] = transport_vectors(connection, np.array([e]), out[k][None])[0]
    return out


def plot_transport(
    surface: SurfaceLike,
    path: Sequence[int],
    vector: Any,
    *,
    frames: TangentFrames | None = None,
    connection: Connection | None = None,
    scale: float | None = None,
    cmap: Any = "plasma",
    path_color: Any = "black",
    line_width: float = 3.0,
    show_edges: bool = False,
    title: str | None = None,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Parallel transport of one tangent vector along a vertex path, drawn at every step.

    The arrows are coloured by step along the path (``cmap``). For a closed path
    (``path[-1] == path[0]``) the first and last arrows sit at the same vertex and differ by the
    holonomy of the loop, which is added to the title in degrees.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    path : sequence of int, length P
        Vertex indices; consecutive vertices must be joined by an edge.
    vector : array, shape (2,)
        The vector at ``path[0]``, in the frame of that vertex.
    frames : TangentFrames, optional
        Default :func:`~geodesic_nets.geometry.frames.vertex_frames` of the surface.
    connection : Connection, optional
        Default :func:`~geodesic_nets.geometry.connection.levi_civita_connection` in ``frames``
        (a given connection must be expressed in ``frames``).
    scale : float, optional
        Arrow length per unit norm; default 0.8 times the mean step length over ``|vector|``.
    path_color : colour
    line_width : float
        Width of the path line in pixels.
    show_edges, title, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter or pathlib.Path

    Raises
    ------
    GeometryError
        When two consecutive path vertices are not joined by an edge.
    """
    surf = checked_surface(surface, view=view, zoom=zoom)
    check_positive(line_width, "line_width")
    scale = check_positive(scale, "scale", allow_none=True)
    p = np.asarray(path)
    if p.ndim != 1 or len(p) == 0 or (p.dtype.kind not in "iu"):
        raise ArgumentError(f"path: expected a non-empty 1-D sequence of vertex indices, got {path!r}")
    p = p.astype(np.int64)
    if p.min() < 0 or p.max() >= surf.num_verts:
        raise ArgumentError(f"path: vertex indices must lie in [0, {surf.num_verts}), got min {p.min()}, max {p.max()}")
    fr = _frames_for(surf, frames)
    conn = connection if connection is not None else levi_civita_connection(surf.verts, surf.faces, fr)
    coords = transported_coords(conn, p, vector)  # (P, 2)
    world = coords[:, :1] * fr.basis_x[p] + coords[:, 1:] * fr.basis_y[p]  # (P, 3)
    pts = surf.verts[p]
    steps = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    if scale is None:
        norm = float(np.linalg.norm(coords[0]))
        step = float(steps.mean()) if steps.size else arrow_spacing(surf, surf.num_verts)
        scale = 0.8 * step / norm if norm > 0 else 1.0
    lift = _lift(surf, len(p))
    closed = len(p) > 2 and p[0] == p[-1]
    if closed:
        angle = np.degrees(holonomy(conn, p))
        title = f"{title + ': ' if title else ''}holonomy {angle:.1f} deg"

    pv = import_pyvista()
    plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    add_surface(plotter, surf, show_edges=show_edges)
    if len(p) > 1:
        line = pv.lines_from_points(np.ascontiguousarray(pts + 0.5 * lift * fr.normals[p]))
        plotter.add_mesh(line, color=path_color, line_width=float(line_width))
    order = np.arange(len(p), dtype=np.float64)
    _add_arrows(plotter, pts + lift * fr.normals[p], scale * world, scalars=order, cmap=cmap,
                clim=(0.0, max(len(p) - 1.0, 1.0)))
    return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)
