"""One training epoch: the learning-rate schedule, the optimizer steps and the epoch's statistics."""

from __future__ import annotations

import logging
import math

import torch

from ...data.sample import SampleBatch
from ...errors import GeodesicNetsError
from ..base import Task
from ..config import TrainConfig
from ..distributed import DistInfo, all_reduce_mean
from .setup import EpochLoader, Optimization

__all__ = ["run_epoch"]

log = logging.getLogger(__package__)


def run_epoch(
    opt: Optimization,
    task: Task,
    data: EpochLoader,
    *,
    config: TrainConfig,
    info: DistInfo,
    epoch: int,
    global_step: int,
) -> tuple[dict[str, float], int, float]:
    """One pass over this process's share; returns (mesh-weighted mean stats, step, last lr).

    The statistics are averaged over the meshes of the epoch and over the processes.
    """
    from tqdm.auto import tqdm

    steps_per_epoch = data.steps_per_epoch
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
        for sb in data.loader:
            sb = sb.to(info.device, opt.dtype)
            lr = config.learning_rate(global_step, steps_per_epoch)
            loss_value, stats = _train_step(opt, task, sb, lr=lr, config=config, epoch=epoch, global_step=global_step)
            global_step += 1
            n = sb.num_meshes
            count += n
            _accumulate(sums, loss_value, stats, n)
            bar.update(1)
            if info.is_main:
                bar.set_postfix(loss=f"{sums['loss'] / count:.4g}", refresh=False)
                if config.log_every and global_step % config.log_every == 0:
                    log.info("epoch %d step %d: loss %.5g (lr %.3g)", epoch + 1, global_step, loss_value, lr)
    finally:
        bar.close()
    means = {k: v / count for k, v in sums.items()} if count else {"loss": float("nan")}
    return all_reduce_mean(means, weight=float(count)), global_step, lr


def _train_step(
    opt: Optimization, task: Task, sb: SampleBatch, *, lr: float, config: TrainConfig, epoch: int, global_step: int
) -> tuple[float, dict[str, float]]:
    """One optimizer step on one batch at learning rate ``lr``; returns the loss and the task's statistics."""
    for group in opt.optimizer.param_groups:
        group["lr"] = lr
    opt.optimizer.zero_grad(set_to_none=True)
    loss, stats = task.loss(opt.ddp_model, sb)
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
        torch.nn.utils.clip_grad_norm_(opt.params, config.grad_clip)
    opt.optimizer.step()
    return loss_value, stats


def _accumulate(sums: dict[str, float], loss_value: float, stats: dict[str, float], n: int) -> None:
    """Add one batch of ``n`` meshes to the mesh-weighted sums."""
    sums["loss"] = sums.get("loss", 0.0) + loss_value * n
    for k, v in stats.items():
        if k != "loss":
            sums[k] = sums.get(k, 0.0) + float(v) * n
