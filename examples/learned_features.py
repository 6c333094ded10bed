"""Look at what a trained model learned: its per-vertex features, and the correspondence it predicts.

Without ``--run`` it first trains a small deep-functional-map model (DiffusionNet on WKS inputs)
on the package's ``synthetic_correspondence`` shapes (about 10 s on one CPU core); with
``--run RUN_DIR`` it loads a model trained before (``geodesic-nets train``, or the other
examples' ``OUT/run``). The two shapes are the first two test shapes of the run's dataset, or
``--files SOURCE TARGET``. Writes into ``--out`` (headless, through the ``[viz]`` extra):

* ``features.png``        the learned features of the target (the input of the model's last
  linear layer, (V, C)), their first three principal components as RGB
* ``correspondence.png``  a coordinate colour pattern on the source, carried to the target by
  the predicted point map (correspondence models only)
* ``error_map.png``       the geodesic error of that map at every target vertex, when the truth
  is known (synthetic shapes: the source vertex nearest on the undeformed base shape)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from geodesic_nets import GeodesicNetsError, OperatorSettings, Surface, load, viz
from geodesic_nets.tasks import (
    ExperimentConfig,
    ModelSpec,
    TrainConfig,
    correspondence_geodesic_errors,
    load_run,
    train_experiment,
)
from geodesic_nets.tasks.runner import load_datasets


def train_small_model(run_dir: Path, epochs: int) -> None:
    """A deep-functional-map model on the synthetic correspondence shapes."""
    cfg = ExperimentConfig(
        task="functional_maps",
        dataset="synthetic_correspondence",
        dataset_options={"n_shapes": 16, "seed": 0},
        model=ModelSpec(name="diffusion", in_features="wks", n_features=32, out_channels=32, width=32, depth=3,
                        kwargs={"dropout": 0.0}),
        operators=OperatorSettings(k_eig=48),
        train=TrainConfig(epochs=epochs, batch_size=2, lr=2e-3, eval_every=epochs, device="cpu",
                          progress=sys.stderr.isatty()),
        task_options={"k": 20},
    )
    print(f"training a deep-functional-map model on {cfg.dataset} for {epochs} epochs into {run_dir}")
    ev = train_experiment(cfg, run_dir)
    print(f"  test mean geodesic error x100: {ev['mean_geodesic_error_x100']:.2f} over {ev['n_pairs']} maps")


def surface_of(sample) -> Surface:
    """The (normalized) surface a sample's operators were computed on."""
    ops = sample.operators
    return Surface(ops.verts.double().numpy(), ops.faces.numpy(), name=sample.name)


def true_map(source, target) -> np.ndarray | None:
    """For every target vertex, the source vertex nearest on the undeformed base shape (or None)."""
    if "base_points" not in source.extra or "base_points" not in target.extra:
        return None
    tree = cKDTree(np.asarray(source.extra["base_points"]))
    return tree.query(np.asarray(target.extra["base_points"]))[1].astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("features_out"), help="output directory")
    p.add_argument("--run", type=Path, default=None, help="a trained run directory (default: train one)")
    p.add_argument("--epochs", type=int, default=10, help="epochs when training here")
    p.add_argument("--files", type=Path, nargs=2, default=None, metavar=("SOURCE", "TARGET"),
                   help="mesh files to draw (default: two test shapes of the run's dataset)")
    p.add_argument("--size", type=int, nargs=2, default=(1000, 500), metavar=("W", "H"),
                   help="size of the side-by-side pictures (single views are H x H)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    width, height = args.size

    try:
        run_dir = args.run
        if run_dir is None:
            run_dir = args.out / "run"
            train_small_model(run_dir, args.epochs)
        run = load_run(run_dir, device="cpu")
        print(f"loaded {run.spec.name} ({run.task_name}) from {run_dir}")
        if args.files is not None:
            source, target = run.samples(args.files)  # normalized, with the run's operator settings
            shapes = (load(args.files[0]), load(args.files[1]))
        else:
            test = load_datasets(run.experiment, ["test"], progress=False)["test"]
            source, target = test[0], test[1]
            shapes = (surface_of(source), surface_of(target))
    except GeodesicNetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    feats = run.vertex_features(target).numpy()  # (V_target, C), the file's vertex order
    path = viz.plot_features(shapes[1], feats, channels="pca", title=f"learned features of {target.name} (PCA)",
                             window_size=(height, height), screenshot=args.out / "features.png")
    print(f"wrote {path}: {feats.shape[1]} learned channels on {target.num_verts} vertices, PCA to RGB")

    if run.task_name not in ("functional_maps", "vertex_labeling"):
        print(f"a {run.task_name} model predicts no correspondence: no correspondence picture")
        return 0
    p2p = run.point_map(source, target).numpy()  # (V_target,): a source vertex for every target vertex
    path = viz.plot_correspondence(shapes[0], shapes[1], p2p, pattern="xyz", window_size=(width, height),
                                   titles=(f"source {source.name}", f"target {target.name}: predicted map"),
                                   screenshot=args.out / "correspondence.png")
    print(f"wrote {path}: colours of {source.name} carried to {target.name} by the predicted map")

    truth = true_map(source, target)
    if truth is not None:
        ops = source.operators
        errors = correspondence_geodesic_errors(ops.verts.double().numpy(), ops.faces.numpy(), p2p, truth)
        path = viz.plot_error_map(shapes[1], errors, title="geodesic error / sqrt(area)",
                                  window_size=(height, height), screenshot=args.out / "error_map.png")
        print(f"wrote {path}: mean error x100 {100 * errors.mean():.2f}, "
              f"{np.mean(errors <= 0.05):.0%} of the vertices within 0.05")
    return 0


if __name__ == "__main__":
    sys.exit(main())
