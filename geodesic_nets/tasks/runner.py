"""Train, evaluate and predict from an :class:`ExperimentConfig` and a run directory.

A run directory holds ``experiment.json`` (the experiment), ``config.json``,
``environment.json``, ``metrics.csv``, ``metrics.json`` (written by the training loop;
:func:`train_experiment` and :func:`evaluate_run` add their final evaluation under
``"evaluation"``) and ``checkpoints/{last,best}.pt``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal, Sequence

import torch

from ..errors import GeodesicNetsError
from .base import Task
from .checkpoint import load_checkpoint
from .classification import ClassificationTask
from .experiment import ExperimentConfig
from .functional_maps import FunctionalMapTask
from .initial_weights import load_initial_weights
from .models import ModelSpec, build_model
from .run import Run, run_device
from .segmentation import SegmentationTask
from .vertex_labeling import VertexLabelingTask

__all__ = ["Run", "make_task", "load_datasets", "train_experiment", "evaluate_run", "evaluate_model", "load_run",
           "resolve_task", "dataset_for_root"]

log = logging.getLogger(__name__)

CheckpointName = Literal["last", "best"]


def resolve_task(cfg: ExperimentConfig, dataset: Any) -> str:
    """The concrete task: "correspondence" becomes vertex labelling or functional maps."""
    if cfg.task != "correspondence":
        return cfg.task
    return "vertex_labeling" if getattr(dataset, "num_classes", None) else "functional_maps"


def make_task(cfg: ExperimentConfig, dataset: Any) -> Task:
    """The task object for ``cfg`` (classes from ``dataset.num_classes``)."""
    name = resolve_task(cfg, dataset)
    opts = dict(cfg.task_options)
    if name == "classification":
        return ClassificationTask.from_options(dataset.num_classes, **opts)
    if name == "segmentation":
        return SegmentationTask.from_options(dataset.num_classes, **opts)
    if name == "vertex_labeling":
        return VertexLabelingTask.from_options(dataset.num_classes, **opts)
    return FunctionalMapTask.from_options(**opts)


def model_spec(cfg: ExperimentConfig, dataset: Any) -> ModelSpec:
    """``cfg.model`` with the output width and kind the task needs."""
    name = resolve_task(cfg, dataset)
    spec = cfg.model.to_dict()
    if name == "classification":
        spec.update(out_channels=dataset.num_classes, outputs="global")
    elif name in ("segmentation", "vertex_labeling"):
        spec.update(out_channels=dataset.num_classes, outputs="vertices")
    else:  # functional maps: learned features; keep the configured width (default 128 if unset)
        spec.update(outputs="vertices", out_channels=cfg.model.out_channels if cfg.model.out_channels > 1 else 128)
    return ModelSpec.from_dict(spec)


def _augment(cfg: ExperimentConfig):
    if cfg.model.in_features not in ("xyz", "hks+xyz") or cfg.augment.get("enabled", True) is False:
        return None
    from ..data.augment import Augment

    opts = {k: v for k, v in cfg.augment.items() if k != "enabled"}
    return Augment(**opts)


def load_datasets(cfg: ExperimentConfig, splits: Sequence[str], *, progress: bool = True) -> dict[str, Any]:
    """The datasets of ``cfg`` for each split name."""
    from ..data import load_dataset

    out = {}
    for split in splits:
        out[split] = load_dataset(cfg.dataset, root=cfg.root, split=split, settings=cfg.operators,
                                  cache_dir=cfg.cache_dir, jobs=cfg.jobs, progress=progress, **cfg.dataset_options)
    return out


def _update_metrics(run_dir: Path, key: str, value: dict[str, Any]) -> dict[str, Any]:
    """Add ``value`` under ``key`` in the run's metrics.json (atomically); returns it JSON-able."""
    from .records import to_jsonable, write_json

    path = run_dir / "metrics.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[key] = to_jsonable(value)
    write_json(path, data)
    return data[key]


