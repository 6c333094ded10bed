"""A trained classifier or segmenter on its test shapes as given, randomly rotated and rescaled, and decimated.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --pretrained shrec11 --root ../shared/data/shrec11 \\
        [--seed 0] [--scale 0.5 2.0] [--decimate 0.5] [--out benchmarks/results/experiments/robustness_shrec11.json]
    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --run runs/exp/human_seg/seed_0 --root ...

Every mesh file under ``--root`` (``*.obj``, ``*.off``, ``*.ply``) is written again, in the same
layout, with the package's own writers: rotated uniformly on SO(3) and scaled by a factor drawn
log-uniformly in ``--scale``; with ``--decimate RATIO`` also decimated to that fraction of its
faces by quadric-error edge collapse (``geodesic_nets.geometry.decimation``), alone and together
with the rotation and rescaling. Other files are copied as they are, except the edge labels of a
decimated segmentation mesh (``seg/NAME.eseg``), which are carried over to the new edges (each
takes the label of the nearest original edge, by midpoint). The model is evaluated with its own
settings (dataset, split, operators, input features) on the original and on each copy, and every
figure goes to the JSON with the command, seed and versions.
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


def transfer_edge_labels(verts, faces, labels, new_verts, new_faces):
    """Per-edge labels of a remeshed surface: each edge takes the label of the original edge nearest it.

    Edges are numbered as MeshCNN numbers them (``meshcnn_edges``) and compared by their midpoints.
    ``labels``: shape (E,), the original mesh's edge labels; returns shape (E',).
    """
    import numpy as np
    from scipy.spatial import cKDTree

    from geodesic_nets.data.human_seg import meshcnn_edges

    old = meshcnn_edges(faces)
    new = meshcnn_edges(new_faces)
    _, nearest = cKDTree(verts[old].mean(axis=1)).query(new_verts[new].mean(axis=1))
    return np.asarray(labels)[nearest]


def perturbed_copy(root: Path, out: Path, *, seed: int, scale: tuple[float, float] | None,
                   decimate_ratio: float | None) -> int:
    """Write every file of ``root`` under ``out``: meshes decimated and/or rotated and rescaled, the rest copied.

    A mesh with an edge-label file ``seg/NAME.eseg`` beside its split folder (human segmentation)
    gets a new label file for its decimated edges (:func:`transfer_edge_labels`).
    """
    import numpy as np

    from geodesic_nets.data.human_seg import read_eseg
    from geodesic_nets.geometry.decimation import decimate
    from geodesic_nets.geometry.rotations import random_rotation_matrix
    from geodesic_nets.io import load, save
    from geodesic_nets.surface import Surface

    rng = np.random.default_rng(seed)
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    for src in files:  # first everything that is not a mesh, so that relabelled files replace copies
        if src.suffix.lower() not in MESH_SUFFIXES:
            dst = out / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    count = 0
    for src in files:
        if src.suffix.lower() not in MESH_SUFFIXES:
            continue
        dst = out / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        s = load(src)
        verts, faces = s.verts, s.faces
        if decimate_ratio is not None:
            d = decimate(verts, faces, ratio=decimate_ratio)
            seg = src.parent.parent / "seg" / f"{src.stem}.eseg"
            if seg.exists():
                labels = transfer_edge_labels(verts, faces, read_eseg(seg), d.verts, d.faces)
                (out / seg.relative_to(root)).write_text("".join(f"{int(x)}\n" for x in labels))
            verts, faces = d.verts, d.faces
        if scale is not None:
            R = random_rotation_matrix(rng)
            factor = math.exp(rng.uniform(math.log(scale[0]), math.log(scale[1])))
            verts = factor * verts @ R.T
        save(Surface(verts, faces, name=s.name), dst)
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
    p.add_argument("--decimate", type=float, default=None, metavar="RATIO",
                   help="also evaluate on copies decimated to this fraction of their faces (quadric error, "
                        "geodesic_nets.geometry.decimation), alone and with the rotation and rescaling")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    run = load_pretrained(args.pretrained) if args.pretrained else load_run(args.run)
    name = args.pretrained or Path(args.run).parent.name
    results = {}
    t0 = time.perf_counter()
    results["original"] = evaluate_model(run, root=str(args.root))
    conditions = {"rotated_rescaled": (tuple(args.scale), None)}
    if args.decimate is not None:
        conditions["decimated"] = (None, args.decimate)
        conditions["rotated_rescaled_decimated"] = (tuple(args.scale), args.decimate)
    for label, (scale, ratio) in conditions.items():
        with tempfile.TemporaryDirectory() as tmp:
            n = perturbed_copy(args.root, Path(tmp) / args.root.name, seed=args.seed, scale=scale, decimate_ratio=ratio)
            results[label] = evaluate_model(run, root=str(Path(tmp) / args.root.name))
    for k, v in results.items():
        shown = {m: v[m] for m in ("accuracy", "vertex_accuracy", "n", "n_meshes") if m in v}
        print(f"{k:28s} {shown}")
    import numpy
    import torch

    record = {"command": " ".join([sys.executable, *sys.argv]), "model": name, "seed": args.seed,
              "scale": list(args.scale), "decimate": args.decimate, "meshes_perturbed": n, "seconds": time.perf_counter() - t0,
              "results": results, "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                                               "torch": torch.__version__}}
    out = args.out or HERE / "results" / "experiments" / f"robustness_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str))
    print("written", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
