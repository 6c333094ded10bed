"""Operator bundles: what a network needs to know about a surface.

* :mod:`.fields`: the registry, every operator declared once (how it is computed, its shape, how a
  batch packs it);
* :mod:`.bundle`: :class:`SurfaceOperators` (numpy) and :class:`OperatorTensors` (torch), derived
  from the registry;
* :mod:`.compute`: running the registry's stages; :mod:`.cache`: :class:`OperatorCache`;
* :mod:`.api`: :func:`compute_operators`.
"""

from .api import compute_operators
from .bundle import OperatorTensors, SurfaceOperators, move_tensor_fields, to_tensor
from .cache import CACHE_FORMAT_VERSION, OperatorCache, check_operators
from .compute import compute_bundle, resolve_settings
from .fields import OPERATOR_FIELDS, STAGES, TENSOR_FIELDS, OperatorField, Stage, TensorField, stage_of

__all__ = [
    "compute_operators",
    "SurfaceOperators",
    "OperatorTensors",
    "move_tensor_fields",
    "to_tensor",
    "OperatorCache",
    "CACHE_FORMAT_VERSION",
    "check_operators",
    "compute_bundle",
    "resolve_settings",
    "OPERATOR_FIELDS",
    "STAGES",
    "TENSOR_FIELDS",
    "OperatorField",
    "Stage",
    "TensorField",
    "stage_of",
]
