"""Any correspondence benchmark in the FAUST_r layout (SCAPE_r, SHREC'19_r, the user's own).

Layout::

    root/shapes/NAME.off | .ply | .obj      the meshes
    root/corres/NAME.vts                    1-based vertex indices of NAME at the common
                                            reference points (all files the same length)
    root/test_pairs.txt  (optional)         one pair a line: "NAME_A NAME_B" (tabs or spaces)

so that ``corr_a[i] <-> corr_b[i]`` is the ground-truth map between two shapes. The evaluation
pairs are those of the pairs file when there is one, otherwise every pair of shapes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

import torch

from ..errors import DatasetError, MeshFormatError
from ..settings import OperatorSettings
from .base import ShapeDataset, check_choice, prepare_options, require_files, resolve_root
from .faust import read_vts
from .prepare import prepare_samples
from .sample import ShapeSample

__all__ = ["CorrespondenceFolder", "read_pairs"]

#: mesh extensions read from ``shapes/``
SHAPE_EXTENSIONS = (".off", ".ply", ".obj")

Split = Literal["all", "test"]


def read_pairs(path: str | os.PathLike, names: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of indices into ``names`` from a pairs file ("NAME_A NAME_B" a line).

    Raises
    ------
    MeshFormatError
        A line without two names, or a name not among ``names``.
    """
    path = Path(path)
    index = {n: i for i, n in enumerate(names)}
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise MeshFormatError(f"line {lineno}: expected two shape names, got {line!r}", path=str(path))
        missing = [p for p in parts if p not in index]
        if missing:
            raise MeshFormatError(f"line {lineno}: no shape named {missing[0]!r} in shapes/", path=str(path))
        out.append((index[parts[0]], index[parts[1]]))
    return out


class CorrespondenceFolder(ShapeDataset):
    """A correspondence dataset in the FAUST_r layout (see the module docstring).

    Parameters
    ----------
    root : path
    split : {"all", "test"}
        Every shape either way (the layout has no training split); ``"test"`` marks them as test
        shapes, so that ``test_pairs`` and the correspondence evaluation use them.
    shapes : sequence of str, optional
        Load only these shape names (file stems in ``shapes/``).
    pairs_file : str, optional
        Pairs file name inside ``root`` (default ``test_pairs.txt``, used when present).
    settings, cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :class:`~geodesic_nets.data.SHREC11`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Split = "test",
        shapes: Sequence[str] | None = None,
        pairs_file: str = "test_pairs.txt",
        settings: OperatorSettings | None = None,
        cache_dir: str | os.PathLike | None = None,
        jobs: int = 1,
        progress: bool = True,
        normalize: bool = True,
        dtype: torch.dtype = torch.float32,
        skip_bad: bool = False,
    ) -> None:
        check_choice("split", split, Split)
        settings = settings or OperatorSettings()
        root = resolve_root(
            root, dataset="correspondence folder", folder=".",
            is_layout=lambda p: (p / "shapes").is_dir() and (p / "corres").is_dir(),
            expected="shapes/NAME.off|ply|obj and corres/NAME.vts",
        )
        paths = sorted(p for p in (root / "shapes").iterdir() if p.is_file() and p.suffix.lower() in SHAPE_EXTENSIONS)
        all_names = [p.stem for p in paths]
        if shapes is not None:
            wanted = [str(s) for s in shapes]
            by_stem = {p.stem: p for p in paths}
            unknown = [s for s in wanted if s not in by_stem]
            if unknown:
                raise DatasetError(f"{root / 'shapes'} has no shape named {unknown[0]!r}")
            paths = [by_stem[s] for s in wanted]
        if not paths:
            raise DatasetError(f"{root / 'shapes'} holds no {'/'.join(SHAPE_EXTENSIONS)} mesh")
        stems = [p.stem for p in paths]
        if len(set(stems)) != len(stems):
            raise DatasetError(f"{root / 'shapes'} holds two meshes with one name (different extensions)")
        vts = [root / "corres" / f"{p.stem}.vts" for p in paths]
        require_files(vts, what="correspondence file")
        prepared = prepare_samples(paths, desc=f"{root.name} shapes",
                                   **prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad))
        samples = []
        for ps in prepared:
            path = paths[ps.index]
            corr = read_vts(vts[ps.index], ps.operators.num_verts)
            samples.append(ShapeSample(name=path.stem, operators=ps.operators, corr=corr, path=str(path),
                                       extra={**ps.info, "split": split}))
        lengths = sorted({len(s.corr) for s in samples})
        if len(lengths) > 1:
            raise MeshFormatError(f"the .vts files in {root / 'corres'} differ in length: {lengths}")
        pairs_path = root / pairs_file
        self._pair_names = ([(all_names[i], all_names[j]) for i, j in read_pairs(pairs_path, all_names)]
                            if pairs_path.is_file() else None)
        super().__init__(
            samples, name="correspondence_folder", task="correspondence", settings=settings,
            params={"root": str(root), "split": split, "shapes": None if shapes is None else list(shapes),
                    "pairs_file": pairs_file if pairs_path.is_file() else None, "normalize": normalize},
        )

    def test_pairs(self, *, ordered: bool = False) -> list[tuple[int, int]]:
        """The pairs of the pairs file (as listed, among the shapes held), or every pair of shapes."""
        if self._pair_names is None:
            return self.pairs(ordered=ordered)
        index = {s.name: i for i, s in enumerate(self.samples)}
        pairs = [(index[a], index[b]) for a, b in self._pair_names if a in index and b in index]
        if not ordered:
            return pairs
        return [p for (i, j) in pairs for p in ((i, j), (j, i))]
