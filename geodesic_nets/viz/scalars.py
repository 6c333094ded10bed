"""Scalar fields on meshes and point clouds, one field or several side by side in linked views."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence


from ._backend import finish, new_plotter
from ._mesh import Location, SurfaceLike, as_values
from ._panels import add_surface, add_title, check_positive, finite_range, grid_shape
from ._scene import checked_surface, finish_view
from .camera import View, apply_view
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["plot_scalars", "plot_surface"]


def _fields(values: Any) -> dict[str, Any]:
    if isinstance(values, Mapping):
        if not values:
            raise ArgumentError("values: the mapping of fields is empty")
        return {str(k): v for k, v in values.items()}
    return {"value": values}


def plot_scalars(
    surface: SurfaceLike,
    values: Any,
    *,
    cmap: Any = "viridis",
    clim: Sequence[float] | Literal["symmetric"] | None = None,
    show_edges: bool = False,
    title: str | None = None,
    point_size: float = 8.0,
    location: Location = "auto",
    view: View = "iso",
    zoom: float = 1.0,
    link_views: bool = True,
    columns: int = 4,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Colour a surface by one scalar field, or by several fields in side-by-side views.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
        A mesh or a point cloud (``faces=None``).
    values : array, shape (V,) or (F,), or mapping of str to such arrays
        Per-vertex or per-face values (numpy or torch). A mapping draws one view per field, in
        a grid at most 4 wide, each with its colour bar titled by the key; the cameras are
        linked. Non-finite values are drawn grey.
    cmap : str or colormap
        Any colour map name pyvista/matplotlib knows.
    clim : (float, float) or "symmetric", optional
        Colour range shared by all fields; "symmetric": ``(-a, a)`` per field with ``a`` the 98th
        percentile of ``|values|`` (signed fields, diverging maps such as "coolwarm"); default
        the finite range of each field.
    show_edges : bool
        Draw the triangle edges.
    title : str, optional
        Text at the top of the (first) view.
    point_size : float
        Sphere size in pixels of the points of a point cloud.
    location : {"auto", "vertices", "faces"}
        Where the values live; "auto" picks vertices for V values and faces for F.
    view : {"iso", "xy", "xz", "yz", "-xy", "-xz", "-yz"}
        Camera direction (see :data:`geodesic_nets.viz.camera.View`).
    zoom : float
        Camera zoom after fitting the surface (> 1 moves closer).
    link_views : bool
        Move the cameras of several views together.
    columns : int
        Views per row at most (several fields).
    window_size : (int, int), optional
        Width and height in pixels; default 500 x 420 per view.
    screenshot : path, optional
        Write a PNG there instead of returning the plotter.
    off_screen : bool, optional
        Default: off screen when writing a screenshot or when there is no display.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
        The plotter (call ``.show()``), or the PNG path when ``screenshot`` is given.

    Raises
    ------
    ValueError
        On values of the wrong length (naming V and F) or invalid options.
    VizDependencyError
        Without pyvista.
    """
    surf = checked_surface(surface, view=view, zoom=zoom, point_size=point_size)
    fields = {name: as_values(surf, v, location, what=f"field {name!r}") for name, v in _fields(values).items()}
    ranges = {name: finite_range(vals, clim) for name, (vals, _) in fields.items()}
    rows, cols = grid_shape(len(fields), max_columns=check_positive(columns, "columns", integer=True))
    plotter = new_plotter(shape=(rows, cols), window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    for k, (name, (vals, where)) in enumerate(fields.items()):
        plotter.subplot(k // cols, k % cols)
        add_surface(plotter, surf, values=vals, location=where, name=name, cmap=cmap,
                    clim=ranges[name], show_edges=show_edges, point_size=point_size)
        add_title(plotter, title if k == 0 else None)
        apply_view(plotter, view, zoom=zoom, points=surf.verts)
    if len(fields) > 1 and link_views:
        plotter.link_views()
    return finish(plotter, screenshot)


def plot_surface(
    surface: SurfaceLike,
    *,
    color: Any = "#d9d9d9",
    show_edges: bool = True,
    title: str | None = None,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """The surface alone, in one colour (edges shown by default).

    Parameters are those of :func:`plot_scalars`; ``color`` is the surface colour.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf = checked_surface(surface, view=view, zoom=zoom, point_size=point_size)
    plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    add_surface(plotter, surf, color=color, show_edges=show_edges, point_size=point_size)
    return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)
