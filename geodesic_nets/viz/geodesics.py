"""Geodesic distance from a source, drawn with isolines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..geometry.heat_geodesics import heat_geodesic
from ._backend import new_plotter
from ._mesh import SurfaceLike, as_values
from ._panels import add_surface, check_positive, finite_range
from ._scene import checked_surface, finish_view
from .camera import View
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["plot_geodesic", "isoline_levels"]


def isoline_levels(distances: np.ndarray, n_isolines: int) -> np.ndarray:
    """``n_isolines`` evenly spaced levels strictly inside ``(0, max finite distance)``.

    Returns
    -------
    ndarray, shape (n_isolines,), float64 (empty when no positive finite distance exists)
    """
    d = np.asarray(distances, dtype=np.float64)
    finite = d[np.isfinite(d)]
    top = float(finite.max()) if finite.size else 0.0
    if n_isolines == 0 or top <= 0:
        return np.zeros(0)
    return np.linspace(0.0, top, n_isolines + 2)[1:-1]


def plot_geodesic(
    surface: SurfaceLike,
    distances: Any = None,
    *,
    source: int | Sequence[int] | None = None,
    n_isolines: int = 10,
    cmap: Any = "viridis",
    clim: Sequence[float] | None = None,
    isoline_color: Any = "white",
    line_width: float = 2.0,
    show_source: bool = True,
    show_edges: bool = False,
    title: str | None = None,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Geodesic distance coloured on the surface, with isolines.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    distances : array, shape (V,), optional
        Distance of every vertex; ``inf`` (unreachable) is drawn grey. Give this or ``source``.
    source : int or sequence of int, optional
        Source vertex (or vertices: distance to the nearest); the distance is computed with
        :func:`geodesic_nets.geometry.heat_geodesics.heat_geodesic`. With ``distances``, only marks
        the source.
    n_isolines : int
        Number of isolines, evenly spaced between 0 and the largest finite distance (0: none).
        Point clouds get no isolines.
    cmap, clim, show_edges, title, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.
    isoline_color : colour
    line_width : float
        Isoline width in pixels.
    show_source : bool
        Mark the source vertices (when ``source`` is given) with red points.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
        The plotter, or the PNG path when ``screenshot`` is given.

    Raises
    ------
    ValueError
        When neither or a wrong-length ``distances`` is given, or on invalid options.
    GeometryError
        When the heat method cannot run on this surface.
    """
    surf = checked_surface(surface, view=view, zoom=zoom)
    check_positive(line_width, "line_width")
    if isinstance(n_isolines, bool) or not isinstance(n_isolines, (int, np.integer)) or n_isolines < 0:
        raise ArgumentError(f"n_isolines must be a non-negative integer, got {n_isolines!r}")
    if distances is None and source is None:
        raise ArgumentError("plot_geodesic needs distances (V,) or a source vertex")
    sources = None if source is None else np.atleast_1d(np.asarray(source))
    if sources is not None and (sources.ndim != 1 or sources.dtype.kind not in "iu" or sources.size == 0):
        raise ArgumentError(f"source must be a vertex index or a non-empty sequence of them, got {source!r}")
    if sources is not None and (sources.min() < 0 or sources.max() >= surf.num_verts):
        raise ArgumentError(f"source vertices must lie in [0, {surf.num_verts}), got {sources.tolist()}")
    if distances is None:
        distances = heat_geodesic(surf.verts, surf.faces, sources)
    dist, _ = as_values(surf, distances, "vertices", what="distances")
    lo_hi = finite_range(dist, clim) if clim is not None else (0.0, finite_range(dist)[1])

    plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    poly = add_surface(plotter, surf, values=dist, name="distance", cmap=cmap, clim=lo_hi,
                       show_edges=show_edges, point_size=point_size)
    levels = isoline_levels(dist, int(n_isolines))
    if len(levels) and not surf.is_point_cloud:
        lines = poly.contour(isosurfaces=levels, scalars="distance")
        if lines.n_points:
            plotter.add_mesh(lines, color=isoline_color, line_width=float(line_width), show_scalar_bar=False)
    if show_source and sources is not None:
        plotter.add_points(np.array(surf.verts[sources]), color="red", point_size=14.0,
                           render_points_as_spheres=True)
    return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)
