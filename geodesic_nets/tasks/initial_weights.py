"""Starting a training from trained weights (fine-tuning): ``TrainConfig.init_from``.

The source is a run directory (its ``checkpoints/last.pt``), a checkpoint or pretrained ``.pt``
file, or the name of a pretrained model shipped with the package. Only the model's weights are
taken: the optimizer, the schedule and the random generators start afresh, as the new run's
configuration says. The weights must fit the model the new experiment builds exactly (names and
shapes): a network with another output size is refused, not partly loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch.nn as nn

from ..errors import GeodesicNetsError
from .checkpoint import CheckpointError, load_checkpoint
from .pretrained import PRETRAINED_DIR, read_pretrained, weights_digest

__all__ = ["initial_weights_path", "load_initial_weights"]


def initial_weights_path(source: str | os.PathLike) -> Path:
    """The file ``source`` names: a run directory's last checkpoint, a ``.pt`` file, or a shipped model."""
    p = Path(source)
    if p.is_dir():
        last = p / "checkpoints" / "last.pt"
        if not last.is_file():
            raise GeodesicNetsError(f"init_from: {p} has no checkpoints/last.pt (is the run started?)")
        return last
    if p.is_file():
        return p
    shipped = PRETRAINED_DIR / f"{source}.pt"
    if p.suffix != ".pt" and len(p.parts) == 1 and shipped.is_file():
        return shipped
    raise GeodesicNetsError(f"init_from: {str(source)!r} is no run directory, no .pt file and no shipped "
                            "pretrained model")


def load_initial_weights(model: nn.Module, source: str | os.PathLike) -> dict[str, Any]:
    """Load the weights of ``source`` into ``model`` (strictly); returns a record of what was loaded.

    Returns
    -------
    dict
        ``{"source": str, "path": str, "sha256": str}``: what was asked for, the file read, and the
        digest of its weights (:func:`~.pretrained.weights_digest`), for the run's record.

    Raises
    ------
    GeodesicNetsError
        ``source`` names nothing.
    CheckpointError
        The file is unreadable or damaged, holds no model weights, or its weights do not fit ``model``.
    """
    path = initial_weights_path(source)
    state = load_checkpoint(path)
    if "pretrained_version" in state:
        state = read_pretrained(path)  # its version and the digest of its weights checked
    weights = state.get("model")
    if not isinstance(weights, dict) or not weights:
        raise CheckpointError("holds no model weights to start a training from", path=path)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, shape mismatches
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"its weights do not fit the model this experiment builds ({first})",
                              path=path) from exc
    return {"source": str(source), "path": str(path), "sha256": weights_digest(weights)}
