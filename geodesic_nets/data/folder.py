"""FolderDataset: the user's own meshes, one folder per class or meshes beside per-vertex label files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import ArgumentError, DatasetError, MeshFormatError
from ..io import READ_FORMATS
from ..settings import OperatorSettings
from .base import ShapeDataset, check_choice, prepare_options
from .prepare import prepare_samples
from .sample import ShapeSample

__all__ = ["FolderDataset", "read_vertex_labels"]

log = logging.getLogger(__name__)

FolderTask = Literal["classification", "segmentation"]
Split = Literal["train", "test"]
_SPLITS = ("train", "test")

#: Extensions read as shapes: classification takes every readable format but ``.txt``;
#: segmentation takes meshes only (``.txt`` and ``.npy`` are its label files).
CLASSIFICATION_EXTENSIONS = tuple(e for e in READ_FORMATS if e != "txt")
SEGMENTATION_EXTENSIONS = ("obj", "off", "ply", "stl", "glb", "gltf")


def _shape_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in extensions)


def read_vertex_labels(path: str | os.PathLike) -> np.ndarray:
    """Per-vertex integer labels from a ``.npy`` array or a whitespace-separated ``.txt`` file.

    Returns
    -------
    ndarray, shape (V,), int64

    Raises
    ------
    MeshFormatError
        Unreadable file, not one-dimensional, a non-integer or negative entry.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            raw = np.array([float(t) for t in path.read_text().split()], dtype=np.float64)
    except (OSError, UnicodeError, ValueError) as exc:
        raise MeshFormatError(f"cannot read vertex labels: {exc}", path=str(path)) from exc
    raw = np.asarray(raw)
    if raw.ndim == 2 and 1 in raw.shape:  # a column or row vector
        raw = raw.reshape(-1)
    if raw.ndim != 1:
        raise MeshFormatError(f"expected one label per vertex (a 1-D array), got shape {raw.shape}", path=str(path))
    if raw.dtype.kind not in "iuf" or (raw.dtype.kind == "f" and not np.all(raw == np.round(raw))):
        raise MeshFormatError(f"labels must be integers, got dtype {raw.dtype}", path=str(path))
    labels = raw.astype(np.int64)
    if len(labels) and labels.min() < 0:
        raise MeshFormatError(f"negative label {labels.min()} at vertex {int(labels.argmin())}", path=str(path))
    return labels


def _label_file(mesh: Path) -> Path | None:
    for ext in (".npy", ".txt"):
        cand = mesh.with_suffix(ext)
        if cand.is_file():
            return cand
    return None


