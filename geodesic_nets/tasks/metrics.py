"""Classification and segmentation metrics, summaries over runs, vertex-to-edge/face predictions.

Predictions are either labels, shape (N,) integer, or scores, shape (N, C) floating (logits or
probabilities; the label is their argmax). Targets are (N,) integer labels. Inputs are torch
tensors or anything ``torch.as_tensor`` accepts; scalar results are Python floats and tables are
CPU tensors, so an ``evaluate`` result stays JSON-serializable after ``.tolist()``.

Conventions
-----------
* ``confusion[t, p]`` counts the items of true class ``t`` predicted as ``p`` (rows: truth).
* Per-class values of a class absent from the targets (and, for IoU, from the predictions)
  are NaN; means over classes skip NaN.
* ``ignore_index`` drops the items whose target equals it (e.g. unlabelled vertices).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from ..errors import ArgumentError, GeodesicNetsError

__all__ = [
    "accuracy",
    "soft_label_accuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "per_class_iou",
    "mean_iou",
    "summarize",
    "edge_predictions_from_vertex_logits",
    "face_predictions_from_vertex_logits",
]


def _labels(pred, name: str = "pred") -> torch.Tensor:
    """(N,) int64 labels from labels (N,) or scores (N, C)."""
    t = torch.as_tensor(pred)
    if t.dim() == 2:
        if not t.is_floating_point():
            raise GeodesicNetsError(f"2-D {name} must hold floating scores (N, C), got dtype {t.dtype}")
        if t.shape[1] == 0:
            raise GeodesicNetsError(f"{name} scores have 0 classes (shape {tuple(t.shape)})")
        return t.detach().argmax(dim=1)
    if t.dim() != 1:
        raise GeodesicNetsError(f"{name} must be labels (N,) or scores (N, C), got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise GeodesicNetsError(f"1-D {name} must hold integer labels, got dtype {t.dtype}")
    return t.detach().long()


def _target(target, n: int) -> torch.Tensor:
    t = torch.as_tensor(target)
    if t.dim() != 1 or t.is_floating_point() or t.dtype == torch.bool:
        raise GeodesicNetsError(f"target must be 1-D integer labels, got shape {tuple(t.shape)} dtype {t.dtype}")
    if t.shape[0] != n:
        raise GeodesicNetsError(f"pred has {n} items but target has {t.shape[0]}")
    return t.detach().long()


def _pair(pred, target, ignore_index: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Labels and targets on the CPU, with the ignored items' keep-mask (or None)."""
    p = _labels(pred)
    t = _target(target, p.shape[0]).to(p.device)
    if ignore_index is None:
        return p.cpu(), t.cpu(), None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ArgumentError(f"ignore_index must be an int or None, got {ignore_index!r}")
    keep = t != ignore_index
    return p[keep].cpu(), t[keep].cpu(), keep.cpu()


def _num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ArgumentError(f"num_classes must be a positive int, got {num_classes!r}")
    return num_classes


def _weights(weights, n: int) -> torch.Tensor:
    """(n,) float64 CPU weights, refused unless finite and non-negative."""
    w = torch.as_tensor(weights).detach().cpu().double()
    if w.dim() != 1 or w.shape[0] != n:
        raise GeodesicNetsError(f"weights must have shape ({n},), got {tuple(w.shape)}")
    if (w < 0).any() or not torch.isfinite(w).all():
        raise GeodesicNetsError("weights must be finite and non-negative")
    return w


