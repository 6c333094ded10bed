"""SurfaceOperators (numpy) and OperatorTensors (torch): the bundles a network reads.

Both dataclasses are built from the registry in :mod:`geodesic_nets.operators.fields`: their fields,
their docstrings and the conversion between them come from :data:`~.fields.OPERATOR_FIELDS` and
:data:`~.fields.TENSOR_FIELDS`.
"""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..errors import ArgumentError
from .fields import OPERATOR_FIELDS, TENSOR_FIELDS

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SurfaceOperators", "OperatorTensors", "move_tensor_fields", "to_tensor"]


def to_tensor(value: Any, kind: str, device: Any, dtype: "torch.dtype") -> "torch.Tensor | None":
    """One numpy value as a torch tensor: ``kind`` is ``"float"``, ``"index"`` or ``"sparse"``."""
    import torch

    if value is None:
        return None
    if kind == "sparse":
        coo = sp.coo_matrix(value)
        idx = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64), device=device)
        val = torch.as_tensor(coo.data, dtype=dtype, device=device)
        # Indices come from a valid scipy matrix: skip torch's invariant checks.
        return torch.sparse_coo_tensor(idx, val, coo.shape, check_invariants=False).coalesce()
    # Copies: the numpy arrays may be read-only.
    return torch.tensor(np.ascontiguousarray(value), dtype=torch.int64 if kind == "index" else dtype, device=device)


def move_tensor_fields(obj: Any, device: Any = None, dtype: "torch.dtype | None" = None) -> Any:
    """A copy of the dataclass ``obj`` with every tensor field moved to ``device``.

    Floating tensors are cast to ``dtype`` when given; index tensors keep theirs; None stays.
    """
    out = {}
    for f in fields(obj):
        t = getattr(obj, f.name)
        if t is None:
            out[f.name] = None
        elif t.is_floating_point() and dtype is not None:
            out[f.name] = t.to(device=device, dtype=dtype)
        else:
            out[f.name] = t.to(device=device)
    return type(obj)(**out)


class _SurfaceOperatorsMethods:
    """Methods of :class:`SurfaceOperators` (the fields come from the registry)."""

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def num_eigs(self) -> int:
        return int(self.evals.shape[0])

    def to(self, device: "str | torch.device | None" = None, dtype: "torch.dtype | None" = None) -> "OperatorTensors":
        """Torch tensors of every operator on ``device`` with floating dtype ``dtype``.

        Parameters
        ----------
        device : str or torch.device, optional
            Default CPU.
        dtype : torch.dtype, optional
            Floating dtype of real tensors (default ``torch.float32``); index tensors are int64.
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        if not dtype.is_floating_point:
            raise ArgumentError(f"dtype must be a floating dtype, got {dtype}")
        return OperatorTensors(**{t.name: to_tensor(t.read(self), t.dtype, device, dtype) for t in TENSOR_FIELDS})


class _OperatorTensorsMethods:
    """Methods of :class:`OperatorTensors` (the fields come from the registry)."""

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    def to(self, device: "str | torch.device | None" = None, dtype: "torch.dtype | None" = None) -> "OperatorTensors":
        """Move every tensor to ``device``; cast floating tensors to ``dtype`` when given."""
        return move_tensor_fields(self, device, dtype)


def _surface_operators_class() -> type:
    required = [("verts", np.ndarray), ("faces", "np.ndarray | None")]
    required += [(f.name, Any) for f in OPERATOR_FIELDS if not f.optional]
    required += [("settings", Any)]
    optional = [(f.name, Any, field(default=None)) for f in OPERATOR_FIELDS if f.optional]
    optional += [("timings", dict, field(default_factory=dict))]
    doc_lines = [
        "Geometric operators of one surface, numpy/scipy float64 (fields from the operator registry).",
        "",
        "Attributes",
        "----------",
        "verts : ndarray, shape (V, 3)",
        "faces : ndarray, shape (F, 3) int64, or None for a point cloud",
    ]
    doc_lines += [f"{f.name}\n    {f.doc}" for f in OPERATOR_FIELDS]
    doc_lines += [
        "settings : OperatorSettings",
        "timings : dict\n    Seconds spent on each stage when it was computed (not recomputed from a cache hit).",
    ]
    cls = make_dataclass(
        "SurfaceOperators", required + optional, bases=(_SurfaceOperatorsMethods,), frozen=True, eq=False,
        namespace={"__doc__": "\n".join(doc_lines), "__module__": __name__},
    )
    return cls


def _operator_tensors_class() -> type:
    required = [(t.name, Any) for t in TENSOR_FIELDS if not t.optional]
    optional = [(t.name, Any, field(default=None)) for t in TENSOR_FIELDS if t.optional]
    shapes = "; ".join(
        f"{t.name} {'sparse ' if t.dtype == 'sparse' else ''}{t.shape_text()}"
        f"{' int64' if t.dtype == 'index' else ''}{' or None' if t.optional else ''}"
        for t in TENSOR_FIELDS
    )
    doc = (
        "The torch form of :class:`SurfaceOperators` (fields from the operator registry).\n\n"
        f"Shapes: {shapes}."
    )
    return make_dataclass(
        "OperatorTensors", required + optional, bases=(_OperatorTensorsMethods,), frozen=True, eq=False,
        namespace={"__doc__": doc, "__module__": __name__},
    )


SurfaceOperators = _surface_operators_class()
OperatorTensors = _operator_tensors_class()
