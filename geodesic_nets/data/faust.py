"""FAUST (original registrations, one connectivity) and FAUST_r (independently remeshed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch

from ..errors import ArgumentError, MeshFormatError
from ..settings import OperatorSettings
from .base import ShapeDataset, check_choice, prepare_options, require_files, resolve_root
from .prepare import prepare_samples
from .sample import ShapeSample

__all__ = ["FAUST", "FAUSTRemeshed", "read_vts", "faust_shape_numbers"]

Split = Literal["train", "test", "all"]

#: Number of vertices of every original FAUST registration.
FAUST_NUM_VERTS = 6890


def faust_shape_numbers(split: Split, shapes: Sequence[int] | None = None) -> list[int]:
    """Shape numbers of a FAUST split: train 0-79, test 80-99, all 0-99.

    ``shapes`` restricts the list (each must belong to the split).
    """
    check_choice("split", split, Split)
    numbers = {"train": range(0, 80), "test": range(80, 100), "all": range(0, 100)}[split]
    if shapes is None:
        return list(numbers)
    shapes = [int(s) for s in shapes]
    bad = [s for s in shapes if s not in numbers]
    if bad:
        raise ArgumentError(f"shapes {bad} are not in the {split!r} split (numbers {numbers.start}-{numbers.stop - 1})")
    return shapes


def _extra(info: dict, n: int) -> dict:
    """``extra`` of FAUST shape ``n``: the prepared info, person, pose and split."""
    return {**info, "person": n // 10, "pose": n % 10, "split": "train" if n < 80 else "test"}


def read_vts(path: str | os.PathLike, num_verts: int) -> torch.Tensor:
    """Read a ``.vts`` correspondence file (1-based vertex indices) as 0-based indices.

    Returns
    -------
    Tensor, shape (P,), int64

    Raises
    ------
    MeshFormatError
        Unreadable file, a non-integer entry, or an index outside ``1..num_verts``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeError) as exc:
        raise MeshFormatError(f"cannot read correspondence file: {exc}", path=str(path)) from exc
    tokens = text.split()
    try:
        idx = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as exc:
        raise MeshFormatError(f"non-integer entry in a .vts file: {exc}", path=str(path)) from exc
    if len(idx) == 0:
        raise MeshFormatError("empty .vts file", path=str(path))
    bad = (idx < 1) | (idx > num_verts)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MeshFormatError(
            f"entry {i} is {idx[i]}, outside 1..{num_verts} (the mesh's vertex count; .vts is 1-based)", path=str(path)
        )
    return torch.from_numpy(idx - 1)


