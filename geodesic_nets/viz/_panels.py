"""Shared drawing steps of every plot: the grid of sub-views, a surface with its colours, a
colour bar, a title. Internal to :mod:`geodesic_nets.viz`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..surface import Surface
from ._mesh import to_polydata
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["grid_shape", "scalar_bar_args", "add_surface", "add_title", "finite_range", "check_positive"]

SURFACE_COLOR = "#d9d9d9"
NAN_COLOR = "#9a9a9a"


def grid_shape(n: int, *, max_columns: int = 4) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n`` sub-views, at most ``max_columns`` wide."""
    cols = min(n, max_columns)
    return math.ceil(n / cols), cols


def check_positive(value: Any, name: str, *, integer: bool = False, allow_none: bool = False) -> Any:
    """``value`` if it is a positive (int when ``integer``) number, else a ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        ok = False
    else:
        ok = math.isfinite(value) and value > 0 and (not integer or float(value) == int(value))
    if not ok:
        kind = "a positive integer" if integer else "a positive number"
        raise ArgumentError(f"{name} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


def finite_range(values: np.ndarray, clim: Any = None) -> tuple[float, float]:
    """``clim`` checked, or the finite min and max of ``values`` (widened when they are equal).

    ``clim="symmetric"`` gives ``(-a, a)`` with ``a`` the 98th percentile of ``|values|``, for
    signed fields on a diverging colour map (robust to a few spikes).
    """
    if isinstance(clim, str):
        if clim != "symmetric":
            raise ArgumentError(f"clim must be a pair (low, high), 'symmetric' or None, got {clim!r}")
        finite = np.abs(values[np.isfinite(values)])
        a = float(np.percentile(finite, 98.0)) if finite.size else 0.0
        a = a if a > 0 else 1.0
        return -a, a
    if clim is not None:
        try:
            lo, hi = (float(x) for x in clim)
        except (TypeError, ValueError):
            raise ArgumentError(f"clim must be a pair (low, high), got {clim!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ArgumentError(f"clim must be finite with low < high, got {clim!r}")
        return lo, hi
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        pad = 0.5 * max(abs(lo), 1.0)
        lo, hi = lo - pad, hi + pad
    return lo, hi


def bar_format(lo: float, hi: float) -> str:
    """A printf format with enough significant digits to tell ``lo``, the middle and ``hi`` apart."""
    size = max(abs(lo), abs(hi))
    if not (hi > lo) or size == 0:
        return "%.3g"
    digits = int(math.ceil(math.log10(size / (hi - lo)))) + 2
    return f"%.{min(max(digits, 3), 8)}g"


def scalar_bar_args(title: str, clim: tuple[float, float] | None = None) -> dict:
    """A compact horizontal colour bar at the bottom of a sub-view."""
    return {
        "title": title,
        "vertical": False,
        "n_labels": 3,
        "fmt": "%.3g" if clim is None else bar_format(*clim),
        "position_x": 0.2,
        "position_y": 0.02,
        "width": 0.6,
        "height": 0.12,
        "title_font_size": 16,
        "label_font_size": 13,
        "color": "black",
        "font_family": "arial",
    }


def add_surface(
    plotter: "pyvista.Plotter",
    surface: Surface,
    *,
    values: np.ndarray | None = None,
    location: str = "vertices",
    name: str = "value",
    cmap: Any = "viridis",
    clim: tuple[float, float] | None = None,
    rgb: np.ndarray | None = None,
    color: Any = SURFACE_COLOR,
    show_edges: bool = False,
    point_size: float = 8.0,
    scalar_bar: bool = True,
    opacity: float = 1.0,
) -> "pyvista.PolyData":
    """Add ``surface`` to the active sub-view, coloured by ``values`` (with a colour bar named
    ``name``), by ``rgb`` colours (V or F, 3) in [0, 1], or in the plain ``color``.

    Returns the PolyData drawn (with the data arrays attached).
    """
    poly = to_polydata(surface)
    kwargs: dict = {"show_edges": bool(show_edges), "opacity": opacity}
    if surface.is_point_cloud:
        kwargs.update(render_points_as_spheres=True, point_size=float(point_size))
    else:
        kwargs.update(smooth_shading=True, edge_color="#404040", specular=0.2)
    data = poly.point_data if location == "vertices" else poly.cell_data
    if values is not None:
        data[name] = values
        kwargs.update(scalars=name, cmap=cmap, clim=clim, nan_color=NAN_COLOR,
                      show_scalar_bar=scalar_bar, scalar_bar_args=scalar_bar_args(name, clim),
                      preference="point" if location == "vertices" else "cell")
    elif rgb is not None:
        data[name] = np.ascontiguousarray(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
        kwargs.update(scalars=name, rgb=True, show_scalar_bar=False,
                      preference="point" if location == "vertices" else "cell")
    else:
        kwargs.update(color=color)
    plotter.add_mesh(poly, **kwargs)
    return poly


def add_title(plotter: "pyvista.Plotter", title: str | None) -> None:
    """Text at the top of the active sub-view (nothing for None or an empty title)."""
    if title:
        plotter.add_text(str(title), position="upper_edge", font_size=11, color="black")
