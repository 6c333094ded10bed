"""The validation pass: run by the main process with the generator states preserved, shared with every rank."""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import torch
from torch import nn

from ...errors import GeodesicNetsError
from ..base import Task
from ..checkpoint import capture_rng_state, restore_rng_state
from ..config import TrainConfig
from ..distributed import DistInfo, broadcast_module_state, broadcast_object
from ..records import to_jsonable
from .setup import Progress

__all__ = ["preserved_rng", "evaluate", "validate_epoch"]


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without changing python's, numpy's or torch's global generator states."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


def evaluate(
    task: Task, model: nn.Module, val_set: Any, *, device: torch.device, dtype: torch.dtype, batch_size: int
) -> dict[str, Any]:
    """``task.evaluate`` in eval mode without gradients or generator changes, checked and JSON-able."""
    was_training = model.training
    model.eval()
    try:
        with preserved_rng(), torch.no_grad():
            metrics = task.evaluate(model, val_set, device=device, dtype=dtype, batch_size=batch_size)
    finally:
        model.train(was_training)
    if not isinstance(metrics, dict) or task.primary_metric not in metrics:
        raise GeodesicNetsError(
            f"{type(task).__name__}.evaluate must return a dict containing the primary metric "
            f"{task.primary_metric!r}, got {metrics if not isinstance(metrics, dict) else sorted(metrics)!r}"
        )
    metrics = to_jsonable(metrics)
    value = metrics[task.primary_metric]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise GeodesicNetsError(f"primary metric {task.primary_metric!r} must be a number, got {value!r}")
    return metrics


def validate_epoch(
    task: Task,
    model: nn.Module,
    val_set: Any,
    *,
    config: TrainConfig,
    info: DistInfo,
    dtype: torch.dtype,
    epoch: int,
    progress: Progress,
) -> tuple[dict[str, Any] | None, bool, float]:
    """Evaluate after ``epoch`` (0-based) when due; returns (metrics or None, improved, seconds).

    Due every ``config.eval_every`` epochs and after the last one, when there is a validation
    set. An improvement of the primary metric updates ``progress.best_metric`` and ``best_epoch``.
    """
    if val_set is None or not ((epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs):
        return None, False, 0.0
    t_eval = time.perf_counter()
    val_metrics = _evaluate_on_main(task, model, val_set, info=info, dtype=dtype, batch_size=config.batch_size)
    broadcast_module_state(model)  # a forward may change the model (in-place clamps)
    eval_seconds = time.perf_counter() - t_eval
    value = float(val_metrics[task.primary_metric])
    improved = bool(broadcast_object(task.better(value, progress.best_metric) if info.is_main else None))
    if improved:
        progress.best_metric, progress.best_epoch = value, epoch + 1
    return val_metrics, improved, eval_seconds


def _evaluate_on_main(
    task: Task, model: nn.Module, val_set: Any, *, info: DistInfo, dtype: torch.dtype, batch_size: int
) -> dict[str, Any]:
    """The main process evaluates; every rank gets its metrics, or an error if it failed."""
    outcome: tuple[str, Any] | None = None
    if info.is_main:
        try:
            outcome = ("ok", evaluate(task, model, val_set, device=info.device, dtype=dtype, batch_size=batch_size))
        except Exception as exc:
            outcome = ("error", f"{type(exc).__name__}: {exc}")
            if not info.is_distributed:
                raise
            broadcast_object(outcome)
            raise
    outcome = broadcast_object(outcome)
    if outcome[0] == "error":
        raise GeodesicNetsError(f"evaluation failed on the main process: {outcome[1]}")
    return outcome[1]
