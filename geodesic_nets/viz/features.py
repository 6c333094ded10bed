"""Multi-channel features on a surface (e.g. what a network learned): chosen channels side by
side, or the first three principal components as RGB."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np

from ._backend import new_plotter
from ._mesh import Location, SurfaceLike, as_surface, resolve_location, to_numpy
from ._panels import add_surface, check_positive
from ._scene import finish_view
from .camera import View, check_view
from .scalars import plot_scalars
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = ["features_to_rgb", "plot_features"]


def features_to_rgb(features: Any, *, robust: float = 1.0, basis: Any = None) -> np.ndarray:
    """The first three principal components of per-element features, as colours.

    Each component is rescaled to [0, 1] between its ``robust`` and ``100 - robust``
    percentiles (clipped), so a few outliers do not wash out the colours. The sign of each
    component is fixed (its largest loading is positive), so the colours are deterministic.
    With fewer than three channels (or a rank below three) the missing components are 0.5.

    Parameters
    ----------
    features : array, shape (N, C), float (numpy or torch)
    robust : float
        Percentile (in [0, 50)) clipped at each end.
    basis : array, shape (N', C), optional
        Features the mean, principal components and percentile ranges are taken from (default
        ``features`` itself). Pass the features of several shapes stacked together and colour
        each shape with that same basis: equal features then get equal colours on every shape
        (with per-shape bases they need not, e.g. when one shape covers only part of the range).

    Returns
    -------
    ndarray, shape (N, 3), float64, in [0, 1]
    """
    x = _feature_matrix(features, "features")
    ref = x if basis is None else _feature_matrix(basis, "basis")
    if ref.shape[1] != x.shape[1]:
        raise ArgumentError(f"basis has {ref.shape[1]} channels, features have {x.shape[1]}")
    if not (0.0 <= float(robust) < 50.0):
        raise ArgumentError(f"robust must be a percentile in [0, 50), got {robust!r}")
    out = np.full((len(x), 3), 0.5)
    if len(ref) < 2 or x.shape[1] == 0:
        return out
    mean = ref.mean(axis=0)
    _, sing, vt = np.linalg.svd(ref - mean, full_matrices=False)
    k = min(3, int(np.sum(sing > 1e-12 * max(float(sing[0]), 1e-300))))
    for j in range(k):
        comp = vt[j] * np.sign(vt[j][np.argmax(np.abs(vt[j]))])
        lo, hi = np.percentile((ref - mean) @ comp, [robust, 100.0 - robust])
        if hi > lo:
            out[:, j] = np.clip(((x - mean) @ comp - lo) / (hi - lo), 0.0, 1.0)
    return out


def _feature_matrix(values: Any, name: str) -> np.ndarray:
    x = np.asarray(to_numpy(values), dtype=np.float64)
    if x.ndim != 2:
        raise ArgumentError(f"{name}: expected shape (N, C), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ArgumentError(f"{name}: expected finite values")
    return x


def plot_features(
    surface: SurfaceLike,
    features: Any,
    *,
    channels: Sequence[int] | Literal["pca"] = (0, 1, 2),
    pca_basis: Any = None,
    cmap: Any = "viridis",
    columns: int = 4,
    location: Location = "auto",
    show_edges: bool = False,
    title: str | None = None,
    point_size: float = 8.0,
    view: View = "iso",
    zoom: float = 1.0,
    window_size: Sequence[int] | None = None,
    screenshot: str | os.PathLike | None = None,
    off_screen: bool | None = None,
) -> "pyvista.Plotter | Path":
    """Feature channels in linked views, or their principal components as RGB.

    Parameters
    ----------
    surface : Surface, (verts, faces) pair, or object with ``verts`` and ``faces``
    features : array, shape (V, C) or (F, C), float (numpy or torch)
        E.g. the output of a network's feature layers on this surface.
    channels : sequence of int, or "pca"
        Channels to draw, one linked view each (each with its colour bar);
        or "pca": one view coloured by :func:`features_to_rgb`.
    pca_basis : array, shape (N', C), optional
        With ``"pca"``: the features the colour basis is fitted to (``basis`` of
        :func:`features_to_rgb`), e.g. two shapes' features stacked, so that both pictures
        share their colours.
    cmap : colour map
        Of the per-channel views.
    columns : int
        Per-channel views per row at most.
    location : {"auto", "vertices", "faces"}
    show_edges, title, point_size, view, zoom, window_size, screenshot, off_screen
        As in :func:`~geodesic_nets.viz.plot_scalars`.

    Returns
    -------
    pyvista.Plotter or pathlib.Path
    """
    surf = as_surface(surface)
    x = np.asarray(to_numpy(features), dtype=np.float64)
    if x.ndim != 2:
        raise ArgumentError(f"features: expected shape (V, C) or (F, C), got {x.shape}")
    where = resolve_location(surf, x.shape[0], location, what="features")
    if isinstance(channels, str):
        if channels != "pca":
            raise ArgumentError(f"channels must be a sequence of channel indices or 'pca', got {channels!r}")
        check_view(view)
        check_positive(zoom, "zoom")
        rgb = features_to_rgb(x, basis=pca_basis)
        plotter = new_plotter(window_size=window_size, screenshot=screenshot, off_screen=off_screen)
        add_surface(plotter, surf, rgb=rgb, location=where, name="pca", show_edges=show_edges,
                    point_size=point_size)
        title = title if title else f"PCA of {x.shape[1]} channels"
        return finish_view(plotter, surf, title=title, view=view, zoom=zoom, screenshot=screenshot)
    if isinstance(channels, (int, np.integer)):
        channels = (channels,)
    chans = [int(c) for c in channels]
    if not chans:
        raise ArgumentError("channels: expected at least one channel index")
    bad = [c for c in chans if not -x.shape[1] <= c < x.shape[1]]
    if bad:
        raise ArgumentError(f"channels {bad} out of range for features with {x.shape[1]} channels")
    fields = {f"channel {c % x.shape[1]}": x[:, c] for c in chans}
    return plot_scalars(surf, fields, cmap=cmap, columns=columns, show_edges=show_edges, title=title,
                        point_size=point_size, location=where, view=view, zoom=zoom, window_size=window_size,
                        screenshot=screenshot, off_screen=off_screen)