def accuracy(pred, target, *, weights=None, ignore_index: int | None = None) -> float:
    """Fraction of correct predictions, optionally weighted (e.g. by face area).

    Parameters
    ----------
    pred : Tensor, shape (N,) int or (N, C) float
    target : Tensor, shape (N,), int
    weights : Tensor, shape (N,), float, keyword-only, optional
        Non-negative weight of each item; the result is ``sum(w * correct) / sum(w)``.
    ignore_index : int, keyword-only, optional
        Items whose target equals it are left out.

    Returns
    -------
    float
        In [0, 1]; NaN when no item (or no weight) is left.
    """
    p, t, keep = _pair(pred, target, ignore_index)
    correct = (p == t).double()
    if weights is None:
        return float(correct.mean()) if correct.numel() else math.nan
    w = _weights(weights, t.shape[0] if keep is None else keep.shape[0])
    if keep is not None:
        w = w[keep]
    total = float(w.sum())
    return float((w * correct).sum()) / total if total > 0 else math.nan


def soft_label_accuracy(pred, accepts, *, weights=None) -> float:
    """Fraction of predictions that are one of the item's accepted labels, optionally weighted.

    MeshCNN's segmentation accuracy is of this kind: an edge between two parts accepts either
    part's label, and edges are weighted by area.

    Parameters
    ----------
    pred : Tensor, shape (N,) int or (N, C) float
    accepts : Tensor, shape (N, C), bool
        ``accepts[i, c]``: label ``c`` is correct for item ``i``.
    weights : Tensor, shape (N,), float, keyword-only, optional
        Non-negative weight of each item; the result is ``sum(w * correct) / sum(w)``.

    Returns
    -------
    float
        In [0, 1]; NaN when there is no item (or no weight).
    """
    p = _labels(pred)
    a = torch.as_tensor(accepts).detach().cpu()
    if a.dim() != 2 or a.dtype != torch.bool or a.shape[0] != p.shape[0]:
        raise GeodesicNetsError(
            f"accepts must be a bool tensor of shape ({p.shape[0]}, C), got shape {tuple(a.shape)} dtype {a.dtype}"
        )
    p = p.cpu()
    if p.numel() and (int(p.min()) < 0 or int(p.max()) >= a.shape[1]):
        raise GeodesicNetsError(f"predicted label out of range for {a.shape[1]} classes")
    correct = a.gather(1, p[:, None])[:, 0].double()  # (N,)
    w = torch.ones_like(correct) if weights is None else _weights(weights, correct.shape[0])
    total = float(w.sum())
    return float((w * correct).sum()) / total if total > 0 else math.nan


