"""The interface between the training loop and a task (classification, segmentation, ...)."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from ..data.sample import SampleBatch
from ..errors import ArgumentError

__all__ = ["Task", "check_class_options"]


def check_class_options(num_classes: int, label_smoothing: float) -> None:
    """Refuse fewer than two classes or a label smoothing outside [0, 1) (``ArgumentError``)."""
    if num_classes < 2:
        raise ArgumentError(f"num_classes must be >= 2, got {num_classes}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ArgumentError(f"label_smoothing must be in [0, 1), got {label_smoothing}")


class Task(ABC):
    """What the training loop needs to know about a task.

    Attributes
    ----------
    name : str
        "classification", "segmentation", "correspondence" or "functional_maps".
    primary_metric : str
        Key of :meth:`evaluate`'s result that selects the best checkpoint.
    higher_is_better : bool
        Direction of the primary metric.
    """

    name: str = ""
    primary_metric: str = ""
    higher_is_better: bool = True

    @classmethod
    def from_options(cls, *args: Any, **options: Any) -> "Task":
        """``cls(*args, **options)``, refusing an option the task does not take (``ArgumentError``
        naming it and the accepted ones) instead of Python's ``TypeError``: task options come from
        users (``--task-option``, TOML files, a run's recorded options)."""
        params = inspect.signature(cls.__init__).parameters
        accepted = sorted(n for n, p in params.items() if p.kind is p.KEYWORD_ONLY)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ArgumentError(f"the {cls.name} task has no option {', '.join(map(repr, unknown))}; "
                                f"its options: {', '.join(accepted) or 'none'}")
        return cls(*args, **options)

    @abstractmethod
    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss of a batch and scalar statistics to log.

        The loss is the mean over the B meshes of each mesh's loss, so that averaging the
        gradients of R processes with batches of B (DistributedDataParallel) equals one process
        with a batch of R * B. The model is in training mode; augmentations are drawn from
        torch's global generator (the loop seeds and checkpoints it).
        """

    @abstractmethod
    def evaluate(
        self,
        model: nn.Module,
        dataset: Any,
        *,
        device: torch.device,
        dtype: torch.dtype,
        batch_size: int = 1,
    ) -> dict[str, Any]:
        """Metrics of ``model`` (in eval mode, no gradients) on ``dataset``.

        Returns a JSON-serializable dict containing at least ``primary_metric`` (a float);
        other values may be floats, lists or nested dicts (e.g. a confusion matrix).
        """

    def better(self, new: float, old: float | None) -> bool:
        """Whether ``new`` improves on ``old`` (None: nothing yet)."""
        if old is None:
            return True
        return new > old if self.higher_is_better else new < old
