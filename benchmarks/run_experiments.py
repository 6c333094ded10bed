"""Reproduce the task results of the README: train and evaluate over seeds/splits, summarize.

Usage (one thread, as everywhere on the shared machines)::

    OMP_NUM_THREADS=1 python benchmarks/run_experiments.py shrec11 --root ../shared/data/shrec11 \
        --seeds 0 1 2 3 4 [--epochs N] [--runs runs/] [--cache cache/]

Each experiment is a TOML file in ``benchmarks/experiments/``. For every seed the dataset split
seed (SHREC'11 draws its 10 training meshes per class with it) and the training seed are set to
that seed; each run gets its own run directory (``RUNS/NAME/seed_S``) with the full record
(experiment.json, config, environment, metrics). The summary (mean +- std over seeds of the
final-epoch evaluation, of its headline metric and of every other scalar metric, time per epoch
and in total, and the published figures to compare with) is printed as a table and written to
``benchmarks/results/experiments/NAME.json``. ``--summarize-only`` reads each run's metrics.json,
which ``geodesic-nets evaluate RUN_DIR`` refreshes (a metric added after training, say); with
``--keep-recorded`` a seed whose run directory is not on this machine is taken from the runs
already in the summary JSON (a seed trained on another machine joins those recorded before).

A second stage (fine-tuning, annealing) starts from the first stage's weights of the same seed with
``init_from = "{runs}/FIRST_STAGE/seed_{seed}"`` under ``[train]`` in its TOML file.

``--threads N`` (default 1) gives the training N torch threads, for a long run on a machine that
has nothing else to do (set ``OMP_NUM_THREADS=N`` too): ``faust_100_gem`` took 150 s an epoch with
one thread and 90 s with two on the 2-core machine of 2026-12-07, with the same first-epoch loss.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent

#: published figures on the same protocol, for the table (higher is better unless noted)
PUBLISHED = {
    "shrec11": {"metric": "accuracy (%)", "DiffusionNet": 99.5, "DeltaConv": 99.6, "target": 99.7},
    "faust": {"metric": "accuracy at zero geodesic error (%)", "GEM-CNN": 99.73, "MoNet (SHOT)": 73.8, "target": 99.8},
    "faust_r": {"metric": "mean geodesic error x100 (lower is better)", "ULRSSM": 1.6, "DiffZO": 1.9,
                "GeomFmaps (DiffusionNet)": "2-3.5", "target": 1.5},
    "human_seg": {"metric": "edge accuracy (%), area weighted, boundary edges accept either part (MeshCNN's protocol)",
                  "compare_with": "edge_accuracy_meshcnn", "MeshCNN": 92.3, "MeshWalker": 92.7, "target": 93.0},
}



def published_for(name: str) -> dict:
    """The published figures of an experiment: its own entry, else that of the experiment it varies
    (``human_seg_hks`` -> ``human_seg``, ``faust_100`` -> ``faust``: the longest name it extends)."""
    if name in PUBLISHED:
        return PUBLISHED[name]
    bases = [k for k in PUBLISHED if name.startswith(k + "_")]
    return PUBLISHED[max(bases, key=len)] if bases else {}


def init_source(template: str, seed: int, runs: str) -> str:
    """An experiment's ``init_from`` for one seed: ``{seed}`` and ``{runs}`` (the --runs folder) filled in,
    so a fine-tuning stage starts each seed from the same seed's run of the first stage."""
    try:
        return template.format(seed=seed, runs=runs)
    except (KeyError, IndexError, ValueError) as exc:
        raise SystemExit(f"init_from {template!r}: only {{seed}} and {{runs}} can be filled in ({exc})") from exc


