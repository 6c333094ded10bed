"""Training checkpoints: atomic files, validated loading, and the random-generator states.

A checkpoint is a dict saved with ``torch.save`` and loaded with ``weights_only=True`` (nothing
but tensors and plain Python containers, so loading never runs code from the file). It is
written to a temporary file in the same directory, flushed and fsynced, then renamed over the
final name (``os.replace``): a process killed mid-write leaves the previous file intact.

What :func:`geodesic_nets.tasks.fit` stores (``checkpoints/last.pt`` and ``best.pt``)::

    format, format_version   marker of this file format
    model                    state_dict of the unwrapped model (never the DDP wrapper)
    optimizer                AdamW state_dict
    scheduler                {"schedule": str, "step": int} (the schedule is a function of the step)
    epoch                    number of completed epochs
    global_step              number of completed optimizer steps
    best_metric, best_epoch  best validation value of the primary metric so far (None: no validation)
    history                  list of per-epoch records (see ``fit``)
    rng                      list, one entry per rank, of capture_rng_state() dicts
    world_size               number of processes that trained
    config                   TrainConfig.to_dict()
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
import torch

from ..atomic import atomic_write as _atomic_write
from ..errors import ArgumentError, GeodesicNetsError

__all__ = [
    "CheckpointError",
    "CHECKPOINT_FORMAT_VERSION",
    "atomic_write",
    "save_checkpoint",
    "load_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
]

#: Bump when the layout of a checkpoint changes incompatibly.
CHECKPOINT_FORMAT_VERSION = 1
_FORMAT = "geodesic_nets.checkpoint"


class CheckpointError(GeodesicNetsError):
    """A checkpoint file is missing, truncated, foreign or incompatible with the run."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{path}: {message}" if path is not None else message)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace ``path`` atomically, creating its folder first.

    ``write(fh)`` writes the content to a binary file handle; see
    :func:`geodesic_nets.atomic.atomic_write` (the package's one atomic writer): when
    ``write`` or anything before the rename raises, ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, write)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Save ``state`` (tensors and plain containers) to ``path`` atomically.

    The format marker and version are added to a copy of ``state``.
    """
    if not isinstance(state, dict):
        raise ArgumentError(f"state must be a dict, got {type(state).__name__}")
    payload = {**state, "format": _FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION}
    atomic_write(path, lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : path-like
    map_location : str, torch.device or callable
        Passed to ``torch.load`` (default: everything on the CPU).

    Raises
    ------
    CheckpointError
        The file is missing, truncated, not a checkpoint, or of another format version.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError("no such checkpoint file", path=p)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ... on bad files
        raise CheckpointError(f"cannot read checkpoint (truncated or not a checkpoint): {exc}", path=p) from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError("not a geodesic_nets checkpoint", path=p)
    if state.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format version {state.get('format_version')!r}, this version of "
            f"geodesic_nets reads version {CHECKPOINT_FORMAT_VERSION}",
            path=p,
        )
    return state


def capture_rng_state() -> dict[str, Any]:
    """States of python's, numpy's and torch's global generators (CUDA ones when initialized).

    Returned as tensors and plain Python values (loadable with ``weights_only=True``).
    """
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": None,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only when the device count matches)."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
