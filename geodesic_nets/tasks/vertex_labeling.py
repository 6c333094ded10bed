"""Dense correspondence as vertex labelling (FAUST original protocol).

Every vertex of a shape is classified into the vertex of a template it corresponds to
(``sample.label`` (V,), template index, -1 where unknown), so the model outputs logits of shape
(V, num_template_verts). ``sample.corr`` (P,) gives, for each template index, the vertex of the
shape that carries it; a prediction ``l`` at vertex ``v`` therefore maps ``v`` to vertex
``corr[l]`` of the same shape, and its error is the geodesic distance from ``v`` to it,
normalized by the square root of the shape's area. Reported: the accuracy at zero error and the
fraction of vertices within each geodesic radius. Labels are each vertex's argmax, or, with
``decode="one_to_one"``, the most likely labelling that uses each template vertex once.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.sample import SampleBatch
from ..errors import ArgumentError, GeodesicNetsError
from ..nn.linear_cross_entropy import linear_argmax, weighted_linear_cross_entropy
from .base import Task
from .geodesic_error import correspondence_geodesic_errors, error_curve
from .inference import iterate_batches
from .one_to_one import one_to_one_labels

__all__ = ["VertexLabelingTask", "DEFAULT_RADII"]

Decode = Literal["argmax", "one_to_one"]
DEFAULT_RADII = tuple(np.round(np.linspace(0.0, 0.1, 11), 3).tolist())


class VertexLabelingTask(Task):
    """Per-vertex classification into template vertices.

    Parameters
    ----------
    num_classes : int
        Number of template vertices.
    geodesic_errors : bool
        Also compute the geodesic error curve in :meth:`evaluate` (one multi-source geodesic
        solve per evaluated shape; turn off for quick monitoring during training). Only where
        every evaluated shape is a mesh whose ``corr`` gives the vertex of every template index
        (FAUST: ``corr = arange(6890)``); otherwise the errors are left out of the result.
    radii : sequence of float
        Normalized geodesic radii of the error curve.
    decode : {"argmax", "one_to_one"}
        How :meth:`predict` and :meth:`evaluate` turn scores into labels: each vertex's most likely
        template vertex, or the most likely labelling that gives no template vertex to two
        vertices (:func:`~.one_to_one.one_to_one_labels`; for shapes that share the template's
        vertices, as FAUST's do). With ``"one_to_one"``, :meth:`evaluate` also reports
        ``argmax_accuracy``. Training is the same either way.
    """

    name = "correspondence"
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, num_classes: int, *, geodesic_errors: bool = True, radii=DEFAULT_RADII,
                 decode: Decode = "argmax") -> None:
        if num_classes < 2:
            raise ArgumentError(f"num_classes must be >= 2, got {num_classes}")
        if decode not in get_args(Decode):
            raise ArgumentError(f"decode must be one of {get_args(Decode)}, got {decode!r}")
        self.num_classes, self.geodesic_errors, self.radii = num_classes, geodesic_errors, tuple(radii)
        self.decode = decode

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean over meshes of the mean cross-entropy over each mesh's labelled vertices.

        When the model's last layer is a separable linear head (``SurfaceModel.linear_head``),
        the head and the cross-entropy are fused (:func:`~geodesic_nets.nn.weighted_linear_cross_entropy`):
        the same loss and gradients without the (V, num_classes) logits; otherwise the logits.
        """
        if sb.label is None or sb.label.shape != (sb.batch.total_verts,):
            raise GeodesicNetsError("vertex labelling needs a template index per vertex")
        known = sb.label >= 0
        target = sb.label.clamp_min(0)
        head = _linear_head(model)
        if head is not None and head.out_features != self.num_classes:
            raise GeodesicNetsError(f"expected a head with {self.num_classes} outputs, got {head.out_features}")
        # each known vertex's weight in the loss: 1 / (known vertices of its mesh) / (meshes)
        B, m = sb.num_meshes, sb.batch.vert_to_mesh
        count = torch.bincount(m[known], minlength=B).clamp_min(1)  # (B,) int64
        if head is not None:
            feats = model(sb.batch, head=False)  # (V, S)
            row_weight = known.to(feats.dtype) / (count[m] * B).to(feats.dtype)  # (V,)
            loss, pred = weighted_linear_cross_entropy(feats, head.weight, head.bias, target, row_weight)
        else:
            logits = model(sb.batch)  # (V, num_classes)
            if logits.shape != (sb.batch.total_verts, self.num_classes):
                raise GeodesicNetsError(f"expected logits of shape (V, {self.num_classes}), got {tuple(logits.shape)}")
            per_vertex, pred = F.cross_entropy(logits, target, reduction="none"), logits.argmax(1)
            dt = per_vertex.dtype
            total = torch.zeros(B, dtype=dt, device=per_vertex.device).index_add_(0, m, per_vertex * known)
            loss = (total / count.to(dt)).mean()
        acc = ((pred == sb.label) & known).sum() / known.sum().clamp_min(1)
        return loss, {"accuracy": float(acc)}

    def predict(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> list[torch.Tensor]:
        """Per sample, the predicted template index of every vertex (under ``decode``), shape (V,) int64."""
        return [labels for _, labels in self._predictions(model, dataset, device=device, dtype=dtype,
                                                          batch_size=batch_size)]

    def _predictions(self, model: nn.Module, dataset, *, device, dtype,
                     batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per sample, (argmax labels, labels under ``decode``), each (V,) int64 on the CPU."""
        head = _linear_head(model)
        one_to_one = self.decode == "one_to_one"
        out = []
        if head is None:
            for sb, logits in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
                for lg in sb.batch.split(logits):
                    out.append(_decoded(lg, one_to_one))
            return out
        # without one-to-one decoding: the argmax of the head block by block, never the (V, K) logits
        fwd = functools.partial(model, head=False)
        for sb, feats in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size, call=fwd):
            for f in sb.batch.split(feats):
                if one_to_one:
                    out.append(_decoded(F.linear(f, head.weight, head.bias), True))
                else:
                    pred = linear_argmax(f, head.weight, head.bias).cpu()
                    out.append((pred, pred))
        return out

    def evaluate(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, Any]:
        preds = self._predictions(model, dataset, device=device, dtype=dtype, batch_size=batch_size)
        hits = argmax_hits = total = 0
        errors = []
        # a geodesic error needs the vertex of every template index on every shape (``corr`` (K,))
        measurable = self.geodesic_errors and all(
            s.corr is not None and len(s.corr) >= self.num_classes and s.operators.faces is not None for s in dataset)
        for s, (argmax_pred, pred) in zip(dataset, preds):
            if s.label is None:
                raise GeodesicNetsError(f"sample {s.name} has no template labels")
            known = s.label >= 0
            hits += int(((pred == s.label) & known).sum())
            argmax_hits += int(((argmax_pred == s.label) & known).sum())
            total += int(known.sum())
            if measurable:
                v = torch.nonzero(known).squeeze(1)
                pred_vertex = s.corr[pred[v]]
                errors.append(correspondence_geodesic_errors(
                    s.operators.verts.double().numpy(), s.operators.faces.numpy(),
                    pred_vertex.numpy(), v.numpy()))
        result: dict[str, Any] = {"accuracy": hits / max(total, 1), "n_vertices": total, "n_meshes": len(preds),
                                  "decode": self.decode}
        if self.decode != "argmax":
            result["argmax_accuracy"] = argmax_hits / max(total, 1)
        if errors:
            e = np.concatenate(errors)
            result["mean_geodesic_error"] = float(e.mean())
            result["error_curve"] = {"radii": list(self.radii), "fraction": error_curve(e, self.radii).fractions.tolist()}
        return result


def _decoded(logits: torch.Tensor, one_to_one: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(argmax labels, decoded labels) of one mesh's logits (V, K), both (V,) int64 on the CPU."""
    pred = logits.argmax(1).cpu()
    if not one_to_one:
        return pred, pred
    return pred, one_to_one_labels(torch.log_softmax(logits.double(), dim=1))


def _linear_head(model: nn.Module) -> nn.Linear | None:
    """The model's separable final linear layer (``SurfaceModel.linear_head``), through a DDP wrapper."""
    core = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    head = getattr(core, "linear_head", None)
    return head if isinstance(head, nn.Linear) else None
