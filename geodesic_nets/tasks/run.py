"""A trained model ready to use: :class:`Run`, what loading a run directory or a pretrained file gives.

It keeps what is needed to use the model the way it was trained (the experiment: operators, input
features, task options) and answers the questions users ask of it: its raw outputs, its learned
per-vertex features, a point map between two shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from ..errors import GeodesicNetsError
from .experiment import ExperimentConfig
from .functional_maps import FunctionalMapTask
from .models import ModelSpec, SurfaceModel
from .one_to_one import one_to_one_labels
from .vertex_labeling import VertexLabelingTask

__all__ = ["Run", "run_device"]


def run_device(cfg: ExperimentConfig) -> torch.device:
    """The device a run's model goes to: ``cfg.train.device``, "auto" meaning CUDA when available."""
    d = cfg.train.device
    if d == "auto":
        d = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(d)


@dataclass
class Run:
    """A trained model, loaded from a run directory (:func:`~.runner.load_run`) or a pretrained file."""

    run_dir: Path
    experiment: ExperimentConfig
    spec: ModelSpec
    model: SurfaceModel
    task_name: str
    device: torch.device
    dtype: torch.dtype
    class_names: list[str] | None = None

    def with_task_options(self, **options: Any) -> "Run":
        """The same model with these task options overriding the run's (e.g. ``decode="one_to_one"``)."""
        return replace(self, experiment=self.experiment.replace(task_options={**self.experiment.task_options, **options}))

    def samples(self, files: Sequence[str | Path]) -> list:
        """Shape samples of ``files`` prepared like the training data (normalized, same operators)."""
        from ..data import ShapeSample, prepare_samples

        prepared = prepare_samples(list(files), settings=self.experiment.operators,
                                   cache_dir=self.experiment.cache_dir, progress=False, dtype=self.dtype)
        return [ShapeSample(Path(f).stem, p.operators, path=str(f), extra=dict(p.info)) for f, p in zip(files, prepared)]

    def outputs(self, sample) -> torch.Tensor:
        """The model's output for one sample (CPU, float64)."""
        from ..batch import MeshBatch

        batch = MeshBatch.from_operators([sample.operators], device=self.device, dtype=self.dtype)
        self.model.eval()
        with torch.no_grad():
            return self.model(batch).double().cpu()

    def vertex_features(self, sample) -> torch.Tensor:
        """Learned per-vertex features of one sample, shape (V, C), CPU float64."""
        from ..batch import MeshBatch

        batch = MeshBatch.from_operators([sample.operators], device=self.device, dtype=self.dtype)
        self.model.eval()
        return self.model.vertex_features(batch).double().cpu()

    def template_labels(self, sample) -> torch.Tensor:
        """A vertex-labelling model's template vertex for every vertex of one sample, (V,) int64.

        Each vertex's argmax, or with the task option ``decode="one_to_one"`` the most likely
        labelling that gives no template vertex to two vertices (:func:`~.one_to_one.one_to_one_labels`).
        """
        if self.task_name != VertexLabelingTask.name:
            raise GeodesicNetsError(f"a {self.task_name} model does not label template vertices")
        logits = self.outputs(sample)
        if self.experiment.task_options.get("decode", "argmax") == "one_to_one":
            return one_to_one_labels(torch.log_softmax(logits, dim=1))
        return logits.argmax(1)

    def point_map(self, source, target) -> torch.Tensor:
        """For every vertex of ``target``, a vertex of ``source`` (V_target,) int64."""
        if self.task_name == "functional_maps":
            task = FunctionalMapTask.from_options(**self.experiment.task_options)
            maps = task.maps(self.model, [source, target], [(0, 1)], device=self.device, dtype=self.dtype)
            return maps[(0, 1)]
        if self.task_name == VertexLabelingTask.name:  # "correspondence": labels are template vertices
            # both shapes labelled with template vertices: match target vertices to source vertices of the same label
            ls, lt = self.template_labels(source), self.template_labels(target)
            first = torch.full((int(max(ls.max(), lt.max())) + 1,), -1, dtype=torch.int64)
            first[ls.flip(0)] = torch.arange(len(ls) - 1, -1, -1)
            out = first[lt]
            missing = out < 0
            if missing.any():  # labels the source never predicts: nearest in the learned features
                from .functional_maps import nearest_neighbor_map

                nn_map = nearest_neighbor_map(self.vertex_features(source), self.vertex_features(target))
                out[missing] = nn_map[missing]
            return out
        raise GeodesicNetsError(f"a {self.task_name} model does not produce correspondences")
