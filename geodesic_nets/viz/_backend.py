"""The lazy pyvista import, headless set-up, plotter creation and the screenshot/return contract.

pyvista (and VTK) are imported only when a plotting function runs, so ``import geodesic_nets.viz``
works without the ``[viz]`` extra. Without a display (Linux with neither ``DISPLAY`` nor
``WAYLAND_DISPLAY``) plotters render off screen, and, unless the user chose a window class
already, VTK is told to use its EGL render window (``VTK_DEFAULT_OPENGL_WINDOW``), which needs no
X server; VTK falls back to OSMesa by itself where EGL is missing.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import ArgumentError, DependencyError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = [
    "VizDependencyError",
    "has_display",
    "import_pyvista",
    "new_plotter",
    "finish",
    "check_window_size",
    "INSTALL_HINT",
]

log = logging.getLogger(__name__)

#: How to get the optional dependency, quoted in every error about it.
INSTALL_HINT = "pip install 'geodesic-nets[viz]'"

_WINDOW_ENV = "VTK_DEFAULT_OPENGL_WINDOW"
_HEADLESS_WINDOW = "vtkEGLRenderWindow"


class VizDependencyError(DependencyError):
    """pyvista (the ``[viz]`` extra) is not installed, or VTK cannot be loaded."""


def has_display() -> bool:
    """Whether a window can be opened: always on macOS/Windows, on Linux if X or Wayland is set."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _import_module(name: str) -> ModuleType:
    """``importlib.import_module`` (one place for tests to simulate a missing package)."""
    return importlib.import_module(name)


def import_pyvista() -> ModuleType:
    """The ``pyvista`` module, set up for off-screen rendering when there is no display.

    Raises
    ------
    VizDependencyError
        If pyvista (or VTK) cannot be imported; the message names the ``[viz]`` extra.
    """
    if not has_display():
        # Read by VTK when a render window is created; an explicit user choice wins.
        os.environ.setdefault(_WINDOW_ENV, _HEADLESS_WINDOW)
    try:
        return _import_module("pyvista")
    except ImportError as exc:
        raise VizDependencyError(
            f"geodesic_nets.viz needs pyvista, which could not be imported ({exc}); "
            f"install the [viz] extra: {INSTALL_HINT}"
        ) from exc


def check_window_size(window_size: Any) -> tuple[int, int]:
    """``(width, height)`` as two positive ints, or a ValueError."""
    try:
        w, h = (int(x) for x in window_size)
        ok = all(float(x) == int(x) for x in window_size)
    except (TypeError, ValueError):
        ok = False
    if not ok or w < 1 or h < 1:
        raise ArgumentError(f"window_size must be two positive integers (width, height), got {window_size!r}")
    return w, h


def new_plotter(
    *,
    shape: tuple[int, int] = (1, 1),
    window_size: Sequence[int] | None,
    screenshot: str | os.PathLike | None,
    off_screen: bool | None,
    panel_size: tuple[int, int] = (500, 420),
) -> "pyvista.Plotter":
    """A white-background plotter with ``shape`` sub-views.

    ``window_size`` defaults to ``panel_size`` per sub-view. ``off_screen`` defaults to True
    when a screenshot is requested or there is no display.
    """
    if screenshot is not None and Path(screenshot).suffix.lower() != ".png":
        raise ArgumentError(f"screenshot must be a .png path, got {str(screenshot)!r}")
    pv = import_pyvista()
    if off_screen is None:
        off_screen = screenshot is not None or not has_display()
    if window_size is None:
        window_size = (panel_size[0] * shape[1], panel_size[1] * shape[0])
    size = check_window_size(window_size)
    plotter = pv.Plotter(off_screen=bool(off_screen), shape=shape, window_size=list(size), border=False)
    plotter.set_background("white")
    return plotter


def finish(plotter: "pyvista.Plotter", screenshot: str | os.PathLike | None) -> "pyvista.Plotter | Path":
    """Return ``plotter``, or render it to the PNG ``screenshot``, close it and return the path."""
    if screenshot is None:
        return plotter
    path = Path(screenshot)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        plotter.screenshot(str(path), return_img=False)
    finally:
        plotter.close()
    log.debug("wrote %s", path)
    return path
