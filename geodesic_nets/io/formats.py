"""The format registry and the public entry points :func:`load`, :func:`read_arrays`, :func:`save`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Literal, get_args

import numpy as np

from ..errors import ArgumentError, GeodesicNetsError, MeshFormatError, UnsupportedFormatError
from ..surface import Surface
from ._files import PathLike
from .gltf import read_gltf
from .obj import read_obj, write_obj
from .off import read_off, write_off
from .ply import PlyEncoding, read_ply, write_ply
from .points import read_npy, read_xyz, write_npy, write_xyz
from .stl import read_stl, write_stl

__all__ = ["Format", "READ_FORMATS", "WRITE_FORMATS", "format_of", "read_arrays", "load", "save"]

logger = logging.getLogger(__name__)

Format = Literal["obj", "off", "ply", "stl", "glb", "gltf", "xyz", "txt", "npy"]

_READERS: dict[str, Callable[[PathLike], "tuple[np.ndarray, np.ndarray | None]"]] = {
    "obj": read_obj,
    "off": read_off,
    "ply": read_ply,
    "stl": read_stl,
    "glb": read_gltf,
    "gltf": read_gltf,
    "xyz": read_xyz,
    "txt": read_xyz,
    "npy": read_npy,
}
#: Formats :func:`load` reads.
READ_FORMATS: tuple[str, ...] = tuple(_READERS)
#: Formats :func:`save` writes (``xyz``, ``txt`` and ``npy`` hold point clouds only).
WRITE_FORMATS: tuple[str, ...] = ("obj", "off", "ply", "stl", "xyz", "txt", "npy")
_POINTS_ONLY = ("xyz", "txt", "npy")


def format_of(path: PathLike, format: Format | None = None) -> str:
    """The format name of ``path`` from its extension (case-insensitive), or ``format`` checked.

    Raises
    ------
    UnsupportedFormatError
        For an unknown extension or ``format``.
    """
    if format is not None:
        if format not in get_args(Format):
            raise UnsupportedFormatError(f"unknown format {format!r}; expected one of {get_args(Format)}")
        return format
    ext = Path(os.fspath(path)).suffix.lower().lstrip(".")
    if ext not in _READERS:
        raise UnsupportedFormatError(
            f"unsupported extension {('.' + ext) if ext else '(none)'!r}; readable: "
            + ", ".join("." + e for e in READ_FORMATS),
            path=str(path),
        )
    return ext


def read_arrays(path: PathLike, *, format: Format | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw arrays a file holds, not validated (for reporting on broken files).

    Parameters
    ----------
    path : str or PathLike
    format : {"obj", "off", "ply", "stl", "glb", "gltf", "xyz", "txt", "npy"}, optional
        Overrides the extension.

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
        Exactly the vertices the file lists, in file order; may contain NaN or inf.
    faces : ndarray, shape (F, 3), int64, or None
        0-based triangles (polygons fan-triangulated); may hold out-of-range indices. ``None``
        for a point cloud.

    Raises
    ------
    MeshFormatError
        The file is missing, empty, truncated or malformed (subclass
        :class:`UnsupportedFormatError` for an unknown format).
    """
    fmt = format_of(path, format)
    try:
        verts, faces = _READERS[fmt](path)
    except GeodesicNetsError:
        raise
    except MemoryError as exc:
        raise MeshFormatError("not enough memory to read the file", path=str(path)) from exc
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, OSError, UnicodeError) as exc:
        raise MeshFormatError(f"cannot parse the file: {type(exc).__name__}: {exc}", path=str(path)) from exc
    return verts, faces


