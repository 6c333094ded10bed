"""Predictions of a trained run for mesh files, written next to each other in an output folder.

- classification: ``predictions.json`` (file -> class, probabilities)
- segmentation: ``NAME.vertex_labels.txt`` (one label per vertex, in the file's vertex order) and
  ``NAME.face_labels.txt``
- correspondence: for each target file after the first (the source),
  ``TARGET__to__SOURCE.map.txt``: for every vertex of the target, the index of a source vertex.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import GeodesicNetsError
from .runner import Run, load_run

__all__ = ["predict_files"]


def _write_ints(path: Path, values) -> Path:
    from ..io._files import atomic_write_bytes

    atomic_write_bytes(path, ("\n".join(str(int(v)) for v in np.asarray(values)) + "\n").encode())
    return path


def predict_files(run_dir: "str | Path | Run", files: Sequence[str | Path], *, out_dir: str | Path | None = None,
                  checkpoint: str = "last", progress: bool = False,
                  task_options: dict | None = None) -> list[Path]:
    """Run the model of ``run_dir`` (a run directory or a loaded :class:`Run`, e.g. a pretrained
    model) on ``files``; returns the paths written (default folder: RUN_DIR/predictions).
    ``task_options`` override the run's (e.g. ``{"decode": "one_to_one"}`` for a vertex-labelling
    model's point maps)."""
    from tqdm.auto import tqdm

    from ..io._files import atomic_write_bytes

    if isinstance(run_dir, Run):
        run = run_dir
        if out_dir is None:
            raise GeodesicNetsError("give an output directory for the predictions of a pretrained model")
    else:
        run = load_run(run_dir, checkpoint=checkpoint)
    if task_options:
        run = run.with_task_options(**task_options)
    out = Path(out_dir) if out_dir else Path(run_dir) / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    samples = run.samples(files)
    written: list[Path] = []
    if run.task_name == "classification":
        names = run.class_names
        result = {}
        for f, s in zip(files, samples):
            prob = torch.softmax(run.outputs(s)[0], 0)
            k = int(prob.argmax())
            result[str(f)] = {"class": names[k] if names else k, "index": k, "probabilities": prob.tolist()}
        path = out / "predictions.json"
        atomic_write_bytes(path, json.dumps(result, indent=2).encode())
        return [path]
    if run.task_name == "segmentation":
        for s in samples:
            logits = run.outputs(s)
            written.append(_write_ints(out / f"{s.name}.vertex_labels.txt", logits.argmax(1)))
            if s.operators.faces is not None:
                face = logits[s.operators.faces].mean(1).argmax(1)
                written.append(_write_ints(out / f"{s.name}.face_labels.txt", face))
        return written
    if len(samples) < 2:
        raise GeodesicNetsError("correspondence prediction needs a source file and at least one target file")
    source = samples[0]
    for target in tqdm(samples[1:], disable=not progress, unit="map", desc="maps", leave=False):
        p2p = run.point_map(source, target)
        written.append(_write_ints(out / f"{target.name}__to__{source.name}.map.txt", p2p))
    return written

