"""What the profiling scripts share: their common options and the training set-up of an experiment.

``profile_faust_labeling.py`` and ``profile_faust_r.py`` build the data, task, model, optimizer and
loader exactly as ``run_experiments.py`` does (the same ``ExperimentConfig``, ``load_datasets``,
``make_task``, ``build_model`` and the trainer's ``build_optimization`` / ``make_loader``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def common_arguments(description: str, default_config: str, eval_help: str) -> argparse.ArgumentParser:
    """The options both profiling scripts take (the caller may add its own)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True)
    p.add_argument("--cache", default=None)
    p.add_argument("--config", default=default_config)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--table", type=int, default=25, help="rows of the torch.profiler table (0: no profiler)")
    p.add_argument("--eval", action="store_true", help=eval_help)
    p.add_argument("--dtype", choices=["float32", "float64"], default=None, help="override the config's dtype")
    p.add_argument("--print-losses", action="store_true",
                   help="print every step's loss (to compare two versions of the code step by step)")
    return p


@dataclass
class Training:
    """An experiment's training pieces, seeded and ready for its first step."""

    cfg: Any
    data: dict
    task: Any
    model: Any
    info: Any
    opt: Any
    loader: Any


def build_training(args: argparse.Namespace, eval_split: str | None) -> Training:
    """Data (train, and ``eval_split`` when ``args.eval``), task, model (seed 0), optimizer, loader."""
    import torch

    from geodesic_nets.tasks.distributed import DistInfo
    from geodesic_nets.tasks.experiment import ExperimentConfig
    from geodesic_nets.tasks.models import build_model
    from geodesic_nets.tasks.runner import load_datasets, make_task, model_spec

    base = ExperimentConfig.from_toml(HERE / "experiments" / f"{args.config}.toml")
    train_cfg = base.train.replace(seed=0, progress=False, **({"dtype": args.dtype} if args.dtype else {}))
    cfg = base.replace(root=args.root, cache_dir=args.cache, train=train_cfg)
    t0 = time.perf_counter()
    splits = ["train"] + ([eval_split or cfg.eval_split] if args.eval else [])
    data = load_datasets(cfg, splits, progress=False)
    print(f"datasets loaded in {time.perf_counter() - t0:.1f} s")
    task = make_task(cfg, data["train"])
    torch.manual_seed(0)
    model = build_model(model_spec(cfg, data["train"]))
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    return Training(cfg, data, task, model, info, None, None)


def finish_training(t: Training) -> Training:
    """The optimizer and loader (after any change to the model's weights), first epoch started."""
    from geodesic_nets.tasks.trainer.setup import build_optimization, make_loader

    t.opt = build_optimization(t.model, t.cfg.train, t.info, None)
    t.loader = make_loader(t.data["train"], t.cfg.train, t.info)
    t.loader.start_epoch(0)
    return t


def report_steps(phases: dict, losses: list, t: Training, args: argparse.Namespace, *, lr: float,
                 width: int = 70, digits: int = 3) -> None:
    """Print the median of each phase, the losses (``--print-losses``) and the epoch estimate."""
    import statistics

    print(f"\nper-step phases, median of {args.steps} steps (batch_size={t.cfg.train.batch_size}, {t.opt.dtype}):")
    for k, v in phases.items():
        print(f"  {k:{width}s} {statistics.median(v):8.{digits}f} s")
    if args.print_losses:
        print(f"losses of the {len(losses)} steps ({t.opt.dtype}, lr {lr}, seed 0):")
        for i, v in enumerate(losses):
            print(f"  step {i + 1:3d}  {v!r}")
    per_step = statistics.median(phases["step total"])
    print(f"  -> scaled to an epoch of {t.loader.steps_per_epoch} steps: {per_step * t.loader.steps_per_epoch:.1f} s")


def profiler_table(t: Training, batches, args: argparse.Namespace, *, lr: float) -> None:
    """A torch.profiler table (``--table`` rows) of up to two more training steps."""
    from torch.profiler import ProfilerActivity, profile

    from geodesic_nets.tasks.trainer.epoch import _train_step

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(min(args.steps, 2)):
            sb = next(batches, None)
            if sb is None:
                break
            _train_step(t.opt, t.task, sb.to(t.info.device, t.opt.dtype), lr=lr, config=t.cfg.train, epoch=0,
                        global_step=0)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.table))