def train_experiment(cfg: ExperimentConfig, run_dir: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """Load the data, train, evaluate the final model on ``cfg.eval_split``; returns the evaluation.

    The reported evaluation is that of the model after the last epoch (``last.pt``); the
    checkpoint with the best monitored metric is kept beside it but not used for the report,
    because it was selected on the evaluation split.
    """
    from .trainer import fit

    run_dir = Path(run_dir)
    if resume:
        saved = ExperimentConfig.load(run_dir)
        if saved.to_dict() | {"train": None} != cfg.to_dict() | {"train": None}:
            raise GeodesicNetsError(f"{run_dir} was trained with another experiment configuration; "
                                    "start a new run directory or resume with the same options")
    data = load_datasets(cfg, ["train", cfg.eval_split], progress=cfg.train.progress)
    train_set, eval_set = data["train"], data[cfg.eval_split]
    task = make_task(cfg, train_set)
    spec = model_spec(cfg, train_set)
    torch.manual_seed(cfg.train.seed)
    model = build_model(spec, augment=_augment(cfg))
    init = load_initial_weights(model, cfg.train.init_from) if cfg.train.init_from else None
    if _is_main():
        cfg.save(run_dir)
    experiment = {k: v for k, v in cfg.to_dict().items() if k != "train"}  # the loop records the train config
    record = {"experiment": experiment, "model_spec": spec.to_dict(), "task": task.name,
              "train_set": train_set.describe(), "eval_set": eval_set.describe()}
    if init is not None:
        record["initial_weights"] = init
    monitor = _monitoring_task(task)
    result = fit(model, monitor, train_set, config=cfg.train, run_dir=run_dir, val_set=eval_set, resume=resume,
                 record=record)
    if not _is_main():
        return {}
    t0 = time.perf_counter()
    if monitor is task and task.primary_metric in result.last_metrics:
        evaluation = dict(result.last_metrics)  # the loop already evaluated the final model with this task
    else:
        evaluation = task.evaluate(model, eval_set, device=run_device(cfg), dtype=cfg.train.torch_dtype,
                                   batch_size=1)
    evaluation = {"task": task.name, "checkpoint": "last", "split": cfg.eval_split, "seconds": time.perf_counter() - t0,
                  "train_seconds": sum(result.epoch_seconds), **evaluation}  # all epochs, resumed ones too
    return _update_metrics(run_dir, "evaluation", evaluation)


def _monitoring_task(task: Task) -> Task:
    """A cheaper copy of the task for the per-epoch evaluations (no geodesic error curves)."""
    if isinstance(task, VertexLabelingTask):
        return VertexLabelingTask(task.num_classes, geodesic_errors=False, radii=task.radii)
    return task


def _is_main() -> bool:
    """Rank 0 of a torchrun launch (read from the environment: the loop has closed its group)."""
    return int(os.environ.get("RANK", "0")) == 0


def load_run(run_dir: str | Path, *, checkpoint: CheckpointName = "last", device: str | None = None) -> Run:
    """Rebuild the model of a run directory from ``experiment.json`` and a checkpoint."""
    run_dir = Path(run_dir)
    cfg = ExperimentConfig.load(run_dir)
    cfg_path = run_dir / "config.json"
    record = json.loads(cfg_path.read_text()).get("record", {}) if cfg_path.is_file() else {}
    if "model_spec" not in record:
        raise GeodesicNetsError(f"{cfg_path} has no model_spec record; was the run finished by this version?")
    spec = ModelSpec.from_dict(record["model_spec"])
    dev = torch.device(device) if device else run_device(cfg)
    state = load_checkpoint(run_dir / "checkpoints" / f"{checkpoint}.pt", map_location=dev)
    model = build_model(spec)
    model.load_state_dict(state["model"])
    model.to(dev, cfg.train.torch_dtype).eval()
    class_names = record.get("train_set", {}).get("class_names")
    return Run(run_dir, cfg, spec, model, record.get("task", cfg.task), dev, cfg.train.torch_dtype, class_names)


def dataset_for_root(dataset: str, root: str | Path | None) -> str:
    """``dataset``, or ``"correspondence_folder"`` for a FAUST_r-trained model given another root.

    A model trained on FAUST_r can be evaluated on any dataset in the FAUST_r layout (SCAPE_r,
    SHREC'19_r, ...): when ``root`` has ``shapes/`` and ``corres/`` but not FAUST_r's file
    names, the generic loader reads it.
    """
    if dataset != "faust_r" or root is None:
        return dataset
    r = Path(root)
    for cand in (r / "faust_r", r):
        if (cand / "shapes" / "tr_reg_080.off").is_file():
            return dataset
    if (r / "shapes").is_dir() and (r / "corres").is_dir():
        log.info("%s is not FAUST_r: reading it as a correspondence folder", r)
        return "correspondence_folder"
    return dataset


def evaluate_model(run: Run, *, split: str | None = None, dataset: str | None = None, root: str | None = None,
                   task_options: dict[str, Any] | None = None, cache_dir: str | None = None,
                   progress: bool = False) -> dict[str, Any]:
    """Evaluate a loaded model (a run's or a pretrained one) on a dataset; returns the metrics.

    ``dataset`` and ``root`` default to the run's own; ``task_options`` override the run's;
    ``split`` defaults to the run's evaluation split (``"test"`` for a folder of shapes).
    """
    cfg = run.experiment
    if dataset is not None or root is not None:
        root = root if root is not None else cfg.root
        name = dataset or dataset_for_root(cfg.dataset, root)
        options = cfg.dataset_options if name == cfg.dataset else {}  # another loader: its own defaults
        cfg = cfg.replace(dataset=name, root=root, dataset_options=options)
    if cache_dir is not None:
        cfg = cfg.replace(cache_dir=cache_dir)
    if task_options:
        cfg = cfg.replace(task_options={**cfg.task_options, **task_options})
    split = split or cfg.eval_split
    data = load_datasets(cfg, [split], progress=progress)[split]
    if run.task_name == "functional_maps":
        task = FunctionalMapTask.from_options(**{"progress": progress, **cfg.task_options})
    else:
        task = make_task(cfg, data)
    t0 = time.perf_counter()
    result = task.evaluate(run.model, data, device=run.device, dtype=run.dtype)
    return {"task": task.name, "split": split, "dataset": cfg.dataset, "task_options": cfg.task_options,
            "seconds": time.perf_counter() - t0, **result}


def evaluate_run(run_dir: str | Path, *, checkpoint: CheckpointName = "last", split: str | None = None,
                 dataset: str | None = None, root: str | None = None,
                 task_options: dict[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluate a trained run (optionally on another split or dataset, or with other task options).

    The result goes into the run's metrics.json: under ``"evaluation"`` for the run's own
    evaluation split, dataset and task options, otherwise under a key naming what differs.
    """
    run = load_run(run_dir, checkpoint=checkpoint)
    result = {"checkpoint": checkpoint, **evaluate_model(run, split=split, dataset=dataset, root=root,
                                                          task_options=task_options, progress=progress)}
    key = "evaluation"
    if result["split"] != run.experiment.eval_split or result["dataset"] != run.experiment.dataset:
        key += f"_{result['dataset']}_{result['split']}"
    if task_options:
        key += "_" + "_".join(f"{k}={v}" for k, v in sorted(task_options.items()))
    return _update_metrics(Path(run_dir), key, result)