def load(path: PathLike, *, format: Format | None = None) -> Surface:
    """Read a mesh or point cloud into a validated :class:`~geodesic_nets.Surface`.

    Vertex order and count are exactly those of the file (correspondence and label files
    index into that list): nothing is merged, removed or reordered, except that STL, which
    stores no vertex list, has its exactly equal corners merged. Cleaning is explicit: see
    :func:`geodesic_nets.io.inspect` and :func:`geodesic_nets.io.repair`.

    Parameters
    ----------
    path : str or PathLike
        ``.obj``, ``.off``, ``.ply``, ``.stl``, ``.glb``/``.gltf`` meshes; point clouds from
        ``.ply`` without faces, ``.xyz``/``.txt`` (first 3 columns) and ``.npy`` (V, 3).
        An OBJ without ``f`` lines and an OFF with 0 faces are point clouds too.
    format : {"obj", "off", "ply", "stl", "glb", "gltf", "xyz", "txt", "npy"}, optional
        Overrides the extension.

    Returns
    -------
    Surface
        ``verts`` (V, 3) float64, ``faces`` (F, 3) int64 or ``None``; ``name`` is the path.

    Raises
    ------
    MeshFormatError
        Missing, empty, truncated or malformed file, or one with no vertex.
    UnsupportedFormatError
        Unknown extension or format variant.
    InvalidSurfaceError
        A non-finite coordinate (naming the vertex) or a face index out of range (naming the face
        and the number of vertices).
    """
    verts, faces = read_arrays(path, format=format)
    if len(verts) == 0:
        raise MeshFormatError("the file holds no vertex", path=str(path))
    return Surface(verts, faces, name=str(path))


def save(
    surface: Surface,
    path: PathLike,
    *,
    format: Format | None = None,
    ply_encoding: PlyEncoding = "binary_little_endian",
) -> Path:
    """Write a surface atomically (temporary file in the same folder, then ``os.replace``).

    Parameters
    ----------
    surface : Surface
    path : str or PathLike
        ``.obj``, ``.off``, ``.ply`` (meshes or point clouds), ``.stl`` (meshes; float32),
        ``.xyz``/``.txt``/``.npy`` (point clouds only). Text formats keep 17 significant digits,
        PLY stores float64, so a save/load round trip gives identical arrays (except STL).
    format : str, optional
        Overrides the extension.
    ply_encoding : {"binary_little_endian", "binary_big_endian", "ascii"}
        Only for PLY; any other value with another format is an error.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    UnsupportedFormatError
        Unknown format, a format that cannot hold this surface (faces in ``.xyz``/``.npy``, a
        point cloud in ``.stl``), or a glTF target.
    MeshFormatError
        When the file cannot be written.
    """
    if not isinstance(surface, Surface):
        raise ArgumentError(f"save expects a Surface, got {type(surface).__name__}")
    if ply_encoding not in get_args(PlyEncoding):
        raise ArgumentError(f"ply_encoding must be one of {get_args(PlyEncoding)}, got {ply_encoding!r}")
    fmt = format_of(path, format)
    p = Path(os.fspath(path))
    if fmt not in WRITE_FORMATS:
        raise UnsupportedFormatError(f"writing .{fmt} is not supported; writable: {WRITE_FORMATS}", path=str(p))
    if fmt != "ply" and ply_encoding != "binary_little_endian":
        raise ArgumentError(f"ply_encoding applies only to .ply files, not .{fmt}")
    v, f = surface.verts, surface.faces
    if fmt in _POINTS_ONLY:
        if f is not None:
            raise UnsupportedFormatError(
                f".{fmt} holds points only and this surface has {len(f)} faces; save"
                " Surface(surface.verts) to drop them explicitly",
                path=str(p),
            )
        (write_npy if fmt == "npy" else write_xyz)(p, v)
    elif fmt == "stl":
        if f is None:
            raise UnsupportedFormatError("STL cannot hold a point cloud", path=str(p))
        write_stl(p, v, f)
    elif fmt == "obj":
        write_obj(p, v, f)
    elif fmt == "off":
        write_off(p, v, f)
    else:
        write_ply(p, v, f, encoding=ply_encoding)
    logger.info("saved %r to %s", surface, p)
    return p
