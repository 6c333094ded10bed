"""The training part of ``geodesic-nets demo``: two small models on the synthetic datasets.

1. Shape classification of deformed, differently tessellated primitives (DiffusionNet on HKS).
2. Dense correspondence between deformed, remeshed and shuffled copies of a blob with deep
   functional maps (DiffusionNet features from WKS), next to the same functional-map pipeline
   on the raw WKS descriptors, so the gain from learning is visible.

Both go through the same path as ``geodesic-nets train`` (ExperimentConfig -> train_experiment),
and leave their run directories under ``out_dir/runs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..settings import OperatorSettings
from ..tasks.experiment import ExperimentConfig
from ..tasks.functional_maps import FunctionalMapTask
from ..tasks.models import DescriptorModel, ModelSpec
from ..tasks.runner import load_datasets, train_experiment

__all__ = ["classification_demo", "correspondence_demo", "CLASSIFICATION", "CORRESPONDENCE"]

CLASSIFICATION = ExperimentConfig(
    task="classification",
    dataset="synthetic_shapes",
    dataset_options={"n_per_class": 16, "seed": 0},
    model=ModelSpec(name="diffusion", in_features="hks", width=32, depth=3, kwargs={"dropout": 0.2}),
    operators=OperatorSettings(k_eig=48),
    task_options={"label_smoothing": 0.1},
)

CORRESPONDENCE = ExperimentConfig(
    task="functional_maps",
    dataset="synthetic_correspondence",
    dataset_options={"n_shapes": 24, "seed": 0},
    model=ModelSpec(name="diffusion", in_features="wks", n_features=32, out_channels=32, width=32, depth=3,
                    kwargs={"dropout": 0.0}),
    operators=OperatorSettings(k_eig=48),
    task_options={"k": 20, "lambda_": 1e-3},
)


def _train(cfg: ExperimentConfig, epochs: int, batch_size: int, run_dir: Path, progress: bool) -> dict:
    cfg = cfg.replace(train=cfg.train.replace(epochs=epochs, batch_size=batch_size, lr=2e-3, seed=0,
                                              eval_every=epochs, progress=progress))
    return train_experiment(cfg, run_dir)


def classification_demo(out_dir: Path, *, epochs: int = 15, progress: bool = False,
                        echo: Callable[[str], None] = print) -> dict:
    """Train and evaluate the classifier; returns the evaluation (accuracy, confusion matrix)."""
    echo(f"\n=== shape classification: synthetic primitives, DiffusionNet on HKS, {epochs} epochs ===")
    ev = _train(CLASSIFICATION, epochs, 4, out_dir / "classification", progress)
    echo(f"test accuracy {ev['accuracy']:.1%} on {ev['n']} shapes ({ev['train_seconds']:.1f} s of training)")
    return ev


def correspondence_demo(out_dir: Path, *, epochs: int = 12, progress: bool = False,
                        echo: Callable[[str], None] = print) -> dict:
    """Train deep functional maps; returns the evaluation beside the raw-descriptor baseline."""
    echo(f"\n=== correspondence: deformed, remeshed blobs, deep functional maps, {epochs} epochs ===")
    ev = _train(CORRESPONDENCE, epochs, 2, out_dir / "correspondence", progress)
    test = load_datasets(CORRESPONDENCE, ["test"], progress=False)["test"]
    baseline = FunctionalMapTask(**CORRESPONDENCE.task_options).evaluate(
        DescriptorModel(CORRESPONDENCE.model), test, device="cpu", dtype=torch.float32)
    echo(f"mean geodesic error (x100, unit area) over {ev['n_pairs']} test maps: "
         f"learned {ev['mean_geodesic_error_x100']:.2f} vs raw WKS descriptors {baseline['mean_geodesic_error_x100']:.2f}")
    return {"learned": ev, "raw_descriptors": {k: baseline[k] for k in ("mean_geodesic_error", "mean_geodesic_error_x100",
                                                                       "n_pairs", "error_curve")}}
