"""Datasets by name: ``load_dataset("shrec11", root=..., split="train", ...)``."""

from __future__ import annotations

import os
from typing import Any

from ..errors import ArgumentError
from ..settings import OperatorSettings
from .base import ShapeDataset
from .correspondence_folder import CorrespondenceFolder
from .faust import FAUST, FAUSTRemeshed
from .folder import FolderDataset
from .human_seg import HumanSegmentation
from .shrec11 import SHREC11
from .synthetic import SyntheticCorrespondence, SyntheticSegmentation, SyntheticShapes

__all__ = ["DATASETS", "FILE_DATASETS", "load_dataset"]

#: Dataset name -> class.
DATASETS: dict[str, type[ShapeDataset]] = {
    "shrec11": SHREC11,
    "faust": FAUST,
    "faust_r": FAUSTRemeshed,
    "correspondence_folder": CorrespondenceFolder,
    "human_seg": HumanSegmentation,
    "folder": FolderDataset,
    "synthetic_shapes": SyntheticShapes,
    "synthetic_correspondence": SyntheticCorrespondence,
    "synthetic_segmentation": SyntheticSegmentation,
}

#: The names that read files from a root directory (the others are generated).
FILE_DATASETS = ("shrec11", "faust", "faust_r", "correspondence_folder", "human_seg", "folder")


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str | None = "train",
    settings: OperatorSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    **kwargs: Any,
) -> ShapeDataset:
    """Build the dataset registered as ``name``.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    root : path, optional
        Required by the file datasets (:data:`FILE_DATASETS`), refused by the generated ones.
    split : str or None
        Passed on (``"train"``, ``"test"``, ``"all"`` where the dataset has it; ``folder``
        also takes None).
    settings, cache_dir, jobs
        Passed on.
    **kwargs
        Other keyword options of the dataset's class.

    Raises
    ------
    ArgumentError
        An unknown name (the message lists the known ones), a missing ``root`` for a file
        dataset or a ``root`` given to a generated one.
    """
    if name not in DATASETS:
        raise ArgumentError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    cls = DATASETS[name]
    common = dict(split=split, settings=settings, cache_dir=cache_dir, jobs=jobs, **kwargs)
    if name in FILE_DATASETS:
        if root is None:
            raise ArgumentError(f"dataset {name!r} reads files: give root=<its directory>")
        return cls(root, **common)
    if root is not None:
        raise ArgumentError(f"dataset {name!r} is generated and reads no files; root={str(root)!r} was given")
    return cls(**common)
