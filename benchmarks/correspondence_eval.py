"""Evaluate a trained correspondence model on FAUST_r's 380 test maps with several test-time settings.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/correspondence_eval.py --run runs/exp/faust_r_supervised/seed_0 \\
        --root ../shared/data/faust_r --cache runs/cache --name faust_r_supervised_seed0 \\
        [--variants fmap features feature_fmap zoomout] [--perturbed]
    OMP_NUM_THREADS=1 python benchmarks/correspondence_eval.py --pretrained faust_r --root ../shared/data/faust_r ...

Each variant is a set of task options (the point map, ZoomOut refinement) applied to the same
trained weights; every variant's figure comes with its evaluation time (feature extraction,
maps and geodesic scoring together). ``--perturbed`` also evaluates the test shapes randomly
rotated (uniform on SO(3)) and rescaled (x0.5 to x2), written to a temporary folder in the
FAUST_r layout and read through the generic ``correspondence_folder`` loader: the package's
normalization and intrinsic input features should make the figure unchanged. The summary is
written to ``benchmarks/results/experiments/correspondence_eval_NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent

#: name -> task options overriding the model's own
VARIANTS = {
    "fmap": {"pointmap": "fmap"},
    "features": {"pointmap": "features"},
    "feature_fmap": {"pointmap": "feature_fmap"},
    "zoomout": {"zoomout_to": 200, "zoomout_step": 5, "zoomout_samples": 1000},
    "zoomout_fmap": {"pointmap": "fmap", "zoomout_to": 200, "zoomout_step": 5, "zoomout_samples": 1000},
    "zoomout_full": {"zoomout_to": 80, "zoomout_step": 1},
}


def _perturbed_copy(root: Path, out: Path, seed: int) -> Path:
    """FAUST_r's test shapes (80-99) rotated and rescaled at random, in the FAUST_r layout."""
    import numpy as np
    import torch

    from geodesic_nets.data.augment import random_rotation_matrix
    from geodesic_nets.io import load, save
    from geodesic_nets.surface import Surface

    gen = torch.Generator().manual_seed(seed)
    (out / "shapes").mkdir(parents=True)
    (out / "corres").mkdir()
    for n in range(80, 100):
        name = f"tr_reg_{n:03d}"
        s = load(root / "shapes" / f"{name}.off")
        rot = random_rotation_matrix(gen).numpy()
        scale = float(np.exp(np.log(0.5) + np.log(4.0) * float(torch.rand((), generator=gen))))
        save(Surface(s.verts @ rot.T * scale, s.faces), out / "shapes" / f"shape_{n:03d}.off")
        shutil.copy(root / "corres" / f"{name}.vts", out / "corres" / f"shape_{n:03d}.vts")
    return out


def main(argv=None) -> int:
    import torch

    torch.set_num_threads(1)
    from geodesic_nets.tasks.pretrained import load_pretrained
    from geodesic_nets.tasks.records import environment_record
    from geodesic_nets.tasks.runner import evaluate_model, load_run

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run directory")
    src.add_argument("--pretrained", help="pretrained model name or file")
    p.add_argument("--root", required=True, help="FAUST_r root")
    p.add_argument("--cache", default=None, help="operator cache directory")
    p.add_argument("--name", required=True, help="name of the summary file")
    p.add_argument("--variants", nargs="+", default=["fmap", "feature_fmap", "zoomout"], choices=sorted(VARIANTS))
    p.add_argument("--perturbed", action="store_true", help="also on randomly rotated and rescaled test shapes")
    p.add_argument("--seed", type=int, default=0, help="seed of the perturbation")
    p.add_argument("--out", default=str(HERE / "results" / "experiments"))
    args = p.parse_args(argv)

    run = load_run(args.run) if args.run else load_pretrained(args.pretrained)
    results = []
    for name in args.variants:
        t0 = time.perf_counter()
        ev = evaluate_model(run, root=args.root, cache_dir=args.cache, task_options=VARIANTS[name])
        wall = time.perf_counter() - t0
        results.append({"variant": name, "options": VARIANTS[name], "inputs": "FAUST_r test shapes",
                        "mean_geodesic_error_x100": ev["mean_geodesic_error_x100"],
                        "pair_error_std_x100": ev["pair_error_std_x100"], "n_pairs": ev["n_pairs"],
                        "evaluation_seconds": wall, "error_curve": ev["error_curve"]})
        print(f"{name:>14}: {ev['mean_geodesic_error_x100']:.3f} x100 over {ev['n_pairs']} maps, {wall:.0f} s",
              flush=True)
    if args.perturbed:
        tmp = Path(tempfile.mkdtemp(prefix="faust_r_perturbed_"))
        try:
            folder = _perturbed_copy(Path(args.root), tmp / "data", args.seed)
            for name in args.variants:
                t0 = time.perf_counter()
                ev = evaluate_model(run, dataset="correspondence_folder", root=str(folder), cache_dir=args.cache,
                                    task_options=VARIANTS[name])
                wall = time.perf_counter() - t0
                results.append({"variant": name, "options": VARIANTS[name],
                                "inputs": f"FAUST_r test shapes, random rotation and scale x0.5-x2 (seed {args.seed})",
                                "mean_geodesic_error_x100": ev["mean_geodesic_error_x100"],
                                "pair_error_std_x100": ev["pair_error_std_x100"], "n_pairs": ev["n_pairs"],
                                "evaluation_seconds": wall})
                print(f"{name:>14} (rotated, rescaled): {ev['mean_geodesic_error_x100']:.3f} x100 over "
                      f"{ev['n_pairs']} maps, {wall:.0f} s", flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    out = {"name": args.name, "model": args.run or args.pretrained, "root": args.root,
           "command": " ".join([Path(sys.executable).name, "benchmarks/correspondence_eval.py", *(argv or sys.argv[1:])]),
           "results": results, "environment": environment_record()}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"correspondence_eval_{args.name}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
