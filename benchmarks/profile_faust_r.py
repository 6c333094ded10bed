"""Profile training steps of the FAUST_r functional-map benchmark (``experiments/faust_r_supervised.toml``) on one thread.

Builds the data, task, model and optimizer exactly as ``run_experiments.py faust_r_supervised``
does (the same ``ExperimentConfig``, ``load_datasets``, ``make_task``, ``build_model`` and the
trainer's ``build_optimization`` / ``make_loader``), then runs ``--steps`` training steps after
``--warmup`` steps and reports

* per-phase wall times of each step: loading + collation, moving to the dtype, the input features
  (WKS), the network body, the functional-map solves (each direction the loss uses), the true
  functional map of the supervised term (a least-squares solve), the rest of the loss, backward,
  optimizer. The phases are measured with explicit timers around the task's own pieces (forward
  hooks on the model's ``inputs`` and ``body``, wrappers around ``task._solve`` and ``true_fmap``);
  the step itself is the trainer's work (``tasks.trainer.epoch._train_step`` does the same calls);
* a ``torch.profiler`` table of the operators (self CPU time), one thread;
* optionally (``--eval``) the end-of-run evaluation on the test split (``task.evaluate``: the
  features of every test shape, one point map per ordered pair, the geodesic errors), split into
  those parts, with the time per map.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_faust_r.py --root /work/shared/data/faust_r \
        --cache /work/runs/cache [--steps 5] [--warmup 1] [--table 25] [--eval] [--print-losses]
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
    import geodesic_nets.tasks.functional_maps.task as fm_task
    from geodesic_nets.tasks.trainer.epoch import _train_step

    p = common_arguments(__doc__, "faust_r_supervised", "also time the end-of-run evaluation on the test split")
    args = p.parse_args(argv)
    t = build_training(args, None)
    t = finish_training(t)
    cfg, data, task, model, info, opt, loader = t.cfg, t.data, t.task, t.model, t.info, t.opt, t.loader

    phases: dict[str, list[float]] = {}
    marks: dict[str, float] = {}
    acc: dict[str, float] = {}

    def add(name, dt):
        phases.setdefault(name, []).append(dt)

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            out = fn(*a, **kw)
            acc[name] = acc.get(name, 0.0) + time.perf_counter() - t
            return out
        return wrapper

    hooks = [
        model.inputs.register_forward_pre_hook(lambda *_: marks.update(t_in0=time.perf_counter())),
        model.inputs.register_forward_hook(lambda *_: marks.update(t_in1=time.perf_counter())),
        model.body.register_forward_hook(lambda *_: marks.update(t_body=time.perf_counter())),
    ]
    orig_solve, orig_true = task._solve, fm_task.true_fmap

    def instrument(on: bool):
        if on:
            task._solve = timed("solve", orig_solve)
            fm_task.true_fmap = timed("true_fmap", orig_true)
        else:
            task.__dict__.pop("_solve", None)
            fm_task.true_fmap = orig_true

    it = iter(loader.loader)
    losses: list[float] = []

    def one_step(record: bool):
        t = time.perf_counter()
        sb = next(it)
        t1 = time.perf_counter()
        sb = sb.to(info.device, opt.dtype)
        t2 = time.perf_counter()
        if not record:
            loss_value, _ = _train_step(opt, task, sb, lr=cfg.train.lr, config=cfg.train, epoch=0, global_step=0)
            losses.append(loss_value)
            return
        # the same work as _train_step, split into timed phases
        for g in opt.optimizer.param_groups:
            g["lr"] = cfg.train.lr
        opt.optimizer.zero_grad(set_to_none=True)
        acc.clear()
        instrument(True)
        loss, _ = task.loss(opt.ddp_model, sb)
        instrument(False)
        losses.append(float(loss.detach()))
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        opt.optimizer.step()
        t5 = time.perf_counter()
        add("load + collate", t1 - t)
        add("to(dtype)", t2 - t1)
        add("forward: input features (WKS)", marks["t_in1"] - marks["t_in0"])
        add("forward: network body (DiffusionNet)", marks["t_body"] - marks["t_in1"])
        add("fmap solve (both directions used)", acc.get("solve", 0.0))
        add("true fmap (least squares on the reference points)", acc.get("true_fmap", 0.0))
        add("rest of the loss (split, checks, loss terms)",
            (t3 - marks["t_body"]) - acc.get("solve", 0.0) - acc.get("true_fmap", 0.0))
        add("backward (all)", t4 - t3)
        add("optimizer", t5 - t4)
        add("step total", t5 - t)

    for _ in range(args.warmup):
        one_step(False)
    for _ in range(args.steps):
        one_step(True)
    for h in hooks:
        h.remove()
    report_steps(phases, losses, t, args, lr=cfg.train.lr, width=60, digits=4)
    if args.table:
        profiler_table(t, it, args, lr=cfg.train.lr)

    if args.eval:
        test = data[cfg.eval_split]
        acc.clear()
        orig_maps, orig_err = task.maps, fm_task.correspondence_geodesic_errors
        orig_pair_map = task.pair_map
        task.pair_map = timed("pair_map", orig_pair_map)
        task.maps = timed("maps", orig_maps)
        fm_task.correspondence_geodesic_errors = timed("geodesic", orig_err)
        t = time.perf_counter()
        result = task.evaluate(model, test, device=info.device, dtype=opt.dtype, batch_size=1)
        total = time.perf_counter() - t
        fm_task.correspondence_geodesic_errors = orig_err
        for name in ("maps", "pair_map"):
            task.__dict__.pop(name, None)
        n = result["n_pairs"]
        print(f"\nevaluation on {len(test)} test shapes, {n} maps: {total:.1f} s "
              f"(mean geodesic error x100 {result['mean_geodesic_error_x100']:.4f})")
        print(f"  features of the test shapes (forward)   {acc['maps'] - acc['pair_map']:8.2f} s")
        print(f"  point maps (solve + nearest neighbours) {acc['pair_map']:8.2f} s  ({acc['pair_map'] / n * 1e3:.1f} ms per map)")
        print(f"  geodesic errors                         {acc['geodesic']:8.2f} s")
        print(f"  rest                                    {total - acc['maps'] - acc['geodesic']:8.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
