"""A trained classifier or segmenter on its test shapes as given and randomly rotated and rescaled.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --pretrained shrec11 --root ../shared/data/shrec11 \\
        [--seed 0] [--scale 0.5 2.0] [--out benchmarks/results/experiments/robustness_shrec11.json]
    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --run runs/exp/human_seg/seed_0 --root ...

Every mesh file under ``--root`` (``*.obj``, ``*.off``, ``*.ply``; label files are copied as
they are) is written again, in the same layout, rotated uniformly on SO(3) and scaled by a factor
drawn log-uniformly in ``--scale``, with the package's own writers; the model is evaluated with
its own settings (dataset, split, operators, input features) on the original and on the copy, and
both figures go to the JSON with the command, seed and versions. Remeshing is not measured: the
package has no remesher or decimator of its own yet.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
MESH_SUFFIXES = {".obj", ".off", ".ply"}


def perturbed_copy(root: Path, out: Path, *, seed: int, scale: tuple[float, float]) -> int:
    """Write every file of ``root`` under ``out``: meshes rotated and rescaled, the rest copied."""
    import numpy as np

    from geodesic_nets.geometry.rotations import random_rotation_matrix
    from geodesic_nets.io import load, save
    from geodesic_nets.surface import Surface

    rng = np.random.default_rng(seed)
    count = 0
    for src in sorted(root.rglob("*")):
        if not src.is_file():
            continue
        dst = out / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix.lower() not in MESH_SUFFIXES:
            shutil.copy2(src, dst)
            continue
        s = load(src)
        R = random_rotation_matrix(rng)
        factor = math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
        save(Surface(factor * s.verts @ R.T, s.faces, name=s.name), dst)
        count += 1
    return count


def main(argv=None) -> int:
    from geodesic_nets.tasks.pretrained import load_pretrained
    from geodesic_nets.tasks.runner import evaluate_model, load_run

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pretrained", help="a shipped pretrained model")
    src.add_argument("--run", help="a run directory")
    p.add_argument("--root", required=True, type=Path, help="the dataset folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, nargs=2, default=(0.5, 2.0))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    run = load_pretrained(args.pretrained) if args.pretrained else load_run(args.run)
    name = args.pretrained or Path(args.run).parent.name
    results = {}
    t0 = time.perf_counter()
    results["original"] = evaluate_model(run, root=str(args.root))
    with tempfile.TemporaryDirectory() as tmp:
        n = perturbed_copy(args.root, Path(tmp) / args.root.name, seed=args.seed, scale=tuple(args.scale))
        results["rotated_rescaled"] = evaluate_model(run, root=str(Path(tmp) / args.root.name))
    for k, v in results.items():
        shown = {m: v[m] for m in ("accuracy", "vertex_accuracy", "n") if m in v}
        print(f"{k:18s} {shown}")
    import numpy
    import torch

    record = {"command": " ".join([sys.executable, *sys.argv]), "model": name, "seed": args.seed,
              "scale": list(args.scale), "meshes_perturbed": n, "seconds": time.perf_counter() - t0,
              "results": results, "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                                               "torch": torch.__version__}}
    out = args.out or HERE / "results" / "experiments" / f"robustness_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str))
    print("written", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
