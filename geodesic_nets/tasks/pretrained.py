"""Pretrained models shipped with the package, usable by name.

A pretrained model is one checkpoint file, ``geodesic_nets/pretrained/NAME.pt``, written by
:func:`export_pretrained` from a finished run directory. Besides the weights it holds what is
needed to use them the way they were trained: the experiment configuration (operators, input
features, task options), the model specification, and a record of how it was trained and what
it measured. :func:`load_pretrained` rebuilds the model and returns a
:class:`~geodesic_nets.tasks.runner.Run`, like :func:`~geodesic_nets.tasks.runner.load_run`.

Loading checks, in order: the checkpoint format (:func:`~geodesic_nets.tasks.checkpoint.load_checkpoint`),
the pretrained-file version, a SHA-256 digest of the weights (a damaged or edited file is
refused), and that the weights fit the model this version of the package builds from the
stored specification (names and shapes, ``strict`` loading): an incompatible file gives a
:class:`~geodesic_nets.tasks.checkpoint.CheckpointError`, never a model with silently
missing weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import GeodesicNetsError
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .experiment import ExperimentConfig
from .models import ModelSpec, build_model
from .run import Run, run_device

__all__ = ["PRETRAINED_DIR", "PRETRAINED_VERSION", "WEIGHT_DTYPES", "available_pretrained", "pretrained_path",
           "cast_weights", "export_pretrained", "load_pretrained", "read_pretrained", "weights_digest"]

#: where the package's pretrained files live
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"

#: bump when the layout of a pretrained file changes incompatibly
PRETRAINED_VERSION = 1


def available_pretrained() -> list[str]:
    """Names of the pretrained models shipped with the package."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


def pretrained_path(name: str | os.PathLike) -> Path:
    """The file of a pretrained model: a shipped name, or a path to such a file."""
    p = Path(name)
    if p.suffix == ".pt" and p.is_file():
        return p
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.is_file():
        known = ", ".join(available_pretrained()) or "none"
        raise GeodesicNetsError(f"no pretrained model named {str(name)!r}; shipped models: {known}")
    return path


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: every entry's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


#: the floating-point types a pretrained file may store its weights in
WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def cast_weights(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """A state dict on the CPU with its floating tensors in ``dtype``, shared tensors kept shared.

    A module reachable under two names (a tied or re-registered layer) appears twice in a state dict
    with one storage, which ``torch.save`` writes once; casting each entry separately would write it
    twice. Entries that view the same memory the same way are cast once and share the result.
    """
    out: dict[str, torch.Tensor] = {}
    cast: dict[tuple, torch.Tensor] = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if not v.is_floating_point():
            out[k] = v
            continue
        view = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), v.stride(), v.dtype)
        if view not in cast:
            cast[view] = v.to(dtype)
        out[k] = cast[view]
    return out


def export_pretrained(run_dir: str | os.PathLike, dest: str | os.PathLike, *, checkpoint: str = "last",
                      description: str = "", record: dict[str, Any] | None = None,
                      weight_dtype: str = "float32") -> Path:
    """Write the model of a finished run as a pretrained file ``dest`` (atomically).

    Parameters
    ----------
    run_dir : path
        A run directory of :func:`~geodesic_nets.tasks.runner.train_experiment`.
    dest : path
        The ``.pt`` file to write (e.g. ``geodesic_nets/pretrained/faust_r.pt``).
    checkpoint : {"last", "best"}
    description : str
        One line shown to users.
    record : dict, optional
        JSON-able facts to keep with it: the training command, seed, commit, measured figures.
    weight_dtype : {"float32", "float16"}
        How the floating-point weights are stored. ``"float16"`` halves the file (for a model with a
        large output layer); loading casts them back to the model's dtype, so the model computes in
        its own precision with weights rounded to 11 significant bits. A weight outside float16's
        range is refused rather than stored as infinity.

    The run's data paths (root, cache) are cleared.
    """
    from ..version import __version__
    from .records import to_jsonable

    run_dir = Path(run_dir)
    cfg = ExperimentConfig.load(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    spec = config.get("record", {}).get("model_spec")
    if spec is None:
        raise GeodesicNetsError(f"{run_dir / 'config.json'} has no model_spec record")
    if weight_dtype not in WEIGHT_DTYPES:
        raise GeodesicNetsError(f"weight_dtype must be one of {sorted(WEIGHT_DTYPES)}, not {weight_dtype!r}")
    state = load_checkpoint(run_dir / "checkpoints" / f"{checkpoint}.pt")
    weights = cast_weights(state["model"], WEIGHT_DTYPES[weight_dtype])
    for k, v in weights.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise GeodesicNetsError(f"weight {k!r} of {run_dir} is not finite in {weight_dtype}")
    experiment = cfg.replace(root=None, cache_dir=None, jobs=1).to_dict()
    payload = {
        "pretrained_version": PRETRAINED_VERSION,
        "name": Path(dest).stem,
        "description": description,
        "package_version": __version__,
        "task": config.get("record", {}).get("task", cfg.task),
        "class_names": config.get("record", {}).get("train_set", {}).get("class_names"),
        "experiment": experiment,
        "model_spec": spec,
        "record": to_jsonable(record or {}),
        "weight_dtype": weight_dtype,
        "model": weights,
        "weights_sha256": weights_digest(weights),
    }
    save_checkpoint(dest, payload)
    return Path(dest)


def read_pretrained(path: str | os.PathLike) -> dict[str, Any]:
    """The contents of a pretrained file, checked: its format and version, its keys, the weights' digest.

    Raises
    ------
    CheckpointError
        Unreadable, damaged (digest), or not a pretrained file of this version.
    """
    state = load_checkpoint(path)
    version = state.get("pretrained_version")
    if version != PRETRAINED_VERSION:
        raise CheckpointError(f"pretrained file version {version!r}; this version of geodesic_nets reads "
                              f"version {PRETRAINED_VERSION}", path=path)
    for key in ("experiment", "model_spec", "model", "weights_sha256", "task"):
        if key not in state:
            raise CheckpointError(f"not a pretrained model file (no {key!r})", path=path)
    if weights_digest(state["model"]) != state["weights_sha256"]:
        raise CheckpointError("the weights do not match their recorded SHA-256: the file is damaged or edited",
                              path=path)
    return state


def load_pretrained(name: str | os.PathLike, *, device: str | None = None) -> Run:
    """A shipped pretrained model (by name) or a pretrained file (by path), as a ``Run``.

    Raises
    ------
    GeodesicNetsError
        Unknown name.
    CheckpointError
        Unreadable, damaged, or written for an incompatible version of the package.
    """
    path = pretrained_path(name)
    state = read_pretrained(path)
    try:
        cfg = ExperimentConfig.from_dict(state["experiment"])
        spec = ModelSpec.from_dict(state["model_spec"])
        model = build_model(spec)
    except (TypeError, ValueError, KeyError, GeodesicNetsError) as exc:
        raise CheckpointError(f"its configuration is not understood by this version of geodesic_nets: {exc}",
                              path=path) from exc
    try:
        # stored float16 weights are cast to the model's parameters' dtype as they are copied in
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, shape mismatches
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"the weights do not fit the model this version of geodesic_nets builds "
                              f"from its specification ({first})", path=path) from exc
    dev = torch.device(device) if device else run_device(cfg)
    model.to(dev, cfg.train.torch_dtype).eval()
    return Run(path, cfg, spec, model, state["task"], dev, cfg.train.torch_dtype, state.get("class_names"))
