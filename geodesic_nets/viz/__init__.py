"""Plotting surfaces, fields, frames and correspondences with pyvista (the ``[viz]`` extra).

Importing this package does not import pyvista; the first plot does, and raises
:class:`VizDependencyError` (a :class:`~geodesic_nets.GeodesicNetsError`) naming
``pip install 'geodesic-nets[viz]'`` when it is missing. Without a display, plots render off
screen (VTK's EGL window, no X server needed).

Every function takes a :class:`~geodesic_nets.Surface` (or a ``(verts, faces)`` pair, or an
object with ``verts`` and ``faces`` such as :class:`~geodesic_nets.SurfaceOperators`), arrays
as numpy or torch, and keyword-only options; it returns the ``pyvista.Plotter`` (call
``.show()``), or, with ``screenshot="out.png"``, writes that PNG (``window_size=(w, h)``)
and returns its path.

==============================  ===========================================================
function                        draws
==============================  ===========================================================
:func:`plot_surface`            the surface alone (mesh edges or points)
:func:`plot_scalars`            per-vertex / per-face values, several fields in linked views
:func:`plot_geodesic`           geodesic distance from a source, with isolines
:func:`plot_vector_field`       tangent vectors (frame coordinates or 3D) as arrows
:func:`plot_frames`             the vertex frames (gauges)
:func:`plot_transport`          parallel transport of a vector along a vertex path
:func:`plot_correspondence`     colour transfer through a point-to-point map, side by side
:func:`plot_error_map`          per-vertex correspondence error
:func:`plot_labels`             segmentation labels, categorical colours and a legend
:func:`plot_features`           feature channels side by side, or their PCA as RGB
==============================  ===========================================================
"""

from ._backend import INSTALL_HINT, VizDependencyError, has_display, import_pyvista
from .camera import View, world_to_pixels
from .correspondence import Pattern, check_p2p, pattern_colors, plot_correspondence, plot_error_map
from .features import features_to_rgb, plot_features
from .geodesics import isoline_levels, plot_geodesic
from .labels import UNLABELED_COLOR, label_colors, plot_labels
from .scalars import plot_scalars, plot_surface
from .vectors import plot_frames, plot_transport, plot_vector_field, transported_coords

__all__ = [
    "VizDependencyError",
    "INSTALL_HINT",
    "has_display",
    "import_pyvista",
    "View",
    "world_to_pixels",
    "plot_scalars",
    "plot_surface",
    "plot_geodesic",
    "isoline_levels",
    "plot_vector_field",
    "plot_frames",
    "plot_transport",
    "transported_coords",
    "plot_correspondence",
    "plot_error_map",
    "pattern_colors",
    "check_p2p",
    "Pattern",
    "plot_labels",
    "label_colors",
    "UNLABELED_COLOR",
    "plot_features",
    "features_to_rgb",
]
