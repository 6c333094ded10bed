"""From the package's surfaces and arrays to pyvista data: Surface -> PolyData, values, spacing.

Every plotting function accepts a :class:`~geodesic_nets.Surface`, a ``(verts, faces)`` pair
(``faces=None`` for a point cloud) or any object with ``verts`` and ``faces`` attributes
(:class:`~geodesic_nets.SurfaceOperators`, :class:`~geodesic_nets.OperatorTensors`); arrays may
be numpy arrays or torch tensors (moved to the CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

from ..geometry.elements import face_areas
from ..geometry.neighbors import knn
from ..geometry.sampling import farthest_points
from ..surface import Surface
from ._backend import import_pyvista
from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import pyvista

__all__ = [
    "SurfaceLike",
    "Location",
    "as_surface",
    "to_numpy",
    "to_polydata",
    "resolve_location",
    "as_values",
    "arrow_spacing",
    "farthest_points",
]

#: What the plotting functions take as a surface.
SurfaceLike = Union[Surface, "tuple[Any, Any]", Any]
#: Where per-element values live: "auto" picks vertices when the length is V, else faces when F.
Location = Literal["auto", "vertices", "faces"]


def to_numpy(x: Any, *, dtype: Any = None) -> np.ndarray:
    """A numpy array from a numpy array, a sequence or a torch tensor (detached, on the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def as_surface(surface: SurfaceLike) -> Surface:
    """A validated :class:`Surface` from any accepted surface form (see the module docstring)."""
    if isinstance(surface, Surface):
        return surface
    if isinstance(surface, tuple) and len(surface) == 2:
        verts, faces = surface
    elif hasattr(surface, "verts") and hasattr(surface, "faces"):
        verts, faces = surface.verts, surface.faces
    else:
        raise ArgumentError(
            f"expected a Surface, a (verts, faces) pair or an object with verts and faces, got {type(surface).__name__}"
        )
    return Surface(to_numpy(verts, dtype=np.float64), None if faces is None else to_numpy(faces))


def to_polydata(surface: Surface) -> "pyvista.PolyData":
    """The surface as a ``pyvista.PolyData`` (triangles, or vertices only for a point cloud)."""
    pv = import_pyvista()
    if surface.is_point_cloud:
        return pv.PolyData(np.array(surface.verts))
    cells = np.hstack([np.full((surface.num_faces, 1), 3, dtype=np.int64), surface.faces])
    return pv.PolyData(np.array(surface.verts), cells.ravel())


def resolve_location(surface: Surface, length: int, location: Location, *, what: str) -> str:
    """``"vertices"`` or ``"faces"``: where ``length`` values of ``what`` belong.

    "auto" prefers vertices when ``V == F``. A ValueError names the expected lengths.
    """
    if location not in ("auto", "vertices", "faces"):
        raise ArgumentError(f"location must be 'auto', 'vertices' or 'faces', got {location!r}")
    nv, nf = surface.num_verts, surface.num_faces
    if location in ("auto", "vertices") and length == nv:
        return "vertices"
    if location in ("auto", "faces") and length == nf and not surface.is_point_cloud:
        return "faces"
    expected = {"auto": f"V={nv}" + ("" if surface.is_point_cloud else f" or F={nf}"),
                "vertices": f"V={nv}", "faces": f"F={nf}"}[location]
    if location == "faces" and surface.is_point_cloud:
        raise ArgumentError(f"{what}: a point cloud has no faces to carry per-face values")
    raise ArgumentError(f"{what}: expected {expected} values ({location}), got {length}")


def as_values(surface: Surface, values: Any, location: Location, *, what: str) -> tuple[np.ndarray, str]:
    """A float64 copy of ``values`` (shape (V,) or (F,); inf becomes NaN) and its location."""
    a = to_numpy(values)
    if a.ndim != 1:
        raise ArgumentError(f"{what}: expected a 1-D array of per-vertex or per-face values, got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ArgumentError(f"{what}: expected numeric values, got dtype {a.dtype}")
    where = resolve_location(surface, len(a), location, what=what)
    a = a.astype(np.float64)
    a[~np.isfinite(a)] = np.nan
    return a, where


def arrow_spacing(surface: Surface, n_shown: int) -> float:
    """Typical distance between ``n_shown`` evenly spread points of the surface (arrow length scale)."""
    v = surface.verts
    n_shown = max(int(n_shown), 1)
    if not surface.is_point_cloud and surface.num_faces:
        area = float(face_areas(v, surface.faces).sum())
        if area > 0:
            return float(np.sqrt(area / n_shown))
    if len(v) > 1:
        _, dist = knn(v, 1)
        return float(dist.mean() * np.sqrt(len(v) / n_shown))
    return 1.0
