"""Camera directions of the plots and the map from world points to screenshot pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence, get_args

import numpy as np

from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["View", "apply_view", "world_to_pixels"]

#: Camera direction: "iso" (isometric), or looking down the third axis onto a coordinate plane
#: ("xy": from +z, "-xy": from -z, likewise "xz", "yz").
View = Literal["iso", "xy", "xz", "yz", "-xy", "-xz", "-yz"]


def check_view(view: Any) -> str:
    """``view`` if it is one of :data:`View`, else a ValueError."""
    if view not in get_args(View):
        raise ArgumentError(f"view must be one of {get_args(View)}, got {view!r}")
    return view


def _fit_zoom(bounds: Sequence[float], points: np.ndarray) -> float:
    """Extra zoom for round shapes: VTK fits the sphere around the bounding box, which leaves a
    wide margin around a ball (up to sqrt(3) too far); close part of that gap."""
    if len(points) == 0:
        return 1.0
    lo, hi = np.asarray(bounds[0::2], dtype=np.float64), np.asarray(bounds[1::2], dtype=np.float64)
    box_radius = 0.5 * float(np.linalg.norm(hi - lo))
    reach = float(np.linalg.norm(points - 0.5 * (lo + hi), axis=1).max())
    if not (box_radius > 0 and reach > 0):
        return 1.0
    return float(np.clip(0.75 * box_radius / reach, 1.0, 1.35))


def apply_view(plotter: "pyvista.Plotter", view: View, *, zoom: float = 1.0, points: Any = None) -> None:
    """Point the camera of the active sub-view along ``view``, fit the scene, then zoom.

    ``points`` (N, 3): the surface's vertices, used to tighten the fit around round shapes.
    """
    check_view(view)
    if view == "iso":
        plotter.view_isometric()
    else:
        negative = view.startswith("-")
        getattr(plotter, f"view_{view.lstrip('-')}")(negative=negative)
    if points is not None:
        zoom = zoom * _fit_zoom(plotter.renderer.bounds, np.asarray(points, dtype=np.float64).reshape(-1, 3))
    if zoom != 1.0:
        plotter.camera.zoom(zoom)


def world_to_pixels(plotter: "pyvista.Plotter", points: Any, *, subplot: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Screenshot pixel of world points seen in one sub-view of a rendered plotter.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Rendered at least once (e.g. after ``plotter.screenshot()``), not closed.
    points : array, shape (N, 3), float
    subplot : (int, int)
        Row and column of the sub-view.

    Returns
    -------
    ndarray, shape (N, 2), int64
        ``(row, col)`` indices into the screenshot array of shape (H, W, 3) (row 0 at the top);
        they may fall outside the image for points outside the view.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    renderer = plotter.renderers[plotter.renderers.loc_to_index(subplot)]
    height = int(plotter.window_size[1])
    out = np.zeros((len(p), 2), dtype=np.int64)
    for i, (x, y, z) in enumerate(p):
        renderer.SetWorldPoint(float(x), float(y), float(z), 1.0)
        renderer.WorldToDisplay()
        dx, dy, _ = renderer.GetDisplayPoint()
        out[i] = (height - 1 - int(np.floor(dy)), int(np.floor(dx)))
    return out
