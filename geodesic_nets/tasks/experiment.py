"""An experiment: dataset + operators + model + task + training configuration, as one record.

:class:`ExperimentConfig` is what ``geodesic-nets train`` builds from its options and an
optional TOML file, and what a run directory keeps (``experiment.json``) so that ``evaluate``,
``predict`` and ``show`` can rebuild the datasets and the model exactly.

TOML layout (every section optional except what the command line does not give)::

    task = "classification"          # classification | segmentation | correspondence
    [dataset]                         # name, root, and the loader's options
    name = "shrec11"
    root = "/data/shrec11"
    n_train = 10
    [model]                           # ModelSpec fields (out_channels and outputs are derived)
    name = "diffusion"
    in_features = "xyz"
    width = 128
    [model.kwargs]
    dropout = 0.5
    [operators]                       # OperatorSettings
    k_eig = 128
    [train]                           # TrainConfig
    epochs = 200
    [task_options]                    # options of the task class
    label_smoothing = 0.2
    [augment]                         # coordinate augmentation, for xyz inputs
    rotate = "so3"
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import ArgumentError, GeodesicNetsError
from ..settings import AnisotropicSettings, OperatorSettings
from .config import TrainConfig, load_toml
from .models import ModelSpec, needs_patches

__all__ = ["TaskName", "ExperimentConfig", "EXPERIMENT_FILE"]

TaskName = Literal["classification", "segmentation", "correspondence", "vertex_labeling", "functional_maps"]
EXPERIMENT_FILE = "experiment.json"


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines a training run.

    Parameters
    ----------
    task : {"classification", "segmentation", "correspondence", "vertex_labeling", "functional_maps"}
        ``"correspondence"`` resolves to vertex labelling when the dataset has template labels
        (FAUST) and to functional maps otherwise (FAUST_r).
    dataset : str
        A name of :data:`geodesic_nets.data.DATASETS`.
    root : str or None
        Dataset root directory (None for the synthetic datasets).
    dataset_options : dict
        Keyword options of the dataset loader (e.g. ``n_train``, ``seed``).
    model : ModelSpec
        ``out_channels`` and ``outputs`` are filled in from the dataset and task.
    operators : OperatorSettings
    train : TrainConfig
    task_options : dict
        Keyword options of the task class.
    augment : dict
        Options of :class:`geodesic_nets.data.augment.Augment` for ``xyz`` inputs.
    cache_dir : str or None
        Operator cache directory.
    jobs : int
        Processes for the operator precomputation.
    eval_split : str
        Split evaluated during and after training.
    """

    task: TaskName = "classification"
    dataset: str = "synthetic_shapes"
    root: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    model: ModelSpec = field(default_factory=ModelSpec)
    operators: OperatorSettings = field(default_factory=OperatorSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    task_options: dict[str, Any] = field(default_factory=dict)
    augment: dict[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None
    jobs: int = 1
    eval_split: str = "test"

    def __post_init__(self) -> None:
        if self.task not in get_args(TaskName):
            raise ArgumentError(f"task must be one of {get_args(TaskName)}, got {self.task!r}")
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise ArgumentError(f"jobs must be a positive int, got {self.jobs!r}")
        if needs_patches(self.model.name) and self.operators.patch_size == 0:
            object.__setattr__(self, "operators", dataclasses.replace(self.operators, patch_size=16))
        spectral = self.model.kwargs.get("layer_kwargs", {}).get("spectral") if self.model.name == "acnn" else None
        if spectral is not None:  # the spectral ACNN's kernels are computed with the operators
            spectral = AnisotropicSettings(**spectral) if isinstance(spectral, dict) else spectral
            if self.operators.anisotropic is None:
                object.__setattr__(self, "operators", dataclasses.replace(self.operators, anisotropic=spectral))
            elif self.operators.anisotropic != spectral:
                raise ArgumentError(
                    f"model.kwargs.layer_kwargs.spectral ({spectral}) differs from operators.anisotropic "
                    f"({self.operators.anisotropic}): give it once, in the model"
                )

    # ------------------------------------------------------------------ (de)serialization
    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "dataset": {"name": self.dataset, "root": self.root, **self.dataset_options},
            "model": self.model.to_dict(),
            "operators": dataclasses.asdict(self.operators),
            "train": self.train.to_dict(),
            "task_options": dict(self.task_options),
            "augment": dict(self.augment),
            "cache_dir": self.cache_dir,
            "jobs": self.jobs,
            "eval_split": self.eval_split,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ExperimentConfig":
        """Inverse of :meth:`to_dict`; also reads the TOML layout (sections may be missing)."""
        known = {"task", "dataset", "model", "operators", "train", "task_options", "augment", "cache_dir", "jobs",
                 "eval_split"}
        unknown = set(d) - known
        if unknown:
            raise ArgumentError(f"unknown experiment keys {sorted(unknown)}; expected some of {sorted(known)}")
        ds = dict(d.get("dataset", {}))
        try:
            return cls(
                task=d.get("task", "classification"),
                dataset=ds.pop("name", "synthetic_shapes"),
                root=ds.pop("root", None),
                dataset_options=ds,
                model=ModelSpec.from_dict(d.get("model", {})),
                operators=OperatorSettings(**d.get("operators", {})),
                train=TrainConfig.from_dict(d.get("train", {})),
                task_options=dict(d.get("task_options", {})),
                augment=dict(d.get("augment", {})),
                cache_dir=d.get("cache_dir"),
                jobs=d.get("jobs", 1),
                eval_split=d.get("eval_split", "test"),
            )
        except TypeError as exc:  # a bad value (ArgumentError) or an unknown option inside a section
            raise ArgumentError(f"invalid experiment configuration: {exc}") from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> "ExperimentConfig":
        return cls.from_dict(load_toml(path))

    def save(self, run_dir: str | Path) -> Path:
        """Write ``experiment.json`` into ``run_dir`` atomically."""
        from .records import write_json

        path = Path(run_dir) / EXPERIMENT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> "ExperimentConfig":
        path = Path(run_dir) / EXPERIMENT_FILE
        if not path.is_file():
            raise GeodesicNetsError(f"{run_dir} is not a run directory: {EXPERIMENT_FILE} is missing")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise GeodesicNetsError(f"{path}: not valid JSON ({exc})") from exc

    def replace(self, **changes: Any) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)
