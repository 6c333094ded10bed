"""ShapeDataset: a list of :class:`ShapeSample` with what a task and a results record need."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence, get_args

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ArgumentError, DatasetError, IndexOutOfRangeError
from ..settings import OperatorSettings
from .sample import ShapeSample

__all__ = ["TaskName", "ShapeDataset", "resolve_root", "require_files"]

TaskName = Literal["classification", "segmentation", "correspondence"]


class ShapeDataset(Dataset):
    """Shapes with operators and labels, indexable like a list.

    Parameters
    ----------
    samples : sequence of ShapeSample
    name : str
        Dataset identifier (e.g. ``"shrec11"``).
    task : {"classification", "segmentation", "correspondence"}
        What the labels mean (see :class:`~geodesic_nets.data.ShapeSample`).
    settings : OperatorSettings
        The settings the operators were computed with.
    num_classes : int, optional
        Number of classes of ``label`` (vertex-labelling correspondence: the template size).
    class_names : list of str, optional
        ``num_classes`` names, class ``i`` is ``class_names[i]``.
    params : dict, optional
        JSON-able options the dataset was built with (root, split, seed, ...), reported by
        :meth:`describe`.
    transform : callable ``(ShapeSample) -> ShapeSample``, optional
        Applied to a sample each time it is read (``dataset[i]``, iteration, a DataLoader), for
        augmentation; the stored samples are never changed. :meth:`with_transform` adds one to
        an existing dataset.

    Notes
    -----
    Every loader of this package stores ``extra["split"]`` (``"train"`` or ``"test"``) on its
    samples, which :meth:`pairs` and :meth:`test_pairs` use.
    """

    def __init__(
        self,
        samples: Sequence[ShapeSample],
        *,
        name: str,
        task: TaskName,
        settings: OperatorSettings,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        params: dict[str, Any] | None = None,
        transform: Callable[[ShapeSample], ShapeSample] | None = None,
    ) -> None:
        check_choice("task", task, TaskName)
        if transform is not None and not callable(transform):
            raise ArgumentError(f"transform must be callable or None, got {type(transform).__name__}")
        if not isinstance(settings, OperatorSettings):
            raise ArgumentError(f"settings must be an OperatorSettings, got {type(settings).__name__}")
        samples = list(samples)
        for i, s in enumerate(samples):
            if not isinstance(s, ShapeSample):
                raise ArgumentError(f"sample {i} is a {type(s).__name__}, expected a ShapeSample")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ArgumentError(f"num_classes must be a positive int or None, got {num_classes!r}")
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if num_classes is None or len(class_names) != num_classes:
                raise ArgumentError(f"{len(class_names)} class names given for num_classes={num_classes}")
        self.name = str(name)
        self.task: TaskName = task
        self.settings = settings
        self.num_classes = num_classes
        self.class_names = class_names
        self.params = dict(params or {})
        self.samples = samples
        self.transform = transform

    # ------------------------------------------------------------------ list protocol
    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> ShapeSample:
        sample = self.samples[index]
        if self.transform is None:
            return sample
        out = self.transform(sample)
        if not isinstance(out, ShapeSample):
            raise ArgumentError(f"the dataset's transform returned a {type(out).__name__}, expected a ShapeSample")
        return out

    def __iter__(self):
        return (self[i] for i in range(len(self.samples)))

    def with_transform(self, transform: Callable[[ShapeSample], ShapeSample] | None) -> "ShapeDataset":
        """The same samples read through ``transform`` (after the existing one, if any); None removes both."""
        if transform is not None and not callable(transform):
            raise ArgumentError(f"transform must be callable or None, got {type(transform).__name__}")
        out = copy.copy(self)
        first = self.transform
        if transform is None or first is None:
            out.transform = transform
        else:
            out.transform = lambda sample: transform(first(sample))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, {len(self)} samples)"

    def subset(self, indices: Iterable[int]) -> "ShapeDataset":
        """The same dataset (same class and metadata) restricted to ``indices``, in that order."""
        idx = [int(i) for i in indices]
        n = len(self.samples)
        bad = [i for i in idx if not -n <= i < n]
        if bad:
            raise IndexOutOfRangeError(f"subset indices {bad[:5]} out of range for {n} samples")
        out = copy.copy(self)
        out.samples = [self.samples[i] for i in idx]
        out.params = dict(self.params)
        return out

    def filter(self, predicate: Callable[[ShapeSample], bool]) -> "ShapeDataset":
        """:meth:`subset` of the samples for which ``predicate(sample)`` is true."""
        return self.subset(i for i, s in enumerate(self.samples) if predicate(s))

    # ------------------------------------------------------------------ pairs
    def pairs(self, *, split: str | None = None, ordered: bool = False) -> list[tuple[int, int]]:
        """Index pairs ``(i, j)`` of distinct samples (for shape-to-shape correspondence).

        Parameters
        ----------
        split : str, optional
            Only samples with ``extra["split"] == split``; all samples when None.
        ordered : bool
            Both ``(i, j)`` and ``(j, i)``; otherwise ``i < j`` only.
        """
        idx = [i for i, s in enumerate(self.samples) if split is None or s.extra.get("split") == split]
        if ordered:
            return list(itertools.permutations(idx, 2))
        return list(itertools.combinations(idx, 2))

    def test_pairs(self, *, ordered: bool = False) -> list[tuple[int, int]]:
        """All pairs of the test shapes in this dataset (190 unordered pairs for 20 shapes)."""
        return self.pairs(split="test", ordered=ordered)

    # ------------------------------------------------------------------ record
    def label_counts(self) -> list[int] | None:
        """Per class, how many labels: shapes (classification) or vertices (segmentation)."""
        if self.num_classes is None or self.task == "correspondence":
            return None
        counts = torch.zeros(self.num_classes, dtype=torch.int64)
        for s in self.samples:
            if s.label is not None:
                counts += torch.bincount(s.label.reshape(-1), minlength=self.num_classes)[: self.num_classes]
        return counts.tolist()

    def describe(self) -> dict[str, Any]:
        """JSON-able summary to record beside results.

        Returns
        -------
        dict
            ``name``, ``task``, ``class``, ``num_samples``, ``splits`` (count per
            ``extra["split"]``), ``num_classes``, ``class_names``, ``label_counts``,
            ``settings``, ``num_verts`` (``min``, ``median``, ``max``), ``params``.
        """
        nv = np.array([s.num_verts for s in self.samples], dtype=np.int64)
        splits = Counter(str(s.extra.get("split")) for s in self.samples)
        return {
            "name": self.name,
            "task": self.task,
            "class": type(self).__name__,
            "num_samples": len(self.samples),
            "splits": dict(sorted(splits.items())),
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "label_counts": self.label_counts(),
            "settings": dataclasses.asdict(self.settings),
            "num_verts": {
                "min": int(nv.min()) if len(nv) else None,
                "median": float(np.median(nv)) if len(nv) else None,
                "max": int(nv.max()) if len(nv) else None,
            },
            "params": _jsonable(self.params),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def resolve_root(
    root: str | Path,
    *,
    dataset: str,
    folder: str,
    is_layout: Callable[[Path], bool],
    expected: str,
) -> Path:
    """The dataset directory: ``root / folder`` if it has the layout, else ``root`` if it has.

    Raises
    ------
    DatasetError
        When ``root`` does not exist or neither directory has the layout; the message names
        the paths and describes the ``expected`` layout.
    """
    if root is None:
        raise DatasetError(f"{dataset}: a root directory is needed ({expected})")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{dataset}: root {root} is not a directory; expected {expected}")
    for cand in (root / folder, root):
        if cand.is_dir() and is_layout(cand):
            return cand
    raise DatasetError(f"{dataset}: neither {root} nor {root / folder} has the expected layout: {expected}")


def require_files(paths: Iterable[Path], *, what: str = "file", dataset: str | None = None) -> None:
    """DatasetError saying how many of ``paths`` are not files, and the first of them."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        prefix = f"{dataset}: " if dataset else ""
        raise DatasetError(f"{prefix}{len(missing)} {what}(s) missing, first {missing[0]}")


def prepare_options(
    settings: OperatorSettings,
    cache_dir: str | Path | None,
    jobs: int,
    progress: bool,
    normalize: bool,
    dtype: torch.dtype,
    skip_bad: bool = False,
) -> dict:
    """The keyword options every dataset forwards to :func:`~geodesic_nets.data.prepare_samples`."""
    return dict(settings=settings, cache_dir=cache_dir, jobs=jobs, progress=progress, normalize=normalize,
                dtype=dtype, skip_bad=skip_bad)


def check_choice(name: str, value: Any, choice_type: Any) -> None:
    """ValueError unless ``value`` is one of the ``Literal`` type ``choice_type``'s values."""
    if value not in get_args(choice_type):
        raise ArgumentError(f"{name} must be one of {get_args(choice_type)}, got {value!r}")