class FAUST(ShapeDataset):
    """The 100 FAUST training registrations (10 people x 10 poses, 6890 vertices, one connectivity).

    Layout: ``root/tr_reg_000.off .. tr_reg_099.off`` (``root`` may also hold a ``faust``
    folder). Train 0-79, test 80-99.

    Parameters
    ----------
    root : path
    split : {"train", "test", "all"}
    shapes : sequence of int, optional
        Load only these shape numbers (each in the split).
    settings, cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :class:`~geodesic_nets.data.SHREC11`.

    Notes
    -----
    Vertex labelling: ``label = corr = arange(V)`` (int64, V = 6890), ``num_classes`` 6890.
    ``extra``: ``"person"`` (``n // 10``), ``"pose"`` (``n % 10``), ``"split"``, the prepared
    info.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Split = "train",
        shapes: Sequence[int] | None = None,
        settings: OperatorSettings | None = None,
        cache_dir: str | os.PathLike | None = None,
        jobs: int = 1,
        progress: bool = True,
        normalize: bool = True,
        dtype: torch.dtype = torch.float32,
        skip_bad: bool = False,
    ) -> None:
        numbers = faust_shape_numbers(split, shapes)
        settings = settings or OperatorSettings()
        root = resolve_root(
            root, dataset="FAUST", folder="faust", is_layout=lambda p: any(p.glob("tr_reg_*.off")),
            expected="tr_reg_000.off .. tr_reg_099.off",
        )
        paths = [root / f"tr_reg_{n:03d}.off" for n in numbers]
        require_files(paths, dataset="FAUST")
        prepared = prepare_samples(paths, desc=f"FAUST {split}",
                                   **prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad))
        samples = []
        for ps in prepared:
            n, path = numbers[ps.index], paths[ps.index]
            v = ps.operators.num_verts
            if v != FAUST_NUM_VERTS:
                raise MeshFormatError(f"FAUST registrations have {FAUST_NUM_VERTS} vertices, this one {v}", path=str(path))
            ident = torch.arange(v, dtype=torch.int64)
            samples.append(
                ShapeSample(
                    name=path.stem, operators=ps.operators, label=ident, corr=ident.clone(), path=str(path),
                    extra=_extra(ps.info, n),
                )
            )
        super().__init__(
            samples, name="faust", task="correspondence", settings=settings, num_classes=FAUST_NUM_VERTS,
            params={"root": str(root), "split": split, "shapes": shapes if shapes is None else list(numbers),
                    "normalize": normalize},
        )


class FAUSTRemeshed(ShapeDataset):
    """FAUST_r: the 100 FAUST shapes each remeshed independently (about 5000 vertices).

    Layout: ``root/shapes/tr_reg_XXX.off`` and ``root/corres/tr_reg_XXX.vts`` (``root`` may
    also hold a ``faust_r`` folder). Train 0-79, test 80-99; the usual evaluation is over all
    pairs of the test shapes (:meth:`test_pairs`).

    Parameters
    ----------
    root : path
    split : {"train", "test", "all"}
    shapes : sequence of int, optional
        Load only these shape numbers (each in the split).
    settings, cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :class:`~geodesic_nets.data.SHREC11`.

    Notes
    -----
    ``corr`` (P,) int64: the ``.vts`` indices minus one (P = 5000), so ``corr_a[i] <->
    corr_b[i]`` is the ground-truth map; ``label`` is None. ``extra["corr_sym"]`` holds the
    left-right mirrored map of ``tr_reg_XXX.sym.vts`` when that file exists;
    ``extra["person"]``, ``"pose"``, ``"split"`` and the prepared info as for :class:`FAUST`.

    Attributes
    ----------
    template_ids : Tensor, shape (P,), int64, or None
        ``corres/sampleID.vts`` minus one when present: the vertex of the original FAUST
        template (:class:`FAUST`) at each reference point, which links the two datasets.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Split = "train",
        shapes: Sequence[int] | None = None,
        settings: OperatorSettings | None = None,
        cache_dir: str | os.PathLike | None = None,
        jobs: int = 1,
        progress: bool = True,
        normalize: bool = True,
        dtype: torch.dtype = torch.float32,
        skip_bad: bool = False,
    ) -> None:
        numbers = faust_shape_numbers(split, shapes)
        settings = settings or OperatorSettings()
        root = resolve_root(
            root, dataset="FAUST_r", folder="faust_r",
            is_layout=lambda p: (p / "shapes").is_dir() and (p / "corres").is_dir(),
            expected="shapes/tr_reg_XXX.off and corres/tr_reg_XXX.vts",
        )
        paths = [root / "shapes" / f"tr_reg_{n:03d}.off" for n in numbers]
        vts = [root / "corres" / f"tr_reg_{n:03d}.vts" for n in numbers]
        require_files(paths + vts, dataset="FAUST_r")
        prepared = prepare_samples(paths, desc=f"FAUST_r {split}",
                                   **prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad))
        samples = []
        for ps in prepared:
            n, path = numbers[ps.index], paths[ps.index]
            v = ps.operators.num_verts
            extra = _extra(ps.info, n)
            sym = vts[ps.index].with_suffix(".sym.vts")
            if sym.is_file():
                extra["corr_sym"] = read_vts(sym, v)
            samples.append(
                ShapeSample(
                    name=path.stem, operators=ps.operators, corr=read_vts(vts[ps.index], v), path=str(path), extra=extra
                )
            )
        sample_ids = root / "corres" / "sampleID.vts"
        self.template_ids = read_vts(sample_ids, FAUST_NUM_VERTS) if sample_ids.is_file() else None
        lengths = {len(s.corr) for s in samples}
        if self.template_ids is not None:
            lengths.add(len(self.template_ids))
        if len(lengths) > 1:
            raise MeshFormatError(f"FAUST_r: .vts files in {root / 'corres'} differ in length: {sorted(lengths)}")
        super().__init__(
            samples, name="faust_r", task="correspondence", settings=settings,
            params={"root": str(root), "split": split, "shapes": shapes if shapes is None else list(numbers),
                    "normalize": normalize},
        )
