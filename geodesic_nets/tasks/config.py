"""Settings of a training run (:class:`TrainConfig`) and the learning-rate schedule they define.

The schedule is a pure function of the optimizer step (:meth:`TrainConfig.learning_rate`), so a
checkpoint only needs the step counter to restore it exactly.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from ..errors import ArgumentError, GeodesicNetsError

__all__ = ["TrainConfig", "Schedule", "TrainDtype", "load_toml", "RESULT_NEUTRAL_FIELDS"]

Schedule = Literal["cosine", "step", "constant"]
TrainDtype = Literal["float32", "float64"]

#: Fields that cannot change the trained parameters; a resumed run may change them (and ``epochs``).
RESULT_NEUTRAL_FIELDS = frozenset({"epochs", "progress", "tensorboard", "log_every"})

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`geodesic_nets.tasks.fit` trains.

    Parameters
    ----------
    epochs : int
        Number of passes over the training set (>= 1).
    batch_size : int
        Meshes per optimizer step *per process*; with R processes the global batch is R * batch_size.
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW's decoupled weight decay, applied to every parameter.
    schedule : {"cosine", "step", "constant"}
        After the warm-up, per optimizer step: cosine decay to 0 at the last step, a factor
        ``step_gamma`` every ``step_epochs`` epochs, or constant.
    step_epochs : int
        Period of the "step" schedule, in epochs.
    step_gamma : float
        Factor of the "step" schedule, in (0, 1].
    warmup_epochs : int
        Linear warm-up from ``lr / warmup_steps`` to ``lr`` over this many epochs (0: none).
    grad_clip : float or None
        Clip the global gradient norm to this value (None: no clipping).
    seed : int
        Seeds python's, numpy's and torch's global generators (plus the rank, see ``fit``) and
        the per-epoch shuffling of the training set.
    eval_every : int
        Evaluate on the validation set every this many epochs (and after the last epoch).
    device : str
        "auto" (CUDA when available, else the CPU), "cpu", "cuda" or "cuda:N". Under torchrun,
        "auto" and "cuda" mean ``cuda:LOCAL_RANK``.
    dtype : {"float32", "float64"}
        Floating dtype of the model and of the operator tensors.
    num_workers : int
        DataLoader worker processes (0: load in the training process).
    tensorboard : bool
        Also write TensorBoard scalars (only when the ``tensorboard`` package is importable).
    progress : bool
        Show a progress bar (tqdm) on the main process.
    log_every : int
        Log the running training loss every this many steps (0: once per epoch only).
    find_unused_parameters : bool
        Passed to ``DistributedDataParallel`` (needed when some parameters get no gradient in a
        step, e.g. a head the task does not use).
    init_from : str or None
        Start from trained weights instead of a random initialization (fine-tuning): a run
        directory (its last checkpoint), a checkpoint or pretrained ``.pt`` file, or a shipped
        pretrained model's name (see :mod:`geodesic_nets.tasks.initial_weights`). The optimizer and
        the schedule start afresh.
    """

    epochs: int = 50
    batch_size: int = 1
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: Schedule = "cosine"
    step_epochs: int = 30
    step_gamma: float = 0.5
    warmup_epochs: int = 0
    grad_clip: float | None = None
    seed: int = 0
    eval_every: int = 1
    device: str = "auto"
    dtype: TrainDtype = "float32"
    num_workers: int = 0
    tensorboard: bool = True
    progress: bool = True
    log_every: int = 0
    find_unused_parameters: bool = False
    init_from: str | None = None

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 1), ("step_epochs", 1), ("eval_every", 1)):
            v = getattr(self, name)
            if not _is_int(v) or v < low:
                raise ArgumentError(f"{name} must be an int >= {low}, got {v!r}")
        for name in ("warmup_epochs", "num_workers", "log_every", "seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise ArgumentError(f"{name} must be a non-negative int, got {v!r}")
        if not _is_real(self.lr) or self.lr <= 0:
            raise ArgumentError(f"lr must be a positive finite number, got {self.lr!r}")
        if not _is_real(self.weight_decay) or self.weight_decay < 0:
            raise ArgumentError(f"weight_decay must be a non-negative finite number, got {self.weight_decay!r}")
        if not _is_real(self.step_gamma) or not 0 < self.step_gamma <= 1:
            raise ArgumentError(f"step_gamma must be in (0, 1], got {self.step_gamma!r}")
        if self.grad_clip is not None and (not _is_real(self.grad_clip) or self.grad_clip <= 0):
            raise ArgumentError(f"grad_clip must be None or a positive finite number, got {self.grad_clip!r}")
        if self.schedule not in get_args(Schedule):
            raise ArgumentError(f"schedule must be one of {get_args(Schedule)}, got {self.schedule!r}")
        if self.dtype not in get_args(TrainDtype):
            raise ArgumentError(f"dtype must be one of {get_args(TrainDtype)}, got {self.dtype!r}")
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ArgumentError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0 and self.schedule == "cosine":
            raise ArgumentError(
                f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs}) "
                "with the cosine schedule"
            )
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            raise ArgumentError(f"init_from must be None or a non-empty path or name, got {self.init_from!r}")
        for name in ("tensorboard", "progress", "find_unused_parameters"):
            if not isinstance(getattr(self, name), bool):
                raise ArgumentError(f"{name} must be a bool, got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not pass silently)."""
        if not isinstance(d, dict):
            raise ArgumentError(f"expected a dict of TrainConfig fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ArgumentError(f"unknown TrainConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32

    def differences(self, other: "TrainConfig") -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``{name: (self's, other's)}``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}

    # ------------------------------------------------------------------ schedule
    def learning_rate(self, step: int, steps_per_epoch: int) -> float:
        """Learning rate of optimizer step ``step`` (0-based).

        Warm-up: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_epochs *
        steps_per_epoch`` steps. Then "constant": ``lr``; "step": ``lr * step_gamma ** (epoch //
        step_epochs)`` with ``epoch = step // steps_per_epoch``; "cosine": ``lr * (1 + cos(pi *
        t)) / 2`` with ``t`` going from 0 at the end of the warm-up to 1 at step
        ``epochs * steps_per_epoch`` (so the last step's rate is small but not zero).
        """
        if steps_per_epoch < 1:
            raise ArgumentError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        warmup = self.warmup_epochs * steps_per_epoch
        if step < warmup:
            return self.lr * (step + 1) / warmup
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "step":
            return self.lr * self.step_gamma ** ((step // steps_per_epoch) // self.step_epochs)
        total = self.epochs * steps_per_epoch
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file into a dict.

    Raises
    ------
    GeodesicNetsError
        The file is missing, unreadable or not valid TOML (the message names the file).
    """
    import tomllib

    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise GeodesicNetsError(f"{p}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise GeodesicNetsError(f"{p}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GeodesicNetsError(f"{p}: cannot read configuration file: {exc}") from exc
