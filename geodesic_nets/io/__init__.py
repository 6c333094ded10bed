"""Reading and writing surfaces; validation reports, repair and normalization.

``load``/``save`` keep the vertex list of a file exactly (order and count), because
correspondence and label files index into it. Cleaning is never silent: :func:`inspect` reports,
:func:`repair` changes and returns the index maps.
"""

from .formats import READ_FORMATS, WRITE_FORMATS, Format, format_of, load, read_arrays, save
from .normalize import Center, Normalized, Scale, normalize
from .ply import PlyEncoding
from .repair import RepairResult, repair
from .report import ValidationReport, inspect

__all__ = [
    "Format",
    "PlyEncoding",
    "READ_FORMATS",
    "WRITE_FORMATS",
    "format_of",
    "load",
    "read_arrays",
    "save",
    "ValidationReport",
    "inspect",
    "RepairResult",
    "repair",
    "Center",
    "Scale",
    "Normalized",
    "normalize",
]
