"""Segmentation models at test time: each alone, under random rotations, and averaged together.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/segmentation_test_time.py --root ../shared/data/human_seg \\
        --models human_seg RUNS/human_seg_hksxyz/seed_0 RUNS/human_seg_hksxyz/seed_1 [--rotations 32] [--seed 0] \\
        [--out benchmarks/results/experiments/human_seg_test_time.json]

A model is a shipped pretrained name or a run directory. For each model: its vertex accuracy on
the test split, per mesh too; with ``--rotations N``, its accuracy when the coordinates it reads
are rotated by each of N random rotations (uniform on SO(3), seeded), their mean and std, and the
accuracy of the mean log-probability over the N rotations (test-time augmentation). Then the
accuracy of the mean log-probability of all the models (an ensemble). The rotation acts on the
batch's vertex coordinates only, which is a rigid motion of the input for networks whose other
inputs are intrinsic (DiffusionNet: HKS, and gradients in tangent frames). Everything goes to the
JSON with the command, seed and versions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent


def _load(model: str):
    from geodesic_nets.tasks.pretrained import available_pretrained, load_pretrained
    from geodesic_nets.tasks.runner import load_run

    return load_pretrained(model) if model in available_pretrained() else load_run(model)


def _log_probs(run, data, rotation=None) -> list:
    """Per test mesh, the model's vertex log-probabilities (V, C), float64, coordinates rotated by ``rotation``."""
    import torch

    from geodesic_nets.tasks.inference import iterate_batches

    def call(batch):
        if rotation is not None:
            batch = dataclasses.replace(batch, verts=batch.verts @ rotation.to(batch.verts).T)
        return run.model(batch)

    out = []
    for sb, logits in iterate_batches(run.model, data, device=run.device, dtype=run.dtype, call=call):
        out.extend(torch.log_softmax(lg.double().cpu(), dim=1) for lg in sb.batch.split(logits))
    return out


def _accuracy(log_probs: list, labels: list) -> float:
    import torch

    from geodesic_nets.tasks.metrics import accuracy

    return accuracy(torch.cat([lp.argmax(1) for lp in log_probs]), torch.cat(labels))


def main(argv=None) -> int:
    import numpy as np
    import torch

    from geodesic_nets.data.augment import random_rotation_matrix
    from geodesic_nets.tasks.metrics import accuracy
    from geodesic_nets.tasks.runner import load_datasets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, type=Path, help="the dataset folder")
    p.add_argument("--models", nargs="+", required=True, help="pretrained names or run directories")
    p.add_argument("--rotations", type=int, default=0, help="random rotations per model (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rotations")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(args.seed)
    rotations = [random_rotation_matrix(gen) for _ in range(args.rotations)]
    record: dict = {"command": " ".join([sys.executable, *sys.argv]), "seed": args.seed, "rotations": args.rotations,
                    "models": {}}
    all_log_probs, labels, names = [], None, None
    for model in args.models:
        run = _load(model)
        cfg = run.experiment.replace(root=str(args.root))
        data = load_datasets(cfg, [cfg.eval_split], progress=False)[cfg.eval_split]
        if labels is None:
            labels, names = [s.label for s in data], [s.name for s in data]
        elif [s.name for s in data] != names:
            raise SystemExit(f"{model}: its test split differs from the first model's")
        lp = _log_probs(run, data)
        all_log_probs.append(lp)
        entry = {"vertex_accuracy": _accuracy(lp, labels),
                 "per_mesh_vertex_accuracy": {n: accuracy(x.argmax(1), y) for n, x, y in zip(names, lp, labels)}}
        if rotations:
            rotated = [_log_probs(run, data, r) for r in rotations]
            single = [_accuracy(r, labels) for r in rotated]
            mean_lp = [torch.stack(per_mesh).mean(0) for per_mesh in zip(*rotated)]
            entry.update({"rotated_accuracy_mean": float(np.mean(single)), "rotated_accuracy_std": float(np.std(single, ddof=1)),
                          "rotation_averaged_accuracy": _accuracy(mean_lp, labels)})
        record["models"][model] = entry
        print(model, {k: round(v, 4) for k, v in entry.items() if isinstance(v, float)}, flush=True)
    if len(all_log_probs) > 1:
        ensemble = [torch.stack(per_mesh).mean(0) for per_mesh in zip(*all_log_probs)]
        record["ensemble_vertex_accuracy"] = _accuracy(ensemble, labels)
        print("ensemble", round(record["ensemble_vertex_accuracy"], 4))
    record["seconds"] = time.perf_counter() - t0
    record["versions"] = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    out = args.out or HERE / "results" / "experiments" / "segmentation_test_time.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print("written", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
