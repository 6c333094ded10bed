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

import os
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent

from _training_setup import build_training, common_arguments, finish_training, profiler_table, report_steps  # noqa: E402,E501


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    from geodesic_nets.tasks.runner import _monitoring_task
    from geodesic_nets.tasks.trainer.epoch import _train_step

    p = common_arguments(__doc__, "faust", "also time the monitoring evaluation on the test split")
    p.add_argument("--weights", help="a checkpoint whose model weights replace the fresh initialization "
                   "(e.g. a run's checkpoints/last.pt: later epochs can be slower than the first)")
    p.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True) before the steps")
    args = p.parse_args(argv)
    t = build_training(args, "test")
    if args.weights:
        from geodesic_nets.tasks.checkpoint import load_checkpoint

        t.model.load_state_dict(load_checkpoint(args.weights)["model"])
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    t = finish_training(t)
    cfg, data, task, model, info, opt, loader = t.cfg, t.data, t.task, t.model, t.info, t.opt, t.loader

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
    report_steps(phases, losses, t, args, lr=1e-3)
    if args.table:
        profiler_table(t, it, args, lr=1e-3)
    if args.eval:
        from geodesic_nets.tasks.trainer.evaluation import evaluate

        t = time.perf_counter()
        evaluate(_monitoring_task(task), model, data["test"], device=info.device, dtype=opt.dtype, batch_size=1)
        print(f"monitoring evaluation on {len(data['test'])} test meshes: {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