def _recorded_runs(path: Path) -> dict[int, dict]:
    """The per-seed entries of an existing summary JSON, by seed (none if it does not exist), each
    with the environment the summary recorded unless it has its own."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    return {int(r["seed"]): {"environment": old.get("environment"), **r} for r in old.get("runs", [])}


HEADLINE = {"classification": ("accuracy", 100.0), "segmentation": ("vertex_accuracy", 100.0),
            "correspondence": ("accuracy", 100.0), "functional_maps": ("mean_geodesic_error", 100.0)}


def main(argv=None) -> int:
    import torch

    from geodesic_nets.tasks.experiment import ExperimentConfig
    from geodesic_nets.tasks.metrics import summarize
    from geodesic_nets.tasks.runner import train_experiment
    from geodesic_nets.tasks.records import environment_record

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="experiment: a TOML file name in benchmarks/experiments/ (without .toml)")
    p.add_argument("--root", default=None, help="dataset root (the synthetic datasets need none)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--runs", default="runs", help="directory for the run directories")
    p.add_argument("--cache", default=None, help="operator cache directory (default RUNS/cache)")
    p.add_argument("--jobs", type=int, default=1, help="processes for the operator precomputation")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of the training (default 1; recorded in each run's environment.json)")
    p.add_argument("--resume", action="store_true", help="resume run directories that exist")
    p.add_argument("--summarize-only", action="store_true",
                   help="do not train: summarize the finished run directories (their metrics.json evaluation)")
    p.add_argument("--keep-recorded", action="store_true",
                   help="with --summarize-only: a seed whose run directory has no metrics.json is taken from the "
                        "runs already recorded in OUT/NAME.json (marked with recorded_in)")
    p.add_argument("--out", default=str(HERE / "results" / "experiments"), help="directory of the summary JSON")
    args = p.parse_args(argv)
    if args.keep_recorded and not args.summarize_only:
        raise SystemExit("--keep-recorded only goes with --summarize-only")
    if args.threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)

    base = ExperimentConfig.from_toml(HERE / "experiments" / f"{args.name}.toml")
    cache = args.cache or str(Path(args.runs) / "cache")
    path = Path(args.out) / f"{args.name}.json"
    recorded = _recorded_runs(path) if args.keep_recorded else {}
    results = []
    for seed in args.seeds:
        ds_opts = dict(base.dataset_options)
        if base.dataset == "shrec11":
            ds_opts["seed"] = seed
        train = base.train.replace(seed=seed, progress=False, **({"epochs": args.epochs} if args.epochs else {}),
                                   **({"init_from": init_source(base.train.init_from, seed, args.runs)}
                                      if base.train.init_from else {}))
        cfg = base.replace(root=args.root, dataset_options=ds_opts, train=train, cache_dir=cache, jobs=args.jobs)
        run_dir = Path(args.runs) / args.name / f"seed_{seed}"
        t0 = time.perf_counter()
        if args.summarize_only and not (run_dir / "metrics.json").is_file():
            if seed not in recorded:
                raise SystemExit(f"seed {seed}: no {run_dir / 'metrics.json'}"
                                 + (f" and no run of that seed in {path}" if args.keep_recorded else
                                    " (--keep-recorded takes the seeds already in the summary JSON)"))
            results.append({**recorded[seed], "recorded_in": str(path)})
            print(f"seed {seed}: as recorded in {path}", flush=True)
            continue
        if args.summarize_only:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            ev = metrics["evaluation"]
            cfg = ExperimentConfig.load(run_dir)  # what the run was trained with (its epochs, say)
        else:
            ev = train_experiment(cfg, run_dir, resume=args.resume and (run_dir / "checkpoints" / "last.pt").is_file())
            metrics = json.loads((run_dir / "metrics.json").read_text())
        epoch_s = [h.get("epoch_seconds") for h in metrics.get("history", []) if h.get("epoch_seconds") is not None]
        # every epoch's time, those of earlier (resumed) calls too; a fresh run's elapsed time otherwise
        wall = (metrics.get("timings") or {}).get("total_epoch_seconds") or time.perf_counter() - t0
        results.append({"seed": seed, "run_dir": str(run_dir), "evaluation": ev, "wall_seconds": wall,
                        "median_epoch_seconds": sorted(epoch_s)[len(epoch_s) // 2] if epoch_s else None,
                        "epochs": cfg.train.epochs})
        print(f"seed {seed}: " + ", ".join(f"{k}={v:.4g}" for k, v in ev.items() if isinstance(v, float)), flush=True)

    task = results[0]["evaluation"]["task"]
    key, scale = HEADLINE[task]
    summary = summarize([r["evaluation"][key] * scale for r in results])
    scalars = [k for k, v in results[0]["evaluation"].items()
               if isinstance(v, float) and not k.endswith("seconds") and all(isinstance(r["evaluation"].get(k), float) for r in results)]
    every = {k: summarize([r["evaluation"][k] for r in results]) for k in scalars}
    out = {
        "experiment": args.name,
        "config": base.to_dict(),
        "command": " ".join([Path(sys.executable).name, "benchmarks/run_experiments.py", *(argv or sys.argv[1:])]),
        "metric": f"{key} x{scale:g}",
        "summary": summary,
        "metrics": every,
        "runs": results,
        "published": published_for(args.name),
        "environment": environment_record(),
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\n{args.name}: {key} x{scale:g} = {summary['mean']:.2f} +- {summary['std']:.2f} over {summary['n']} seed(s)")
    print(f"{'seed':>6} {'metric':>10} {'epochs':>7} {'s/epoch':>9} {'total s':>9}")
    for r in results:
        ep = r["median_epoch_seconds"]
        wall = f"{r['wall_seconds']:.0f}" if r["wall_seconds"] is not None else "-"
        print(f"{r['seed']:>6} {r['evaluation'][key] * scale:>10.2f} {r['epochs']:>7} "
              f"{(f'{ep:.1f}' if ep else '-'):>9} {wall:>9}")
    for k, v in every.items():
        print(f"{k}: {v['mean']:.4f} +- {v['std']:.4f}")
    print("published:", json.dumps(published_for(args.name)))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
