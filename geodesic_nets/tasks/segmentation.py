"""Segmentation: a label per vertex (and per face), per-vertex cross-entropy.

The model outputs per-vertex logits (V, num_classes). Face predictions average the logits of a
face's vertices; edge predictions (when the samples carry ``extra["edges"]`` and
``extra["edge_label"]``) average those of an edge's two end points. With
``extra["edge_soft_labels"]`` and ``extra["edge_area"]`` (human segmentation) the edges are also
scored as MeshCNN scores them: area weighted, correct when one of the edge's accepted labels,
averaged over meshes (``edge_accuracy_meshcnn``). ``per_mesh_vertex_accuracy`` maps each
sample's name to its own vertex accuracy, to find the shapes a model gets wrong.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.sample import SampleBatch
from ..errors import GeodesicNetsError
from .base import Task, check_class_options
from .inference import iterate_batches
from .metrics import (
    accuracy,
    confusion_matrix,
    edge_predictions_from_vertex_logits,
    face_predictions_from_vertex_logits,
    per_class_accuracy,
    soft_label_accuracy,
)

__all__ = ["SegmentationTask"]


class SegmentationTask(Task):
    """Per-vertex labels (``sample.label`` (V,)), optional face and edge labels for evaluation.

    Parameters
    ----------
    num_classes : int
    label_smoothing : float
    """

    name = "segmentation"
    primary_metric = "vertex_accuracy"
    higher_is_better = True

    def __init__(self, num_classes: int, *, label_smoothing: float = 0.0) -> None:
        check_class_options(num_classes, label_smoothing)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(sb.batch)  # (V, num_classes)
        if sb.label is None or sb.label.shape != (sb.batch.total_verts,):
            raise GeodesicNetsError("segmentation needs a label per vertex")
        if logits.shape != (sb.batch.total_verts, self.num_classes):
            raise GeodesicNetsError(f"expected logits of shape (V, {self.num_classes}), got {tuple(logits.shape)}")
        per_vertex = F.cross_entropy(logits, sb.label, reduction="none", label_smoothing=self.label_smoothing)
        B = sb.num_meshes
        per_mesh = torch.zeros(B, dtype=per_vertex.dtype, device=per_vertex.device).index_add_(
            0, sb.batch.vert_to_mesh, per_vertex) / sb.batch.num_verts.to(per_vertex.dtype)
        acc = (logits.argmax(1) == sb.label).float().mean()
        return per_mesh.mean(), {"accuracy": float(acc)}

    def predict(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> list[dict[str, torch.Tensor]]:
        """Per sample: vertex logits (V, C) float64 and predictions for vertices, faces, edges."""
        out = []
        for sb, logits in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
            for s, lg in zip(sb.samples, sb.batch.split(logits.double().cpu())):
                r = {"vertex_logits": lg, "vertex_pred": lg.argmax(1)}
                if s.operators.faces is not None:
                    r["face_pred"] = face_predictions_from_vertex_logits(lg, s.operators.faces)
                if "edges" in s.extra:
                    r["edge_pred"] = edge_predictions_from_vertex_logits(lg, torch.as_tensor(s.extra["edges"]))
                out.append(r)
        return out

    def evaluate(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, Any]:
        preds = self.predict(model, dataset, device=device, dtype=dtype, batch_size=batch_size)
        vp, vl, fp, fl, ep, el, soft = [], [], [], [], [], [], []
        per_mesh: dict[str, float] = {}
        for s, r in zip(dataset, preds):
            if s.label is None:
                raise GeodesicNetsError(f"sample {s.name} has no labels to evaluate against")
            vp.append(r["vertex_pred"])
            vl.append(s.label)
            key = s.name if s.name not in per_mesh else f"{s.name}#{len(per_mesh)}"  # names may repeat
            per_mesh[key] = accuracy(r["vertex_pred"], s.label)
            if s.face_label is not None and "face_pred" in r:
                fp.append(r["face_pred"])
                fl.append(s.face_label)
            if "edge_pred" in r and "edge_label" in s.extra:
                ep.append(r["edge_pred"])
                el.append(torch.as_tensor(s.extra["edge_label"]))
                if "edge_soft_labels" in s.extra and "edge_area" in s.extra:
                    soft.append(soft_label_accuracy(r["edge_pred"], s.extra["edge_soft_labels"],
                                                    weights=s.extra["edge_area"]))
        vp, vl = torch.cat(vp), torch.cat(vl)
        result: dict[str, Any] = {
            "vertex_accuracy": accuracy(vp, vl),
            "per_class_accuracy": per_class_accuracy(vp, vl, self.num_classes),
            "confusion_matrix": confusion_matrix(vp, vl, self.num_classes).tolist(),
            "n_meshes": len(preds),
            "per_mesh_vertex_accuracy": per_mesh,
        }
        if fp:
            result["face_accuracy"] = accuracy(torch.cat(fp), torch.cat(fl))
        if ep:
            result["edge_accuracy"] = accuracy(torch.cat(ep), torch.cat(el))
        if soft:
            result["edge_accuracy_meshcnn"] = sum(soft) / len(soft)  # MeshCNN averages its per-mesh figures
        return result
