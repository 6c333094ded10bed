"""Correspondences between two shapes: colour transfer side by side, and a per-vertex error map."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np

from ..surface import Surface
from ._backend import finish, new_plotter
from ._mesh import SurfaceLike, as_surface, to_numpy
from ._panels import add_surface, add_title, check_positive
from .camera import View, apply_view, check_view
from .scalars import plot_scalars
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["Pattern", "pattern_colors", "check_p2p", "plot_correspondence", "plot_error_map"]

#: Colour pattern painted on the source: "xyz" (normalized coordinates as RGB) or "checker"
#: (a 3D checkerboard of the coordinates).
Pattern = Literal["xyz", "checker"]

_CHECK_COLORS = np.array([[0.93, 0.93, 0.90], [0.85, 0.30, 0.20]])


def pattern_colors(surface: SurfaceLike, pattern: Pattern = "xyz", *, n_checks: int = 6) -> np.ndarray:
    """Per-vertex RGB colours of a pattern painted on a surface.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    pattern : {"xyz", "checker"}
        "xyz": each coordinate rescaled to [0, 1] over the bounding box, as (R, G, B).
        "checker": two colours alternating over a grid of cubes, ``n_checks`` along the
        longest side of the bounding box.
    n_checks : int
        Checker cubes along the longest side.

    Returns
    -------
    ndarray, shape (V, 3), float64, in [0, 1]
    """
    surf = as_surface(surface)
    if pattern not in ("xyz", "checker"):
        raise ArgumentError(f"pattern must be 'xyz' or 'checker', got {pattern!r}")
    n_checks = check_positive(n_checks, "n_checks", integer=True)
    v = surf.verts
    if len(v) == 0:
        return np.zeros((0, 3))
    lo, hi = v.min(axis=0), v.max(axis=0)
    if pattern == "xyz":
        span = np.where(hi > lo, hi - lo, 1.0)
        return (v - lo) / span
    side = float((hi - lo).max()) / n_checks or 1.0
    cell = np.floor((v - lo) / side).astype(np.int64)  # (V, 3)
    cell = np.minimum(cell, np.ceil((hi - lo) / side).astype(np.int64) - 1)  # the far faces of the box
    return _CHECK_COLORS[cell.sum(axis=1) % 2]


def check_p2p(p2p: Any, num_source: int, num_target: int) -> np.ndarray:
    """A point-to-point map checked: shape (V_target,), integers in ``[0, V_source)``.

    Returns
    -------
    ndarray, shape (V_target,), int64
    """
    m = to_numpy(p2p)
    if m.shape != (num_target,):
        raise ArgumentError(f"p2p: expected shape ({num_target},) (one source vertex per target vertex), got {m.shape}")
    if m.size and m.dtype.kind not in "iu":
        raise ArgumentError(f"p2p: expected integer source vertex indices, got dtype {m.dtype}")
    m = m.astype(np.int64)
    bad = (m < 0) | (m >= num_source)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ArgumentError(
            f"p2p: target vertex {i} maps to {int(m[i])}, outside the source's [0, {num_source})"
            f" ({int(bad.sum())} such vertices)"
        )
    return m


def plot_correspondence(
    source: SurfaceLike,
    target: SurfaceLike,
    p2p: Any,
    *,
    pattern: Pattern = "xyz",
    n_checks: int = 6,
    titles: Sequence[str] = ("source", "target"),
    link_views: bool = True,
    show_edges: bool = False,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Colour transfer: a pattern on the source, pulled back to the target through ``p2p``.

    Target vertex ``i`` gets the colour of source vertex ``p2p[i]``, so a correct map shows the
    same pattern on both shapes and errors show as misplaced colours.

    Parameters
    ----------
    source, target : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    p2p : array, shape (V_target,), int
        Source vertex of every target vertex (numpy or torch).
    pattern : {"xyz", "checker"}
        See :func:`pattern_colors`.
    n_checks : int
        Checker cubes along the source's longest side.
    titles : (str, str)
        Titles of the two views.
    link_views : bool
        Move the two cameras together.
    show_edges, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars` (default size 1000 x 420).

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    src, tgt = as_surface(source), as_surface(target)
    check_view(view)
    check_positive(zoom, "zoom")
    if len(titles) != 2:
        raise ArgumentError(f"titles: expected two titles (source, target), got {titles!r}")
    m = check_p2p(p2p, src.num_verts, tgt.num_verts)
    colors = pattern_colors(src, pattern, n_checks=n_checks)  # (V_source, 3)
    plotter = new_plotter(shape=(1, 2), window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    for col, (surf, rgb, text) in enumerate(((src, colors, titles[0]), (tgt, colors[m], titles[1]))):
        plotter.subplot(0, col)
        add_surface(plotter, surf, rgb=rgb, name="colors", show_edges=show_edges, point_size=point_size)
        add_title(plotter, text)
        apply_view(plotter, view, zoom=zoom, points=surf.verts)
    if link_views:
        plotter.link_views()
    return finish(plotter, screenshot)


def plot_error_map(
    target: SurfaceLike,
    errors: Any,
    *,
    cmap: Any = "inferno",
    clim: Sequence[float] | None = None,
    title: str | None = "correspondence error",
    show_edges: bool = False,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Per-vertex correspondence error on the target (e.g. geodesic distance to the truth).

    Parameters
    ----------
    target : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    errors : array, shape (V,), float, >= 0
    cmap : colour map
        Default "inferno": small errors dark, large ones bright.
    clim : (float, float), optional
        Default ``(0, max error)``.
    title, show_edges, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf: Surface = as_surface(target)
    err = np.asarray(to_numpy(errors), dtype=np.float64)
    if err.shape != (surf.num_verts,):
        raise ArgumentError(f"errors: expected shape ({surf.num_verts},), got {err.shape}")
    if np.any(err[np.isfinite(err)] < 0):
        raise ArgumentError("errors: expected non-negative values")
    if clim is None:
        finite = err[np.isfinite(err)]
        top = float(finite.max()) if finite.size else 0.0
        clim = (0.0, top if top > 0 else 1.0)
    return plot_scalars(surf, {"error": err}, cmap=cmap, clim=clim, title=title, show_edges=show_edges,
                        point_size=point_size, location="vertices", view=view, zoom=zoom,
                        window_size=window_size, screenshot=screenshot, off_screen=off_screen)
