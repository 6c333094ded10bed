"""Exception types of geodesic_nets.

Every failure the package reports on purpose is a :class:`GeodesicNetsError`. Subclasses name the
kind of failure; messages say what was expected and what came (shape, dtype, file, index).
"""

from __future__ import annotations

__all__ = [
    "GeodesicNetsError",
    "MeshFormatError",
    "UnsupportedFormatError",
    "InvalidSurfaceError",
    "GeometryError",
    "CacheError",
    "ArgumentError",
    "DependencyError",
    "IndexOutOfRangeError",
    "DatasetError",
]


class GeodesicNetsError(Exception):
    """Base class of every exception raised on purpose by geodesic_nets."""


class MeshFormatError(GeodesicNetsError):
    """A file could not be parsed: truncated, malformed, inconsistent counts."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class UnsupportedFormatError(MeshFormatError):
    """The file extension or content is not one of the formats geodesic_nets reads."""


class InvalidSurfaceError(GeodesicNetsError, ValueError):
    """Arrays do not describe a valid surface (bad shape, dtype, NaN, index out of range)."""


class GeometryError(GeodesicNetsError):
    """A geometric computation cannot be carried out on this input (e.g. an empty mesh)."""


class CacheError(GeodesicNetsError):
    """The operator cache directory cannot be used."""


class ArgumentError(GeodesicNetsError, ValueError, TypeError):
    """A function or option was given an argument it cannot take (wrong value, type or shape).

    Also a ``ValueError`` and a ``TypeError``, so callers that catch either keep working. The
    command line reports it as a usage error (exit status 2).
    """


class IndexOutOfRangeError(ArgumentError, IndexError):
    """An index (of a sample, a vertex, a face) outside its range; also an ``IndexError``."""


class DependencyError(GeodesicNetsError, ImportError):
    """An optional dependency that this feature needs is not installed (the message says which)."""


class DatasetError(GeodesicNetsError):
    """A dataset folder does not have the expected layout or contents."""