class FolderDataset(ShapeDataset):
    """Shapes from a directory tree the user lays out.

    Classification (``task="classification"``): one folder per class,
    ``root/CLASS/*.obj`` (any readable shape format but ``.txt``), classes sorted by name are
    labels ``0..C-1``. With ``split``, either ``root/SPLIT/CLASS/*`` or ``root/CLASS/SPLIT/*``;
    without, every shape of ``root/CLASS/``, ``root/CLASS/train/`` and ``root/CLASS/test/``
    (or of ``root/train/CLASS/`` and ``root/test/CLASS/``). Class names are taken from both
    splits, so a training and a test set label alike.

    Segmentation (``task="segmentation"``): meshes with a per-vertex label file beside each,
    ``root/NAME.obj`` + ``root/NAME.txt`` (whitespace-separated integers) or ``root/NAME.npy``
    (1-D integer array), one label per vertex in file order; with ``split``, in
    ``root/SPLIT/``; without, ``root`` and ``root/train``, ``root/test`` when present.

    Parameters
    ----------
    root : path
    task : {"classification", "segmentation"}
    split : {"train", "test"}, optional
    num_classes : int, optional
        Segmentation: default one more than the largest label in every label file of
        ``root`` (all splits). Classification: the number of class folders, checked if given.
    name : str
        Dataset name for :meth:`describe`.
    settings, cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :class:`~geodesic_nets.data.SHREC11`.

    Raises
    ------
    DatasetError
        A missing root, no class folder or mesh, a mesh without a label file.
    MeshFormatError
        A label file whose length differs from the mesh's vertex count (naming both files).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        task: FolderTask = "classification",
        split: Split | None = None,
        num_classes: int | None = None,
        name: str = "folder",
        settings: OperatorSettings | None = None,
        cache_dir: str | os.PathLike | None = None,
        jobs: int = 1,
        progress: bool = True,
        normalize: bool = True,
        dtype: torch.dtype = torch.float32,
        skip_bad: bool = False,
    ) -> None:
        check_choice("task", task, FolderTask)
        if split is not None and split not in _SPLITS:
            raise ArgumentError(f"split must be one of {_SPLITS} or None, got {split!r}")
        settings = settings or OperatorSettings()
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"FolderDataset: root {root} is not a directory")
        opts = prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad)
        if task == "classification":
            samples, class_names = _classification(root, split, opts)
            if num_classes is not None and num_classes != len(class_names):
                raise DatasetError(f"FolderDataset: num_classes={num_classes} but {root} has {len(class_names)} class folders")
            num_classes = len(class_names)
        else:
            samples, num_classes = _segmentation(root, split, num_classes, opts)
            class_names = None
        super().__init__(
            samples, name=name, task=task, settings=settings, num_classes=num_classes, class_names=class_names,
            params={"root": str(root), "task": task, "split": split, "normalize": normalize},
        )


def _classification(root: Path, split: str | None, opts: dict) -> tuple[list[ShapeSample], list[str]]:
    top = sorted(d.name for d in root.iterdir() if d.is_dir())
    split_first = bool(top) and set(top) <= set(_SPLITS)  # root/SPLIT/CLASS/
    if split_first:
        classes = sorted({d.name for s in top for d in (root / s).iterdir() if d.is_dir()})
    else:
        classes = top
    if not classes:
        raise DatasetError(
            f"FolderDataset: no class folder in {root}; expected root/CLASS/*.obj, root/SPLIT/CLASS/*.obj "
            "or root/CLASS/SPLIT/*.obj"
        )
    splits = _SPLITS if split is None else (split,)
    files: list[tuple[Path, int, str | None]] = []
    for label, cls in enumerate(classes):
        if split_first:
            folders = [(root / s / cls, s) for s in splits]
        else:
            folders = [(root / cls / s, s) for s in splits]
            if split is None:
                folders.insert(0, (root / cls, None))
        for folder, s in folders:
            files.extend((p, label, s) for p in _shape_files(folder, CLASSIFICATION_EXTENSIONS))
    if not files:
        where = f"root/SPLIT/CLASS or root/CLASS/SPLIT with SPLIT={split}" if split else "the class folders"
        raise DatasetError(f"FolderDataset: no shape file in {where} of {root} (extensions {CLASSIFICATION_EXTENSIONS})")
    prepared = prepare_samples([p for p, _, _ in files], desc=f"folder {split or 'all'}", **opts)
    samples = []
    for ps in prepared:
        path, label, s = files[ps.index]
        samples.append(
            ShapeSample(
                name=f"{classes[label]}/{path.stem}", operators=ps.operators,
                label=torch.tensor(label, dtype=torch.int64), path=str(path),
                extra={**ps.info, "class_name": classes[label], "split": s},
            )
        )
    return samples, classes


def _segmentation(root: Path, split: str | None, num_classes: int | None, opts: dict) -> tuple[list[ShapeSample], int]:
    all_folders = [root] + [root / s for s in _SPLITS if (root / s).is_dir()]
    if split is None:
        folders = [(f, f.name if f != root else None) for f in all_folders]
    else:
        if not (root / split).is_dir():
            raise DatasetError(f"FolderDataset: no {split}/ folder in {root} (split={split!r})")
        folders = [(root / split, split)]
    meshes = [(p, s) for f, s in folders for p in _shape_files(f, SEGMENTATION_EXTENSIONS)]
    if not meshes:
        raise DatasetError(
            f"FolderDataset: no mesh in {[str(f) for f, _ in folders]}; expected NAME.obj (or .off, .ply, ...) "
            "beside NAME.txt or NAME.npy per-vertex labels"
        )
    label_files = []
    for p, _ in meshes:
        lf = _label_file(p)
        if lf is None:
            raise DatasetError(f"FolderDataset: mesh {p} has no label file {p.with_suffix('.txt').name} or {p.with_suffix('.npy').name} beside it")
        label_files.append(lf)
    labels = [read_vertex_labels(lf) for lf in label_files]
    largest = max((int(lab.max()) for lab in labels if len(lab)), default=-1)
    if num_classes is None:
        others = [_label_file(p) for f in all_folders for p in _shape_files(f, SEGMENTATION_EXTENSIONS)]
        largest_all = max((int(read_vertex_labels(lf).max(initial=-1)) for lf in others if lf is not None), default=-1)
        num_classes = max(largest, largest_all) + 1
    elif largest >= num_classes:
        raise DatasetError(f"FolderDataset: label {largest} found in {root} but num_classes={num_classes}")
    prepared = prepare_samples([p for p, _ in meshes], desc=f"folder {split or 'all'}", **opts)
    samples = []
    for ps in prepared:
        (path, s), lf, lab = meshes[ps.index], label_files[ps.index], labels[ps.index]
        if len(lab) != ps.operators.num_verts:
            exc = MeshFormatError(f"{lf} has {len(lab)} labels but {path} has {ps.operators.num_verts} vertices")
            if not opts["skip_bad"]:
                raise exc
            log.warning("skipping %s", exc)
            continue
        rel = path.relative_to(root).with_suffix("")
        samples.append(
            ShapeSample(
                name=rel.as_posix(), operators=ps.operators, label=torch.from_numpy(lab), path=str(path),
                extra={**ps.info, "split": s, "label_path": str(lf)},
            )
        )
    return samples, max(num_classes, 1)
