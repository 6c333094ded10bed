"""A trained classifier or segmenter on its test shapes as given, randomly rotated and rescaled, and decimated.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --pretrained shrec11 --root ../shared/data/shrec11 \\
        [--seed 0] [--scale 0.5 2.0] [--decimate 0.5] [--task-option KEY=VALUE] \\
        [--out benchmarks/results/experiments/robustness_shrec11.json]
    OMP_NUM_THREADS=1 python benchmarks/robustness_eval.py --run runs/exp/human_seg/seed_0 --root ...

Every mesh file under ``--root`` (``*.obj``, ``*.off``, ``*.ply``) is written again, in the same
layout, with the package's own writers: rotated uniformly on SO(3) and scaled by a factor drawn
log-uniformly in ``--scale``; with ``--decimate RATIO`` also decimated to that fraction of its
faces by quadric-error edge collapse (``geodesic_nets.geometry.decimation``), alone and together
with the rotation and rescaling. Other files are copied as they are, except the edge labels of a
decimated segmentation mesh (``seg/NAME.eseg``), which are carried over to the new edges (each
takes the label of the nearest original edge, by midpoint). A vertex-labelling model (FAUST,
labels = template vertex numbers) gets its decimated shapes relabelled in memory
(:func:`decimated_template_labels`): each kept vertex is labelled with the input vertex it was
born from, and each template vertex is carried by the kept vertex nearest it, for the geodesic
errors. The model is evaluated with its own settings (dataset, split, operators, input
features) on the original and on each copy, and every figure goes to the JSON with the command,
seed and versions.
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


def decimated_template_labels(verts, source_vertex):
    """Template labels of a decimated template-ordered shape (FAUST: vertex ``i`` is template vertex ``i``).

    ``verts``: shape (V, 3), the shape before decimation; ``source_vertex``: shape (V',), the input
    vertex each kept vertex was born from. Returns ``label`` (V',) int64, the template vertex of
    each kept vertex (its source), and ``corr`` (V,) int64, the kept vertex carrying each template
    vertex: its own if it was kept, else the kept vertex whose source lies nearest it.
    """
    import numpy as np
    from scipy.spatial import cKDTree

    src = np.asarray(source_vertex, dtype=np.int64)
    _, corr = cKDTree(verts[src]).query(verts)
    corr[src] = np.arange(len(src))  # a kept vertex carries its own template vertex
    return src, corr.astype(np.int64)


def perturbed_copy(root: Path, out: Path, *, seed: int, scale: tuple[float, float] | None,
                   decimate_ratio: float | None, sources: dict | None = None) -> int:
    """Write every file of ``root`` under ``out``: meshes decimated and/or rotated and rescaled, the rest copied.

    A mesh with an edge-label file ``seg/NAME.eseg`` beside its split folder (human segmentation)
    gets a new label file for its decimated edges (:func:`transfer_edge_labels`). With ``sources``
    (a dict), every decimated mesh's ``(verts before decimation, source_vertex)`` is put there
    under its file stem.
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
            if sources is not None:
                sources[src.stem] = (verts, d.source_vertex)
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


def evaluate_relabelled(run, original_root: Path, copy: Path, sources: dict) -> dict:
    """Evaluate a FAUST vertex-labelling model on the decimated copies of its evaluation shapes.

    The FAUST loader accepts only full 6890-vertex registrations, so the copies are prepared as
    ``predict`` prepares files (the run's operators and normalization) and labelled from
    ``sources`` (:func:`decimated_template_labels`).
    """
    import dataclasses

    import torch

    from geodesic_nets.tasks.runner import load_datasets, make_task

    cfg = run.experiment.replace(root=str(original_root))
    data = load_datasets(cfg, [cfg.eval_split], progress=False)[cfg.eval_split]
    files = [copy / Path(s.path).resolve().relative_to(Path(original_root).resolve()) for s in data]
    samples = []
    for f, s in zip(files, run.samples(files)):
        label, corr = decimated_template_labels(*sources[f.stem])
        samples.append(dataclasses.replace(s, label=torch.from_numpy(label), corr=torch.from_numpy(corr)))
    task = make_task(cfg, data)
    t0 = time.perf_counter()
    result = task.evaluate(run.model, samples, device=run.device, dtype=run.dtype)
    return {"task": task.name, "split": cfg.eval_split, "dataset": cfg.dataset, "task_options": cfg.task_options,
            "relabelled": len(samples), "seconds": time.perf_counter() - t0, **result}


def main(argv=None) -> int:
    from geodesic_nets.cli.options import key_values
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
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                   help="override a task option of the model (JSON value), e.g. decode=one_to_one; repeatable")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    options = key_values(args.task_option)
    run = load_pretrained(args.pretrained) if args.pretrained else load_run(args.run)
    run = run.with_task_options(**options)  # every evaluation below reads the run's task options
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
            copy, sources = Path(tmp) / args.root.name, {}
            n = perturbed_copy(args.root, copy, seed=args.seed, scale=scale, decimate_ratio=ratio, sources=sources)
            if ratio is not None and run.experiment.dataset == "faust":  # labels are template vertex numbers
                results[label] = evaluate_relabelled(run, args.root, copy, sources)
            else:
                results[label] = evaluate_model(run, root=str(copy))
    for k, v in results.items():
        shown = {m: v[m] for m in ("accuracy", "vertex_accuracy", "n", "n_meshes") if m in v}
        print(f"{k:28s} {shown}")
    import numpy
    import torch

    record = {"command": " ".join([sys.executable, *sys.argv]), "model": name, "task_options": options, "seed": args.seed,
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
