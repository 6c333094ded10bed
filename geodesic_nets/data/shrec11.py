"""SHREC'11 non-rigid shape classification (the 500-face version of MeshCNN and DiffusionNet)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

import torch

from ..errors import DatasetError
from ..settings import OperatorSettings
from .base import ShapeDataset, check_choice, prepare_options, resolve_root
from .prepare import prepare_samples
from .sample import ShapeSample
from .splits import per_class_split

__all__ = ["SHREC11"]

Split = Literal["train", "test"]
SplitMode = Literal["random", "given"]

_EXPECTED = "one folder per class, each with train/ and test/ folders of .obj files (CLASS/train/*.obj)"


def _class_dirs(root: Path) -> list[Path]:
    return sorted(
        (d for d in root.iterdir() if d.is_dir() and ((d / "train").is_dir() or (d / "test").is_dir())),
        key=lambda d: d.name,
    )


class SHREC11(ShapeDataset):
    """SHREC'11 classification: 30 classes of 20 meshes.

    Layout: ``root/CLASS/{train,test}/*.obj`` (``root`` may also be the directory holding a
    ``shrec11`` folder). Classes are the sorted folder names, labelled ``0..29``.

    Parameters
    ----------
    root : path
    split : {"train", "test"}
    n_train : int
        Training meshes drawn per class (``split_mode="random"``).
    seed : int
        Seed of the draw. Each class is drawn with a generator seeded by ``(seed, class
        name)`` from its files sorted by name, so a seed gives the same split on every machine,
        whichever classes are loaded.
    split_mode : {"random", "given"}
        "random": the standard protocol, pooling the 20 meshes of a class (its train/ and
        test/ folders) and drawing ``n_train`` of them for training, the rest for testing.
        "given": the folders' own train/test split.
    classes : sequence of str, optional
        Load only these classes (labels ``0..len(classes)-1`` in sorted order); default all.
    settings : OperatorSettings, optional
        Default ``OperatorSettings()``.
    cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :func:`~geodesic_nets.data.prepare_samples`.

    Notes
    -----
    Samples: ``label`` shape () int64; ``name`` ``"CLASS/STEM"``; ``extra`` holds
    ``"class_name"``, ``"split"`` and the :class:`~geodesic_nets.data.PreparedShape` info
    (``"area"``, ``"scale"``, ...).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Split = "train",
        n_train: int = 10,
        seed: int = 0,
        split_mode: SplitMode = "random",
        classes: Sequence[str] | None = None,
        settings: OperatorSettings | None = None,
        cache_dir: str | os.PathLike | None = None,
        jobs: int = 1,
        progress: bool = True,
        normalize: bool = True,
        dtype: torch.dtype = torch.float32,
        skip_bad: bool = False,
    ) -> None:
        check_choice("split", split, Split)
        check_choice("split_mode", split_mode, SplitMode)
        settings = settings or OperatorSettings()
        root = resolve_root(root, dataset="SHREC11", folder="shrec11", is_layout=lambda p: bool(_class_dirs(p)), expected=_EXPECTED)
        dirs = _class_dirs(root)
        names = [d.name for d in dirs]
        if classes is not None:
            unknown = sorted(set(classes) - set(names))
            if unknown:
                raise DatasetError(f"SHREC11: no class {unknown} in {root}; classes there: {names}")
            dirs = [d for d in dirs if d.name in set(classes)]
            names = [d.name for d in dirs]

        files: list[tuple[Path, str, str]] = []  # (path, class name, folder split)
        for d in dirs:
            found = sorted(
                ((p, sub) for sub in ("train", "test") if (d / sub).is_dir() for p in (d / sub).glob("*.obj")),
                key=lambda t: (t[0].name, t[1]),
            )
            if not found:
                raise DatasetError(f"SHREC11: class folder {d} holds no .obj file in train/ or test/")
            files.extend((p, d.name, sub) for p, sub in found)

        if split_mode == "given":
            chosen = [i for i, f in enumerate(files) if f[2] == split]
        else:
            try:
                train, test = per_class_split([f[1] for f in files], n_train=n_train, seed=seed)
            except ValueError as exc:
                raise DatasetError(f"SHREC11 in {root}: {exc}") from exc
            chosen = (train if split == "train" else test).tolist()
        picked = [files[i] for i in chosen]

        prepared = prepare_samples([p for p, _, _ in picked], desc=f"SHREC11 {split}",
                                   **prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad))
        label_of = {n: i for i, n in enumerate(names)}
        samples = []
        for ps in prepared:
            path, cls, _ = picked[ps.index]
            samples.append(
                ShapeSample(
                    name=f"{cls}/{path.stem}",
                    operators=ps.operators,
                    label=torch.tensor(label_of[cls], dtype=torch.int64),
                    path=str(path),
                    extra={**ps.info, "class_name": cls, "split": split},
                )
            )
        super().__init__(
            samples, name="shrec11", task="classification", settings=settings, num_classes=len(names),
            class_names=names,
            params={"root": str(root), "split": split, "split_mode": split_mode, "n_train": n_train, "seed": seed,
                    "normalize": normalize},
        )
