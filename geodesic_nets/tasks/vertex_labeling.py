"""Dense correspondence as vertex labelling (FAUST original protocol).

Every vertex of a shape is classified into the vertex of a template it corresponds to
(``sample.label`` (V,), template index, -1 where unknown), so the model outputs logits of shape
(V, num_template_verts). ``sample.corr`` (P,) gives, for each template index, the vertex of the
shape that carries it; a prediction ``l`` at vertex ``v`` therefore maps ``v`` to vertex
``corr[l]`` of the same shape, and its error is the geodesic distance from ``v`` to it,
normalized by the square root of the shape's area. Reported: the accuracy at zero error and the
fraction of vertices within each geodesic radius.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.sample import SampleBatch
from ..errors import ArgumentError, GeodesicNetsError
from .base import Task
from .geodesic_error import correspondence_geodesic_errors, error_curve
from .inference import iterate_batches

__all__ = ["VertexLabelingTask", "DEFAULT_RADII"]

DEFAULT_RADII = tuple(np.round(np.linspace(0.0, 0.1, 11), 3).tolist())


class VertexLabelingTask(Task):
    """Per-vertex classification into template vertices.

    Parameters
    ----------
    num_classes : int
        Number of template vertices.
    geodesic_errors : bool
        Also compute the geodesic error curve in :meth:`evaluate` (one multi-source geodesic
        solve per evaluated shape; turn off for quick monitoring during training).
    radii : sequence of float
        Normalized geodesic radii of the error curve.
    """

    name = "correspondence"
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, num_classes: int, *, geodesic_errors: bool = True, radii=DEFAULT_RADII) -> None:
        if num_classes < 2:
            raise ArgumentError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes, self.geodesic_errors, self.radii = num_classes, geodesic_errors, tuple(radii)

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(sb.batch)  # (V, num_classes)
        if sb.label is None or sb.label.shape != (sb.batch.total_verts,):
            raise GeodesicNetsError("vertex labelling needs a template index per vertex")
        if logits.shape != (sb.batch.total_verts, self.num_classes):
            raise GeodesicNetsError(f"expected logits of shape (V, {self.num_classes}), got {tuple(logits.shape)}")
        known = sb.label >= 0
        per_vertex = F.cross_entropy(logits, sb.label.clamp_min(0), reduction="none") * known
        B = sb.num_meshes
        dt = per_vertex.dtype
        total = torch.zeros(B, dtype=dt, device=logits.device).index_add_(0, sb.batch.vert_to_mesh, per_vertex)
        count = torch.zeros(B, dtype=dt, device=logits.device).index_add_(0, sb.batch.vert_to_mesh, known.to(dt))
        acc = ((logits.argmax(1) == sb.label) & known).sum() / known.sum().clamp_min(1)
        return (total / count.clamp_min(1)).mean(), {"accuracy": float(acc)}

    def predict(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> list[torch.Tensor]:
        """Per sample, the predicted template index of every vertex, shape (V,) int64."""
        out = []
        for sb, logits in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
            out.extend(p.cpu() for p in sb.batch.split(logits.argmax(1)))
        return out

    def evaluate(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, Any]:
        preds = self.predict(model, dataset, device=device, dtype=dtype, batch_size=batch_size)
        hits = total = 0
        errors = []
        for s, pred in zip(dataset, preds):
            if s.label is None:
                raise GeodesicNetsError(f"sample {s.name} has no template labels")
            known = s.label >= 0
            hits += int(((pred == s.label) & known).sum())
            total += int(known.sum())
            if self.geodesic_errors and s.corr is not None and s.operators.faces is not None:
                v = torch.nonzero(known).squeeze(1)
                pred_vertex = s.corr[pred[v]]
                errors.append(correspondence_geodesic_errors(
                    s.operators.verts.double().numpy(), s.operators.faces.numpy(),
                    pred_vertex.numpy(), v.numpy()))
        result: dict[str, Any] = {"accuracy": hits / max(total, 1), "n_vertices": total, "n_meshes": len(preds)}
        if errors:
            e = np.concatenate(errors)
            result["mean_geodesic_error"] = float(e.mean())
            result["error_curve"] = {"radii": list(self.radii), "fraction": error_curve(e, self.radii).fractions.tolist()}
        return result
