"""Profile training steps of the FAUST vertex-labelling benchmark (``experiments/faust.toml``) on one thread.

Builds the data, task, model and optimizer exactly as ``run_experiments.py faust`` does (the
same ``ExperimentConfig``, ``load_datasets``, ``make_task``, ``build_model`` and the trainer's
``build_optimization`` / ``make_loader``), then runs ``--steps`` training steps through the
trainer's own step function (``tasks.trainer.epoch._train_step``) after ``--warmup`` steps,
and reports

* per-phase wall times of each step (loading + collation, moving to the dtype, forward, loss head,
  backward, optimizer), measured with explicit timers;
* a ``torch.profiler`` table of the operators (self CPU time), one thread;
* optionally (``--eval``) the time of the per-epoch monitoring evaluation on the test split.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_faust_labeling.py --root ../shared/data/faust \
        --cache /work/runs/cache [--steps 5] [--warmup 1] [--table 25] [--eval]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    from geodesic_nets.tasks.distributed import DistInfo
    from geodesic_nets.tasks.experiment import ExperimentConfig
    from geodesic_nets.tasks.models import build_model
    from geodesic_nets.tasks.runner import load_datasets, make_task, model_spec, _monitoring_task
    from geodesic_nets.tasks.trainer.epoch import _train_step
    from geodesic_nets.tasks.trainer.setup import build_optimization, make_loader

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True)
    p.add_argument("--cache", default=None)
    p.add_argument("--config", default="faust")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--table", type=int, default=25, help="rows of the torch.profiler table (0: no profiler)")
    p.add_argument("--eval", action="store_true", help="also time the monitoring evaluation on the test split")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None, help="override the config's dtype")
    p.add_argument("--weights", help="a checkpoint whose model weights replace the fresh initialization "
                   "(e.g. a run's checkpoints/last.pt: later epochs can be slower than the first)")
    p.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True) before the steps")
    p.add_argument("--print-losses", action="store_true",
                   help="print every step's loss (to compare two versions of the code step by step)")
    args = p.parse_args(argv)

    base = ExperimentConfig.from_toml(HERE / "experiments" / f"{args.config}.toml")
    train_cfg = base.train.replace(seed=0, progress=False, **({"dtype": args.dtype} if args.dtype else {}))
    cfg = base.replace(root=args.root, cache_dir=args.cache, train=train_cfg)
    t0 = time.perf_counter()
    data = load_datasets(cfg, ["train"] + (["test"] if args.eval else []), progress=False)
    print(f"datasets loaded in {time.perf_counter() - t0:.1f} s")
    train_set = data["train"]
    task = make_task(cfg, train_set)
    torch.manual_seed(0)
    model = build_model(model_spec(cfg, train_set))
    if args.weights:
        from geodesic_nets.tasks.checkpoint import load_checkpoint

        model.load_state_dict(load_checkpoint(args.weights)["model"])
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    info = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    opt = build_optimization(model, cfg.train, info, None)
    loader = make_loader(train_set, cfg.train, info)
    loader.start_epoch(0)

    phases: dict[str, list[float]] = {}

    def add(name, dt):
        phases.setdefault(name, []).append(dt)

    it = iter(loader.loader)
    losses: list[float] = []
    def one_step(record: bool):
        t = time.perf_counter()
        sb = next(it)
        t1 = time.perf_counter()
        sb = sb.to(info.device, opt.dtype)
        t2 = time.perf_counter()
        if not record:
            loss_value, _ = _train_step(opt, task, sb, lr=1e-3, config=cfg.train, epoch=0, global_step=0)
            losses.append(loss_value)
            return
        # the same work as _train_step, split into timed phases
        for g in opt.optimizer.param_groups:
            g["lr"] = 1e-3
        opt.optimizer.zero_grad(set_to_none=True)
        captured = {}
        # the end of the last gauge layer (the same module before and after the head was fused)
        h = model.body.nonlins[-1].register_forward_hook(lambda *_: captured.update(t_head=time.perf_counter()))
        loss, _ = task.loss(opt.ddp_model, sb)
        h.remove()
        losses.append(float(loss.detach()))
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        opt.optimizer.step()
        t5 = time.perf_counter()
        add("load+collate", t1 - t)
        add("to(dtype)", t2 - t1)
        add("forward: body (inputs, edge geometry, 6 x (conv + nonlinearity))", captured["t_head"] - t2)
        add("forward: invariants, head (V, 48) -> (V, 6890), cross entropy, accuracy", t3 - captured["t_head"])
        add("backward (all)", t4 - t3)
        add("optimizer", t5 - t4)
        add("step total", t5 - t)

    for _ in range(args.warmup):
        one_step(False)
    for _ in range(args.steps):
        one_step(True)
    print(f"\nper-step phases, median of {args.steps} steps (batch_size={cfg.train.batch_size}):")
    for k, v in phases.items():
        print(f"  {k:70s} {statistics.median(v):8.3f} s")
    if args.print_losses:
        print(f"losses of the {len(losses)} steps ({opt.dtype}, lr 1e-3, seed 0):")
        for i, v in enumerate(losses):
            print(f"  step {i + 1:3d}  {v!r}")
    per_step = statistics.median(phases["step total"])
    print(f"  -> scaled to an epoch of {loader.steps_per_epoch} steps: {per_step * loader.steps_per_epoch:.1f} s")

    if args.table:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(min(args.steps, 2)):
                sb = next(it, None)
                if sb is None:
                    break
                sb = sb.to(info.device, opt.dtype)
                _train_step(opt, task, sb, lr=1e-3, config=cfg.train, epoch=0, global_step=0)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.table))
    if args.eval:
        from geodesic_nets.tasks.trainer.evaluation import evaluate

        t = time.perf_counter()
        evaluate(_monitoring_task(task), model, data["test"], device=info.device, dtype=opt.dtype, batch_size=1)
        print(f"monitoring evaluation on {len(data['test'])} test meshes: {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
