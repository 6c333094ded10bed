"""The start and the end every plot shares: check the view options, then title, frame and
finish (show or save) the scene."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..surface import Surface
from ._backend import finish
from ._mesh import SurfaceLike, as_surface
from ._panels import add_title, check_positive
from .camera import View, apply_view, check_view

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["checked_surface", "finish_view"]


def checked_surface(surface: SurfaceLike, *, view: View, zoom: float, point_size: float | None = None) -> Surface:
    """``surface`` as a :class:`Surface`, after checking ``view``, ``zoom`` (and ``point_size``
    when given), in that order."""
    surf = as_surface(surface)
    check_view(view)
    check_positive(zoom, "zoom")
    if point_size is not None:
        check_positive(point_size, "point_size")
    return surf


def finish_view(
    plotter: "pyvista.Plotter",
    surf: Surface,
    *,
    title: str | None,
    view: View,
    zoom: float,
    screenshot: str | os.PathLike | None,
) -> "pyvista.Plotter | Path":
    """Add the title, point the camera at ``surf`` and show or save the plot."""
    add_title(plotter, title)
    apply_view(plotter, view, zoom=zoom, points=surf.verts)
    return finish(plotter, screenshot)
