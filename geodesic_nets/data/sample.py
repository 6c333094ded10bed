"""One shape of a dataset (operators + labels) and a collated batch of them.

Every dataset of :mod:`geodesic_nets.data` yields :class:`ShapeSample` items; a
``torch.utils.data.DataLoader`` with ``collate_fn=collate_samples`` turns them into
:class:`SampleBatch` objects, which the tasks of :mod:`geodesic_nets.tasks` consume.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from ..batch import MeshBatch
from ..errors import GeodesicNetsError
from ..operators import OperatorTensors

__all__ = ["ShapeSample", "SampleBatch", "collate_samples"]


@dataclass(frozen=True, eq=False)
class ShapeSample:
    """A shape with its operators and labels.

    Attributes
    ----------
    name : str
        Identifier (file stem, or generated name).
    operators : OperatorTensors
        Torch operator bundle of the (normalized) surface, on the CPU.
    label : Tensor or None
        Classification: shape (), int64 class index. Segmentation: shape (V,), int64.
        Vertex-labelling correspondence (FAUST): shape (V,), int64 index of the template vertex.
    face_label : Tensor or None
        Segmentation: shape (F,), int64.
    corr : Tensor or None
        Shape (P,), int64: indices of this shape's vertices that correspond to a reference point
        set shared by the dataset (``corr_a[i] <-> corr_b[i]`` is the ground-truth map between
        two shapes; FAUST_r ``.vts`` minus one, FAUST ``arange(V)``).
    path : str or None
        The file the shape came from.
    extra : dict
        Anything else (e.g. ``"area"``: area before normalization, ``"edges"`` (E_u, 2) and
        ``"edge_label"`` (E_u,) for MeshCNN's edge protocol).
    """

    name: str
    operators: OperatorTensors
    label: torch.Tensor | None = None
    face_label: torch.Tensor | None = None
    corr: torch.Tensor | None = None
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_verts(self) -> int:
        return self.operators.num_verts


def _move(t: torch.Tensor | None, device: Any) -> torch.Tensor | None:
    return None if t is None else t.to(device)


@dataclass(frozen=True, eq=False)
class SampleBatch:
    """B samples packed for a network.

    Attributes
    ----------
    batch : MeshBatch
    samples : list of ShapeSample
        The members, in batch order (their tensors stay on the CPU).
    label : Tensor or None
        Shape (B,) for per-mesh labels, (V,) for per-vertex labels (concatenated).
    face_label : Tensor or None
        Shape (F,), concatenated.
    corr : list of Tensor or None
        Per member, shape (P_b,) int64 local vertex indices.
    """

    batch: MeshBatch
    samples: list[ShapeSample]
    label: torch.Tensor | None = None
    face_label: torch.Tensor | None = None
    corr: list[torch.Tensor] | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.samples]

    @property
    def num_meshes(self) -> int:
        return len(self.samples)

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "SampleBatch":
        """Batch and labels on ``device``; floating operator tensors cast to ``dtype``."""
        return dataclasses.replace(
            self,
            batch=self.batch.to(device, dtype),
            label=_move(self.label, device),
            face_label=_move(self.face_label, device),
            corr=None if self.corr is None else [c.to(device) for c in self.corr],
        )


def _cat_or_stack(values: list[torch.Tensor | None], what: str) -> torch.Tensor | None:
    present = [v is not None for v in values]
    if not any(present):
        return None
    if not all(present):
        raise GeodesicNetsError(f"some samples of the batch have a {what} and others do not")
    if all(v.dim() == 0 for v in values):
        return torch.stack(values)
    return torch.cat(values)


def collate_samples(samples: Sequence[ShapeSample]) -> SampleBatch:
    """``DataLoader`` collate function: pack samples into a :class:`SampleBatch`."""
    if len(samples) == 0:
        raise GeodesicNetsError("cannot collate an empty list of samples")
    samples = list(samples)
    corr = [s.corr for s in samples]
    if any(c is not None for c in corr) and not all(c is not None for c in corr):
        raise GeodesicNetsError("some samples of the batch have correspondences and others do not")
    return SampleBatch(
        batch=MeshBatch.from_operators([s.operators for s in samples]),
        samples=samples,
        label=_cat_or_stack([s.label for s in samples], "label"),
        face_label=_cat_or_stack([s.face_label for s in samples], "face label"),
        corr=None if corr[0] is None else corr,
    )
