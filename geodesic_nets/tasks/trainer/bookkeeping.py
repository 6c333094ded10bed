"""What a run writes: its configuration and environment, and after every epoch the history entry,
the checkpoints, the metrics files and one log line (the files on the main rank only)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..base import Task
from ..checkpoint import capture_rng_state, save_checkpoint
from ..config import TrainConfig
from ..distributed import DistInfo, all_gather_object
from ..records import MetricsWriter, environment_record, write_json
from .setup import Optimization, Progress, RunPaths

__all__ = ["RunRecords", "start_records", "finish_epoch", "timings"]

log = logging.getLogger(__package__)


@dataclass
class RunRecords:
    """The run's ``config.json`` and ``environment.json`` contents, and its metrics writer (main rank)."""

    config_record: dict[str, Any]
    environment: dict[str, Any]
    writer: MetricsWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def start_records(
    paths: RunPaths, config: TrainConfig, info: DistInfo, record: dict[str, Any], history: list[dict[str, Any]]
) -> RunRecords:
    """Write ``config.json`` and ``environment.json`` and open the metrics files at ``history``."""
    config_record = {"train": config.to_dict(), "record": record, "world_size": info.world_size}
    environment = environment_record() if info.is_main else {}
    records = RunRecords(config_record, environment)
    if info.is_main:
        write_json(paths.run_dir / "config.json", config_record)
        write_json(paths.run_dir / "environment.json", environment)
        records.writer = MetricsWriter(paths.run_dir, tensorboard=config.tensorboard)
        try:
            records.writer.reset(history)
        except BaseException:
            records.close()
            raise
    return records


def finish_epoch(
    entry: dict[str, Any],
    *,
    improved: bool,
    opt: Optimization,
    task: Task,
    config: TrainConfig,
    info: DistInfo,
    progress: Progress,
    paths: RunPaths,
    records: RunRecords,
    t_start: float,
) -> None:
    """Append ``entry`` to the history; save ``last.pt`` (and ``best.pt`` if ``improved``), the metrics, a log line.

    Every rank's generator states go into the checkpoint, so all ranks take part.
    """
    progress.history.append(entry)
    rng_states = all_gather_object(capture_rng_state())
    if not info.is_main:
        return
    ckpt = _checkpoint(opt, config, info, progress, epoch=entry["epoch"], rng_states=rng_states)
    if improved:
        save_checkpoint(paths.best, ckpt)
    save_checkpoint(paths.last, ckpt)
    writer = records.writer
    writer.append(entry)  # type: ignore[union-attr]  # the main rank has a writer
    writer.write_json(  # type: ignore[union-attr]
        history=progress.history,
        best=progress.best_record(task.primary_metric),
        timings=timings(progress.history, time.perf_counter() - t_start),
        environment=records.environment,
        config=records.config_record,
    )
    _log_epoch(entry, improved=improved, task=task, config=config)


def _checkpoint(
    opt: Optimization, config: TrainConfig, info: DistInfo, progress: Progress, *, epoch: int, rng_states: list[Any]
) -> dict[str, Any]:
    """The checkpoint after ``epoch`` completed epochs (see :mod:`geodesic_nets.tasks.checkpoint`)."""
    return {
        "model": opt.model.state_dict(),
        "optimizer": opt.optimizer.state_dict(),
        "scheduler": {"schedule": config.schedule, "step": progress.global_step},
        "epoch": epoch,
        "global_step": progress.global_step,
        "best_metric": progress.best_metric,
        "best_epoch": progress.best_epoch,
        "history": progress.history,
        "rng": rng_states,
        "world_size": info.world_size,
        "config": config.to_dict(),
    }


def _log_epoch(entry: dict[str, Any], *, improved: bool, task: Task, config: TrainConfig) -> None:
    val_metrics = entry["val"]
    val_text = ""
    if val_metrics is not None:
        val_text = f", val {task.primary_metric} {val_metrics[task.primary_metric]:.5g}"
        val_text += " (best)" if improved else ""
    log.info(
        "epoch %d/%d: train loss %.5g%s, lr %.3g, %.1f s",
        entry["epoch"], config.epochs, entry["train"]["loss"], val_text, entry["lr"], entry["epoch_seconds"],
    )


def timings(history: list[dict[str, Any]], call_seconds: float) -> dict[str, Any]:
    """The ``timings`` record: per-epoch wall times, their mean and total, and this call's time."""
    epoch_seconds = [float(e["epoch_seconds"]) for e in history]
    return {
        "epoch_seconds": epoch_seconds,
        "mean_epoch_seconds": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None,
        "total_epoch_seconds": sum(epoch_seconds),
        "this_call_seconds": call_seconds,
    }
