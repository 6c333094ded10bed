"""The training loop: :func:`fit` trains a model on a :class:`~geodesic_nets.tasks.base.Task`.

One loop for one process and for ``torchrun`` data parallelism (DistributedDataParallel, NCCL on
CUDA, gloo on the CPU), with checkpoints that resume bit-exactly, a validation pass that never
disturbs the training's random streams, and a run directory of records (see
:mod:`geodesic_nets.tasks.records` for its layout).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sized

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data.sample import collate_samples
from ..errors import GeodesicNetsError
from .base import Task
from .checkpoint import CheckpointError, capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .config import RESULT_NEUTRAL_FIELDS, TrainConfig
from .distributed import (
    DistInfo,
    ShardedSampler,
    all_gather_object,
    all_reduce_mean,
    barrier,
    broadcast_module_state,
    broadcast_object,
    cleanup,
    init_distributed,
)
from .records import MetricsWriter, environment_record, to_jsonable, write_json

__all__ = ["fit", "FitResult", "seed_everything", "preserved_rng"]

log = logging.getLogger(__name__)


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


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every CUDA device).

    Call it before building a model for a reproducible initialization; :func:`fit` calls it
    again (with ``seed + rank``) before training.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without changing python's, numpy's or torch's global generator states."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _check_resume_config(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    try:
        old = TrainConfig.from_dict(saved)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's training configuration is not readable: {exc}", path=path) from exc
    diff = {k: v for k, v in old.differences(config).items() if k not in RESULT_NEUTRAL_FIELDS}
    if diff:
        lines = ", ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, (a, b) in sorted(diff.items()))
        raise CheckpointError(
            f"cannot resume with a different training configuration ({lines}); only "
            f"{sorted(RESULT_NEUTRAL_FIELDS)} may change. Start a new run_dir instead",
            path=path,
        )


def _dataset_len(dataset: Any, what: str) -> int:
    if not isinstance(dataset, Sized):
        raise TypeError(f"{what} must have a length (a map-style dataset), got {type(dataset).__name__}")
    n = len(dataset)
    if n == 0:
        raise GeodesicNetsError(f"{what} is empty")
    return n


def _evaluate(
    task: Task, model: nn.Module, val_set: Any, *, device: torch.device, dtype: torch.dtype, batch_size: int
) -> dict[str, Any]:
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


def _run_epoch(
    *,
    ddp_model: nn.Module,
    params: list[nn.Parameter],
    task: Task,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    info: DistInfo,
    dtype: torch.dtype,
    epoch: int,
    global_step: int,
    steps_per_epoch: int,
) -> tuple[dict[str, float], int, float]:
    """One pass over this process's share; returns (mesh-weighted mean stats, step, last lr)."""
    from tqdm.auto import tqdm

    sums: dict[str, float] = {}
    count = 0
    lr = config.learning_rate(global_step, steps_per_epoch)
    bar = tqdm(
        total=steps_per_epoch,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        disable=not (config.progress and info.is_main),
        leave=False,
        dynamic_ncols=True,
    )
    try:
        for i, sb in enumerate(loader):
            sb = sb.to(info.device, dtype)
            lr = config.learning_rate(global_step, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss, stats = task.loss(ddp_model, sb)
            if loss.dim() != 0:
                raise GeodesicNetsError(f"{type(task).__name__}.loss must return a scalar, got shape {tuple(loss.shape)}")
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise GeodesicNetsError(
                    f"non-finite training loss {loss_value} at epoch {epoch + 1}, step {global_step} "
                    f"(batch {sb.names}); lower lr or set grad_clip"
                )
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            global_step += 1
            n = sb.num_meshes
            count += n
            sums["loss"] = sums.get("loss", 0.0) + loss_value * n
            for k, v in stats.items():
                if k != "loss":
                    sums[k] = sums.get(k, 0.0) + float(v) * n
            bar.update(1)
            if info.is_main:
                bar.set_postfix(loss=f"{sums['loss'] / count:.4g}", refresh=False)
                if config.log_every and global_step % config.log_every == 0:
                    log.info("epoch %d step %d: loss %.5g (lr %.3g)", epoch + 1, global_step, loss_value, lr)
    finally:
        bar.close()
    means = {k: v / count for k, v in sums.items()} if count else {"loss": float("nan")}
    return all_reduce_mean(means, weight=float(count)), global_step, lr


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
    no longer matches a run started with the larger ``epochs``.

    Data parallelism: launched with ``torchrun --nproc_per_node R``, each process trains on its
    share of every epoch with batches of ``config.batch_size``; gradients are averaged, so
    (since task losses are means over meshes) the run follows one process with batches of
    ``R * batch_size`` when ``len(train_set) % R == 0``. Only rank 0 evaluates and writes files;
    ranks agree on metrics and the best epoch through broadcasts.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a geodesic_nets.tasks.Task, got {type(task).__name__}")
    _dataset_len(train_set, "train_set")
    if val_set is not None:
        _dataset_len(val_set, "val_set")
    record = to_jsonable(record or {})
    t_start = time.perf_counter()
    info = init_distributed(config.device)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    last_path, best_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
    writer: MetricsWriter | None = None
    was_training = model.training
    try:
        # ---------------------------------------------------------------- resume or start
        has_last = broadcast_object(last_path.is_file() if info.is_main else None)
        if has_last and not resume:
            raise GeodesicNetsError(
                f"{run_dir} already holds a run ({last_path} exists): pass resume=True to continue it "
                "or choose another run_dir"
            )
        state: dict[str, Any] | None = None
        if resume and has_last:
            state = load_checkpoint(last_path, map_location="cpu")
            _check_resume_config(state.get("config", {}), config, last_path)
            if state.get("world_size", 1) != info.world_size:
                raise CheckpointError(
                    f"the run was trained by {state.get('world_size')} process(es), now {info.world_size}: "
                    "resume with the same number of processes",
                    path=last_path,
                )
        elif resume and info.is_main:
            log.warning("resume requested but %s does not exist: starting a new run", last_path)
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if state is not None:
                try:
                    old_record = json.loads((run_dir / "config.json").read_text()).get("record")
                    if old_record is not None and old_record != record:
                        log.warning("resuming %s with a record that differs from its config.json", run_dir)
                except (OSError, ValueError):
                    pass

        # ---------------------------------------------------------------- model and optimizer
        dtype = config.torch_dtype
        model.to(device=info.device, dtype=dtype)
        if state is not None:
            model.load_state_dict(state["model"])
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise GeodesicNetsError("the model has no trainable parameters")
        # foreach: one fused update over all parameters (2-3x faster than the default on CPU)
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        ddp_model: nn.Module = model
        if info.is_distributed:
            ddp_model = nn.parallel.DistributedDataParallel(
                model,
                device_ids=[info.device.index] if info.device.type == "cuda" else None,
                find_unused_parameters=config.find_unused_parameters,
            )

        # ---------------------------------------------------------------- random state
        if state is None:
            seed_everything(config.seed + info.rank)
            start_epoch, global_step = 0, 0
            best_metric, best_epoch = None, None
            history: list[dict[str, Any]] = []
        else:
            restore_rng_state(state["rng"][info.rank])
            start_epoch, global_step = int(state["epoch"]), int(state["global_step"])
            best_metric, best_epoch = state["best_metric"], state["best_epoch"]
            history = list(state["history"])
            if info.is_main:
                log.info("resuming %s after epoch %d (step %d)", run_dir, start_epoch, global_step)

        # ---------------------------------------------------------------- data
        sampler = ShardedSampler(train_set, num_replicas=info.world_size, rank=info.rank, seed=config.seed)
        loader_generator = torch.Generator()
        loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            sampler=sampler,
            collate_fn=collate_samples,
            num_workers=config.num_workers,
            generator=loader_generator,
            pin_memory=False,
        )
        steps_per_epoch = len(loader)

        # ---------------------------------------------------------------- records
        config_record = {"train": config.to_dict(), "record": record, "world_size": info.world_size}
        environment = environment_record() if info.is_main else {}
        if info.is_main:
            write_json(run_dir / "config.json", config_record)
            write_json(run_dir / "environment.json", environment)
            writer = MetricsWriter(run_dir, tensorboard=config.tensorboard)
            writer.reset(history)

        def best_record() -> dict[str, Any] | None:
            if best_metric is None:
                return None
            return {"metric": task.primary_metric, "value": best_metric, "epoch": best_epoch}

        # ---------------------------------------------------------------- epochs
        model.train()
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            sampler.set_epoch(epoch)
            loader_generator.manual_seed(
                int(np.random.SeedSequence([config.seed, epoch, info.rank]).generate_state(1, np.uint64)[0] >> 1)
            )
            train_stats, global_step, lr = _run_epoch(
                ddp_model=ddp_model,
                params=params,
                task=task,
                loader=loader,
                optimizer=optimizer,
                config=config,
                info=info,
                dtype=dtype,
                epoch=epoch,
                global_step=global_step,
                steps_per_epoch=steps_per_epoch,
            )
            val_metrics, improved, eval_seconds = None, False, 0.0
            if val_set is not None and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs):
                t_eval = time.perf_counter()
                outcome: tuple[str, Any] | None = None
                if info.is_main:
                    try:
                        outcome = ("ok", _evaluate(task, model, val_set, device=info.device, dtype=dtype,
                                                   batch_size=config.batch_size))
                    except Exception as exc:
                        outcome = ("error", f"{type(exc).__name__}: {exc}")
                        if not info.is_distributed:
                            raise
                        broadcast_object(outcome)
                        raise
                outcome = broadcast_object(outcome)
                if outcome[0] == "error":
                    raise GeodesicNetsError(f"evaluation failed on the main process: {outcome[1]}")
                val_metrics = outcome[1]
                broadcast_module_state(model)  # a forward may change the model (in-place clamps)
                eval_seconds = time.perf_counter() - t_eval
                value = float(val_metrics[task.primary_metric])
                improved = bool(broadcast_object(task.better(value, best_metric) if info.is_main else None))
                if improved:
                    best_metric, best_epoch = value, epoch + 1
            entry = {
                "epoch": epoch + 1,
                "step": global_step,
                "lr": lr,
                "train": train_stats,
                "val": val_metrics,
                "eval_seconds": eval_seconds,
                "epoch_seconds": time.perf_counter() - t0,
            }
            history.append(entry)
            rng_states = all_gather_object(capture_rng_state())
            if info.is_main:
                ckpt = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": {"schedule": config.schedule, "step": global_step},
                    "epoch": epoch + 1,
                    "global_step": global_step,
                    "best_metric": best_metric,
                    "best_epoch": best_epoch,
                    "history": history,
                    "rng": rng_states,
                    "world_size": info.world_size,
                    "config": config.to_dict(),
                }
                if improved:
                    save_checkpoint(best_path, ckpt)
                save_checkpoint(last_path, ckpt)
                writer.append(entry)  # type: ignore[union-attr]  # the main rank has a writer
                writer.write_json(  # type: ignore[union-attr]
                    history=history,
                    best=best_record(),
                    timings=_timings(history, time.perf_counter() - t_start),
                    environment=environment,
                    config=config_record,
                )
                val_text = ""
                if val_metrics is not None:
                    val_text = f", val {task.primary_metric} {val_metrics[task.primary_metric]:.5g}"
                    val_text += " (best)" if improved else ""
                log.info(
                    "epoch %d/%d: train loss %.5g%s, lr %.3g, %.1f s",
                    epoch + 1, config.epochs, train_stats["loss"], val_text, lr, entry["epoch_seconds"],
                )
        barrier()  # every rank returns after rank 0 wrote the last files
        last = history[-1] if history else {}
        return FitResult(
            best_metric=best_metric,
            best_epoch=best_epoch,
            last_metrics=dict(last.get("val") or {}),
            last_train=dict(last.get("train") or {}),
            history=history,
            seconds=time.perf_counter() - t_start,
            epoch_seconds=[float(e["epoch_seconds"]) for e in history],
            run_dir=run_dir,
        )
    finally:
        model.train(was_training)
        if writer is not None:
            writer.close()
        cleanup(info)


def _timings(history: list[dict[str, Any]], call_seconds: float) -> dict[str, Any]:
    epoch_seconds = [float(e["epoch_seconds"]) for e in history]
    return {
        "epoch_seconds": epoch_seconds,
        "mean_epoch_seconds": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None,
        "total_epoch_seconds": sum(epoch_seconds),
        "this_call_seconds": call_seconds,
    }
