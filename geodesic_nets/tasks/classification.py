"""Shape classification: one label per mesh, cross-entropy, accuracy and confusion matrix."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.sample import SampleBatch
from ..errors import GeodesicNetsError
from .base import Task, check_class_options
from .inference import iterate_batches
from .metrics import accuracy, confusion_matrix, per_class_accuracy

__all__ = ["ClassificationTask"]


class ClassificationTask(Task):
    """Per-mesh labels; the model outputs logits of shape (B, num_classes).

    Parameters
    ----------
    num_classes : int
    label_smoothing : float
        Of the cross-entropy (DiffusionNet uses 0.2 on SHREC'11's small training sets).
    """

    name = "classification"
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, num_classes: int, *, label_smoothing: float = 0.0) -> None:
        check_class_options(num_classes, label_smoothing)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def _check(self, sb: SampleBatch, logits: torch.Tensor) -> None:
        if sb.label is None or sb.label.shape != (sb.num_meshes,):
            raise GeodesicNetsError(f"classification needs one label per mesh, got {None if sb.label is None else tuple(sb.label.shape)}")
        if logits.shape != (sb.num_meshes, self.num_classes):
            raise GeodesicNetsError(f"expected logits of shape (B={sb.num_meshes}, {self.num_classes}), got {tuple(logits.shape)}")

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(sb.batch)  # (B, num_classes)
        self._check(sb, logits)
        loss = F.cross_entropy(logits, sb.label, label_smoothing=self.label_smoothing)  # mean over meshes
        acc = (logits.argmax(1) == sb.label).float().mean()
        return loss, {"accuracy": float(acc)}

    def predict(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, torch.Tensor]:
        """Predicted classes (N,), their probabilities (N, num_classes), labels (N,) when known."""
        preds, probs, labels = [], [], []
        for sb, logits in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
            p = torch.softmax(logits.double(), 1).cpu()
            probs.append(p)
            preds.append(p.argmax(1))
            if sb.label is not None:
                labels.append(sb.label.cpu())
        out = {"pred": torch.cat(preds), "prob": torch.cat(probs)}
        if labels:
            out["label"] = torch.cat(labels)
        return out

    def evaluate(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, Any]:
        r = self.predict(model, dataset, device=device, dtype=dtype, batch_size=batch_size)
        if "label" not in r:
            raise GeodesicNetsError("the evaluation dataset has no labels")
        pred, label = r["pred"], r["label"]
        return {
            "accuracy": accuracy(pred, label),
            "per_class_accuracy": per_class_accuracy(pred, label, self.num_classes),
            "confusion_matrix": confusion_matrix(pred, label, self.num_classes).tolist(),
            "n": int(label.numel()),
        }
