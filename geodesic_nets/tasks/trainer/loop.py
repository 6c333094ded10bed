"""The training loop, step by step: :func:`fit` and what it returns, :class:`FitResult`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..base import Task
from ..config import TrainConfig
from ..distributed import barrier, cleanup, init_distributed
from ..records import to_jsonable
from .bookkeeping import RunRecords, finish_epoch, start_records
from .epoch import run_epoch
from .evaluation import validate_epoch
from .setup import (
    Progress,
    RunPaths,
    build_optimization,
    check_inputs,
    load_resume_state,
    make_loader,
    start_progress,
)

__all__ = ["fit", "FitResult"]


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns (the same on every process).

    Attributes
    ----------
    best_metric : float or None
        Best validation value of ``task.primary_metric`` (None without a validation set).
    best_epoch : int or None
        1-based epoch of ``best_metric``.
    last_metrics : dict
        Validation metrics of the last epoch (every run evaluates after its last epoch);
        empty without a validation set.
    last_train : dict
        Training statistics of the last epoch (``loss`` and the task's statistics, averaged
        over the meshes of the epoch and over the processes).
    history : list of dict
        One entry per epoch: ``{"epoch", "step", "lr", "train", "val", "eval_seconds",
        "epoch_seconds"}`` (``val`` None on epochs without evaluation).
    seconds : float
        Wall time of this call.
    epoch_seconds : list of float
        Wall time of every epoch (training and evaluation), including epochs of earlier calls
        when resumed.
    run_dir : Path
    """

    best_metric: float | None
    best_epoch: int | None
    last_metrics: dict[str, Any]
    last_train: dict[str, float]
    history: list[dict[str, Any]]
    seconds: float
    epoch_seconds: list[float]
    run_dir: Path = field(default_factory=Path)


def fit(
    model: nn.Module,
    task: Task,
    train_set: Any,
    *,
    config: TrainConfig,
    run_dir: str | Path,
    val_set: Any = None,
    resume: bool = False,
    record: dict[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on ``train_set`` for ``task``; checkpoints and records go to ``run_dir``.

    Parameters
    ----------
    model : nn.Module
        Moved and cast in place to the run's device and ``config.dtype``; trained in place.
    task : Task
        Provides the loss (called with the model, wrapped in DistributedDataParallel when
        there are several processes: call it, do not read its attributes) and the evaluation.
    train_set : map-style dataset of ShapeSample
    config : TrainConfig
    run_dir : path-like
        Created when missing. Must not hold a run already unless ``resume`` is set.
    val_set : map-style dataset of ShapeSample, optional
        Evaluated by the main process every ``config.eval_every`` epochs and after the last one;
        ``task.primary_metric`` selects ``checkpoints/best.pt``. Without it no best checkpoint
        is written.
    resume : bool
        Continue from ``run_dir/checkpoints/last.pt`` (the last completed epoch); start afresh
        (with a warning) when there is none. The configuration must equal the checkpoint's
        except for ``epochs`` and the fields of ``RESULT_NEUTRAL_FIELDS``, and the number of
        processes must be the same.
    record : dict, optional
        JSON-able description of the experiment (dataset, model, operator settings) stored in
        ``config.json`` beside the training configuration.

    Returns
    -------
    FitResult

    Notes
    -----
    Randomness: before the first epoch python's, numpy's and torch's global generators are
    seeded with ``config.seed + rank`` (dropout and the task's augmentations draw from them, and
    differ between processes); the shuffling depends only on ``(config.seed, epoch)`` (see
    :class:`~geodesic_nets.tasks.distributed.ShardedSampler`); DataLoader workers are seeded
    from ``(config.seed, epoch, rank)``. Evaluation runs with the generator states saved and
    restored, so validating (or not) does not change the training. Every process's generator
    states are stored in each checkpoint, so a resumed run ends with exactly the parameters of
    an uninterrupted one (on the CPU; CUDA kernels may be non-deterministic). With the cosine
    schedule, raising ``epochs`` when resuming stretches the schedule from that point on, so it
    no longer matches a run started with the larger ``epochs``. On the CPU, subnormal floats are
    flushed to zero during ``fit`` (``torch.set_flush_denormal``; off again afterwards).

    Data parallelism: launched with ``torchrun --nproc_per_node R``, each process trains on its
    share of every epoch with batches of ``config.batch_size``; gradients are averaged, so
    (since task losses are means over meshes) the run follows one process with batches of
    ``R * batch_size`` when ``len(train_set) % R == 0``. Only rank 0 evaluates and writes files;
    ranks agree on metrics and the best epoch through broadcasts.
    """
    check_inputs(task, train_set, val_set, config)
    record = to_jsonable(record or {})
    t_start = time.perf_counter()
    info = init_distributed(config.device)
    paths = RunPaths(Path(run_dir))
    records: RunRecords | None = None
    was_training = model.training
    # Subnormal floats make CPU matrix products and exponentials tens of times slower, and a
    # trained model produces them (a FAUST labelling epoch went from 42 s to 140 s by epoch 10):
    # flush them to zero while training (a change below float32's resolution), as before after.
    flushing = info.device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        state = load_resume_state(paths, config, info, resume=resume, record=record)
        opt = build_optimization(model, config, info, state)
        progress = start_progress(config, info, state, paths.run_dir)
        data = make_loader(train_set, config, info)
        records = start_records(paths, config, info, record, progress.history)
        model.train()
        for epoch in range(progress.start_epoch, config.epochs):
            t0 = time.perf_counter()
            data.start_epoch(epoch)
            train_stats, progress.global_step, lr = run_epoch(
                opt, task, data, config=config, info=info, epoch=epoch, global_step=progress.global_step
            )
            val_metrics, improved, eval_seconds = validate_epoch(
                task, model, val_set, config=config, info=info, dtype=opt.dtype, epoch=epoch, progress=progress
            )
            entry = {
                "epoch": epoch + 1,
                "step": progress.global_step,
                "lr": lr,
                "train": train_stats,
                "val": val_metrics,
                "eval_seconds": eval_seconds,
                "epoch_seconds": time.perf_counter() - t0,
            }
            finish_epoch(entry, improved=improved, opt=opt, task=task, config=config, info=info,
                         progress=progress, paths=paths, records=records, t_start=t_start)
        barrier()  # every rank returns after rank 0 wrote the last files
        return _result(progress, paths.run_dir, seconds=time.perf_counter() - t_start)
    finally:
        if flushing:
            torch.set_flush_denormal(False)
        model.train(was_training)
        if records is not None:
            records.close()
        cleanup(info)


def _result(progress: Progress, run_dir: Path, *, seconds: float) -> FitResult:
    history = progress.history
    last = history[-1] if history else {}
    return FitResult(
        best_metric=progress.best_metric,
        best_epoch=progress.best_epoch,
        last_metrics=dict(last.get("val") or {}),
        last_train=dict(last.get("train") or {}),
        history=history,
        seconds=seconds,
        epoch_seconds=[float(e["epoch_seconds"]) for e in history],
        run_dir=run_dir,
    )
