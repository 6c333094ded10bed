"""Segmentation labels: a categorical colour per label, with a legend."""

from __future__ import annotations

import colorsys
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ._backend import finish, new_plotter
from ._mesh import Location, SurfaceLike, resolve_location, to_numpy
from ._panels import add_surface, add_title, check_positive, grid_shape
from ._scene import checked_surface
from .camera import View, apply_view
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["label_colors", "UNLABELED_COLOR", "plot_labels"]

#: Colour of negative labels (unlabelled / ignored vertices or faces).
UNLABELED_COLOR = np.array([0.62, 0.62, 0.62])

# Twelve well-separated hues first (hand-picked), then golden-ratio hue steps.
_BASE = np.array([
    [0.89, 0.26, 0.20],  # red
    [0.20, 0.47, 0.80],  # blue
    [0.30, 0.68, 0.29],  # green
    [0.98, 0.60, 0.10],  # orange
    [0.55, 0.35, 0.72],  # purple
    [0.10, 0.72, 0.75],  # cyan
    [0.93, 0.45, 0.70],  # pink
    [0.60, 0.40, 0.22],  # brown
    [0.75, 0.78, 0.15],  # olive
    [0.15, 0.25, 0.45],  # navy
    [0.55, 0.85, 0.60],  # mint
    [0.45, 0.05, 0.25],  # wine
])


def label_colors(n: int) -> np.ndarray:
    """The colours of labels ``0 .. n-1``: label ``k`` always gets row ``k``.

    Returns
    -------
    ndarray, shape (n, 3), float64, in [0, 1]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ArgumentError(f"n must be a non-negative integer, got {n!r}")
    if n <= len(_BASE):
        return _BASE[:n].copy()
    extra = []
    for k in range(n - len(_BASE)):
        hue = (0.11 + 0.618033988749895 * k) % 1.0
        sat, val = (0.65, 0.85) if k % 2 == 0 else (0.85, 0.60)
        extra.append(colorsys.hsv_to_rgb(hue, sat, val))
    return np.concatenate([_BASE, np.asarray(extra)])


def _name_of(names: Any, label: int) -> str:
    if label < 0 and not (isinstance(names, Mapping) and label in names):
        return "unlabeled"
    if names is None:
        return str(label)
    if isinstance(names, Mapping):
        return str(names.get(label, label))
    return str(names[label]) if 0 <= label < len(names) else str(label)


def _check_labels(surf: Any, labels: Any, location: Location, what: str) -> tuple[np.ndarray, str]:
    lab = to_numpy(labels)
    if lab.ndim != 1:
        raise ArgumentError(f"{what}: expected a 1-D array of integer labels, got shape {lab.shape}")
    if lab.size and lab.dtype.kind not in "iu":
        if lab.dtype.kind == "f" and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise ArgumentError(f"{what}: expected integer labels, got dtype {lab.dtype}")
    return lab.astype(np.int64), resolve_location(surf, len(lab), location, what=what)


def plot_labels(
    surface: SurfaceLike,
    labels: Any,
    *,
    names: Sequence[str] | Mapping[int, str] | None = None,
    location: Location = "auto",
    legend: bool = True,
    link_views: bool = True,
    columns: int = 4,
    show_edges: bool = False,
    title: str | None = None,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Per-vertex or per-face labels in categorical colours, with a legend.

    Label ``k >= 0`` is drawn in ``label_colors(k + 1)[k]`` whatever other labels are present,
    so predictions and ground truth drawn separately share colours; negative labels
    (unlabelled) are light grey.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    labels : array, shape (V,) or (F,), int, or mapping of str to such arrays
        A mapping (e.g. ``{"truth": y, "prediction": p}``) draws linked views side by side.
    names : sequence or mapping of label -> str, optional
        Legend text of each label (default the label number; negative labels: "unlabeled").
    location : {"auto", "vertices", "faces"}
        Where the labels live; "auto" picks vertices for V labels and faces for F.
    legend : bool
        Show a legend of the labels present (in the first view).
    link_views, columns, show_edges, title, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf = checked_surface(surface, view=view, zoom=zoom)
    fields = labels if isinstance(labels, Mapping) else {"labels": labels}
    if not fields:
        raise ArgumentError("labels: the mapping of label fields is empty")
    checked = {str(k): _check_labels(surf, v, location, f"labels {k!r}") for k, v in fields.items()}
    present = np.unique(np.concatenate([lab for lab, _ in checked.values()]))
    top = int(present.max()) + 1 if present.size and present.max() >= 0 else 0
    palette = label_colors(top)

    rows, cols = grid_shape(len(checked), max_columns=check_positive(columns, "columns", integer=True))
    plotter = new_plotter(shape=(rows, cols), window_size=window_size, screenshot=screenshot, off_screen=off_screen)
    for k, (name, (lab, where)) in enumerate(checked.items()):
        plotter.subplot(k // cols, k % cols)
        rgb = np.tile(UNLABELED_COLOR, (len(lab), 1))  # (V or F, 3)
        rgb[lab >= 0] = palette[lab[lab >= 0]]
        add_surface(plotter, surf, rgb=rgb, location=where, name=name, show_edges=show_edges,
                    point_size=point_size)
        text = name if len(checked) > 1 else None
        if k == 0 and title:
            text = f"{title}: {name}" if text else title
        add_title(plotter, text)
        if k == 0 and legend and present.size:
            entries = [[_name_of(names, int(c)), tuple(palette[c]) if c >= 0 else tuple(UNLABELED_COLOR)]
                       for c in present]
            plotter.add_legend(labels=entries, bcolor="white", face="rectangle", loc="upper right",
                               size=(0.2, min(0.05 * len(entries), 0.5)))
        apply_view(plotter, view, zoom=zoom, points=surf.verts)
    if len(checked) > 1 and link_views:
        plotter.link_views()
    return finish(plotter, screenshot)