def confusion_matrix(pred, target, num_classes: int, *, ignore_index: int | None = None) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs.

    Parameters
    ----------
    pred : Tensor, shape (N,) int or (N, C) float
    target : Tensor, shape (N,), int
    num_classes : int
    ignore_index : int, keyword-only, optional

    Returns
    -------
    confusion : Tensor, shape (num_classes, num_classes), int64, CPU
        ``confusion[t, p]``: items of true class ``t`` predicted as ``p``.

    Raises
    ------
    GeodesicNetsError
        A label outside ``[0, num_classes)`` (other than ``ignore_index``).
    """
    k = _num_classes(num_classes)
    p, t, _ = _pair(pred, target, ignore_index)
    for name, x in (("pred", p), ("target", t)):
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= k):
            bad = int(x.min()) if int(x.min()) < 0 else int(x.max())
            raise GeodesicNetsError(f"{name} holds label {bad}, outside [0, {k})")
    return torch.bincount(t * k + p, minlength=k * k).reshape(k, k).to(torch.int64)


def per_class_accuracy(pred, target, num_classes: int, *, ignore_index: int | None = None) -> torch.Tensor:
    """Recall of each class: correct / items of that true class.

    Returns
    -------
    acc : Tensor, shape (num_classes,), float64, CPU
        NaN for a class with no item in ``target``.
    """
    cm = confusion_matrix(pred, target, num_classes, ignore_index=ignore_index).double()
    support = cm.sum(dim=1)
    return torch.where(support > 0, cm.diagonal() / support.clamp_min(1), torch.full_like(support, math.nan))


def per_class_iou(pred, target, num_classes: int, *, ignore_index: int | None = None) -> torch.Tensor:
    """Intersection over union of each class, ``TP / (TP + FP + FN)``.

    Returns
    -------
    iou : Tensor, shape (num_classes,), float64, CPU
        NaN for a class in neither ``pred`` nor ``target``.
    """
    cm = confusion_matrix(pred, target, num_classes, ignore_index=ignore_index).double()
    tp = cm.diagonal()
    union = cm.sum(dim=0) + cm.sum(dim=1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(union, math.nan))


def mean_iou(pred, target, num_classes: int, *, ignore_index: int | None = None) -> float:
    """Mean of :func:`per_class_iou` over the classes present in ``pred`` or ``target``."""
    iou = per_class_iou(pred, target, num_classes, ignore_index=ignore_index)
    present = ~torch.isnan(iou)
    return float(iou[present].mean()) if present.any() else math.nan


def summarize(values: Sequence[float] | Any, *, ddof: int = 1) -> dict[str, Any]:
    """Mean and standard deviation of a metric over splits or seeds.

    Parameters
    ----------
    values : sequence of float, shape (n,)
    ddof : int, keyword-only
        Delta degrees of freedom of the standard deviation (1: sample std, 0: population).

    Returns
    -------
    dict
        ``{"mean": float, "std": float, "n": int, "values": list of float}``; ``std`` is 0.0
        for a single value (and NaN mean and std for none).
    """
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
        raise ArgumentError(f"ddof must be a non-negative int, got {ddof!r}")
    if isinstance(values, torch.Tensor):
        vals = [float(v) for v in values.detach().cpu().reshape(-1)]
    else:
        vals = [float(v) for v in values]
    n = len(vals)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0, "values": []}
    mean = math.fsum(vals) / n
    if n - ddof <= 0:
        std = 0.0
    else:
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - ddof))
    return {"mean": mean, "std": std, "n": n, "values": vals}


def _element_predictions(logits, elements, arity: int, name: str) -> torch.Tensor:
    x = torch.as_tensor(logits)
    if x.dim() != 2 or not x.is_floating_point():
        raise GeodesicNetsError(f"logits must be floating (V, C), got shape {tuple(x.shape)} dtype {x.dtype}")
    e = torch.as_tensor(elements, device=x.device)
    if e.dim() != 2 or e.shape[1] != arity or e.is_floating_point() or e.dtype == torch.bool:
        raise GeodesicNetsError(
            f"{name} must be integer ({name[0].upper()}, {arity}), got shape {tuple(e.shape)} dtype {e.dtype}"
        )
    e = e.long()
    if e.numel() and (int(e.min()) < 0 or int(e.max()) >= x.shape[0]):
        bad = int(e.min()) if int(e.min()) < 0 else int(e.max())
        raise GeodesicNetsError(f"{name} reference vertex {bad}, out of range for {x.shape[0]} vertices")
    if e.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=x.device)
    return x.detach()[e].mean(dim=1).argmax(dim=1)  # (n, arity, C) -> (n,)


def edge_predictions_from_vertex_logits(logits, edges) -> torch.Tensor:
    """Edge labels from vertex scores (MeshCNN's edge protocol): argmax of the endpoints' mean.

    Parameters
    ----------
    logits : Tensor, shape (V, C), float
    edges : Tensor, shape (E_u, 2), int
        Undirected edges.

    Returns
    -------
    labels : Tensor, shape (E_u,), int64
        ``argmax_c (logits[u, c] + logits[v, c]) / 2``, on the device of ``logits``.
    """
    return _element_predictions(logits, edges, 2, "edges")


def face_predictions_from_vertex_logits(logits, faces) -> torch.Tensor:
    """Face labels from vertex scores: argmax of the mean of the three corners' scores.

    Parameters
    ----------
    logits : Tensor, shape (V, C), float
    faces : Tensor, shape (F, 3), int

    Returns
    -------
    labels : Tensor, shape (F,), int64, on the device of ``logits``
    """
    return _element_predictions(logits, faces, 3, "faces")
