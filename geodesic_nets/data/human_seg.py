"""Human body segmentation (Maron et al. 2017) as packaged by MeshCNN: edge labels to vertices and faces.

MeshCNN numbers the undirected edges of a mesh in order of first appearance when walking the
faces in file order and, in each face ``(v0, v1, v2)``, its edges ``(v0, v1), (v1, v2),
(v2, v0)``; an ``.eseg`` file holds one label (1-8) per edge in that order.
:func:`meshcnn_edges` rebuilds the numbering; :func:`edge_to_vertex_labels` and
:func:`edge_to_face_labels` turn edge labels into the per-vertex and per-face labels the other
networks are trained on.

MeshCNN scores a segmentation by edges, each weighted by a third of the area of its faces and
counted correct when the prediction is one of its *soft* labels (an edge along a part boundary
accepts both parts). The shared copy of the dataset has the hard labels only (``.eseg``, not
MeshCNN's ``.seseg``), so :func:`meshcnn_soft_labels` rebuilds the soft ones from them by the rule
MeshCNN's authors give for their files (the labels of the edge's one-ring edges), and
:func:`meshcnn_edge_areas` gives the weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch

from ..errors import ArgumentError, DatasetError, MeshFormatError
from ..geometry.elements import face_areas
from ..settings import OperatorSettings
from .base import ShapeDataset, check_choice, prepare_options, require_files, resolve_root
from .prepare import prepare_samples
from .sample import ShapeSample

__all__ = [
    "HumanSegmentation",
    "meshcnn_edges",
    "edge_to_vertex_labels",
    "edge_to_face_labels",
    "meshcnn_soft_labels",
    "meshcnn_edge_areas",
    "read_eseg",
]

Split = Literal["train", "test", "all"]

log = logging.getLogger(__name__)

#: Body parts of the MeshCNN human segmentation labels 1..8 (stored 0-based).
HUMAN_SEG_NUM_CLASSES = 8


def meshcnn_edges(faces: np.ndarray, *, return_face_edges: bool = False):
    """Undirected edges in MeshCNN's order (first appearance walking faces and their edges).

    Parameters
    ----------
    faces : array, shape (F, 3), int
    return_face_edges : bool
        Also return, for every face, the numbers of its edges ``(v0,v1), (v1,v2), (v2,v0)``.

    Returns
    -------
    edges : ndarray, shape (E_u, 2), int64
        Each edge as ``(min, max)`` vertex index; row ``e`` is MeshCNN's edge ``e``.
    face_edges : ndarray, shape (F, 3), int64
        Only with ``return_face_edges``.
    """
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ArgumentError(f"faces must have shape (F, 3), got {f.shape}")
    half = np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=1).reshape(-1, 2)  # (3F, 2), walk order
    half.sort(axis=1)
    uniq, first, inverse = np.unique(half, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # edge numbers by first appearance
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    edges = uniq[order].astype(np.int64)
    if not return_face_edges:
        return edges
    return edges, rank[inverse.reshape(-1)].reshape(-1, 3)


def edge_to_vertex_labels(edges: np.ndarray, edge_labels: np.ndarray, num_verts: int, num_classes: int) -> np.ndarray:
    """Each vertex takes the most frequent label of its incident edges (ties: the smallest label).

    Parameters
    ----------
    edges : array, shape (E_u, 2), int
    edge_labels : array, shape (E_u,), int in ``0..num_classes-1``
    num_verts, num_classes : int

    Returns
    -------
    ndarray, shape (V,), int64
        -1 for a vertex on no edge.
    """
    edges = np.asarray(edges, dtype=np.int64)
    lab = np.asarray(edge_labels, dtype=np.int64)
    counts = np.zeros((num_verts, num_classes), dtype=np.int64)
    np.add.at(counts, (edges[:, 0], lab), 1)
    np.add.at(counts, (edges[:, 1], lab), 1)
    out = counts.argmax(axis=1)  # argmax takes the first (smallest) label among tied maxima
    out[counts.sum(axis=1) == 0] = -1
    return out.astype(np.int64)


def edge_to_face_labels(face_edges: np.ndarray, edge_labels: np.ndarray) -> np.ndarray:
    """Each face takes the label shared by at least two of its three edges, else the smallest.

    Parameters
    ----------
    face_edges : array, shape (F, 3), int
        Edge numbers of every face (see :func:`meshcnn_edges`).
    edge_labels : array, shape (E_u,), int

    Returns
    -------
    ndarray, shape (F,), int64
    """
    lab = np.asarray(edge_labels, dtype=np.int64)[np.asarray(face_edges, dtype=np.int64)]  # (F, 3)
    a, b, c = lab[:, 0], lab[:, 1], lab[:, 2]
    return np.where((a == b) | (a == c), a, np.where(b == c, b, lab.min(axis=1))).astype(np.int64)


def meshcnn_soft_labels(face_edges: np.ndarray, edge_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The labels each edge accepts in MeshCNN's accuracy: those of the edges it shares a face with.

    MeshCNN's soft labels are, for every edge, the label frequencies among its one-ring edges
    (the other two edges of each of its faces, four on a closed mesh); a prediction counts as
    correct where that frequency is positive. Inside a part all four carry the part's label; an
    edge along a boundary accepts both parts. The edge's own label is not looked at.

    Parameters
    ----------
    face_edges : array, shape (F, 3), int
        Edge numbers of every face (see :func:`meshcnn_edges`).
    edge_labels : array, shape (E_u,), int in ``0..num_classes-1``
    num_classes : int

    Returns
    -------
    ndarray, shape (E_u, num_classes), bool
    """
    fe = np.asarray(face_edges, dtype=np.int64)
    lab = np.asarray(edge_labels, dtype=np.int64)
    accepts = np.zeros((len(lab), num_classes), dtype=bool)
    for k in range(3):  # edge k of each face takes the labels of the face's other two edges
        for other in ((k + 1) % 3, (k + 2) % 3):
            accepts[fe[:, k], lab[fe[:, other]]] = True
    return accepts


def meshcnn_edge_areas(verts: np.ndarray, faces: np.ndarray, face_edges: np.ndarray, num_edges: int) -> np.ndarray:
    """MeshCNN's edge weights: a third of the area of each face of the edge, over the total area.

    Parameters
    ----------
    verts : array, shape (V, 3), float
    faces : array, shape (F, 3), int
    face_edges : array, shape (F, 3), int
        Edge numbers of every face (see :func:`meshcnn_edges`).
    num_edges : int

    Returns
    -------
    ndarray, shape (E_u,), float64
        Non-negative, summing to 1 (on a mesh of positive area).
    """
    areas = face_areas(np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64))  # (F,)
    out = np.zeros(num_edges, dtype=np.float64)
    np.add.at(out, np.asarray(face_edges, dtype=np.int64).reshape(-1), np.repeat(areas / 3.0, 3))
    return out / areas.sum()


def read_eseg(path: str | os.PathLike) -> np.ndarray:
    """The integer labels of an ``.eseg`` file (one per line), as written (1-based).

    Raises
    ------
    MeshFormatError
        Unreadable file or a non-integer entry.
    """
    path = Path(path)
    try:
        values = np.array([float(t) for t in path.read_text().split()], dtype=np.float64)
    except (OSError, UnicodeError, ValueError) as exc:
        raise MeshFormatError(f"cannot read edge labels: {exc}", path=str(path)) from exc
    frac = ~np.isfinite(values) | (values != np.round(values))
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise MeshFormatError(f"entry {i} is {values[i]}, not an integer label", path=str(path))
    return values.astype(np.int64)


def _is_layout(p: Path) -> bool:
    return (p / "seg").is_dir() and ((p / "train").is_dir() or (p / "test").is_dir())


class HumanSegmentation(ShapeDataset):
    """Human body segmentation in 8 parts: 381 training and 18 test meshes (1500 faces each).

    Layout: ``root/{train,test}/NAME.obj`` and ``root/seg/NAME.eseg`` (``root`` may also hold
    a ``human_seg`` folder).

    Parameters
    ----------
    root : path
    split : {"train", "test", "all"}
    names : sequence of str, optional
        Load only these meshes (file stems), each in the split.
    settings, cache_dir, jobs, progress, normalize, dtype, skip_bad
        See :class:`~geodesic_nets.data.SHREC11`.

    Notes
    -----
    Labels are 0-based (file label minus one), 8 classes:

    - ``extra["edges"]`` (E_u, 2) int64 in MeshCNN's order and ``extra["edge_label"]`` (E_u,)
      int64: the file's labels;
    - ``extra["edge_soft_labels"]`` (E_u, 8) bool and ``extra["edge_area"]`` (E_u,) float64:
      the labels each edge accepts and its weight in MeshCNN's accuracy (see the module notes);
    - ``label`` (V,) int64: the most frequent label of the vertex's edges, ties to the smallest;
    - ``face_label`` (F,) int64: the label two or three of the face's edges share; when all
      three differ, the smallest of them.

    Raises
    ------
    MeshFormatError
        An ``.eseg`` whose length differs from the mesh's edge count (naming both files), or a
        label outside 1..8.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Split = "train",
        names: Sequence[str] | None = None,
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
            root, dataset="HumanSegmentation", folder="human_seg", is_layout=_is_layout,
            expected="train/*.obj, test/*.obj and seg/NAME.eseg",
        )
        subs = ["train", "test"] if split == "all" else [split]
        meshes: list[tuple[Path, str]] = []
        for sub in subs:
            if not (root / sub).is_dir():
                raise DatasetError(f"HumanSegmentation: no {sub}/ folder in {root}")
            meshes.extend((p, sub) for p in sorted((root / sub).glob("*.obj")))
        if names is not None:
            by_stem = {p.stem: (p, sub) for p, sub in meshes}
            unknown = [n for n in names if n not in by_stem]
            if unknown:
                raise DatasetError(f"HumanSegmentation: no mesh {unknown[:5]} in the {split!r} split of {root}")
            meshes = [by_stem[n] for n in names]
        if not meshes:
            raise DatasetError(f"HumanSegmentation: no .obj file in {[str(root / s) for s in subs]}")
        segs = [root / "seg" / f"{p.stem}.eseg" for p, _ in meshes]
        require_files(segs, what="label file", dataset="HumanSegmentation")

        prepared = prepare_samples([p for p, _ in meshes], desc=f"human_seg {split}",
                                   **prepare_options(settings, cache_dir, jobs, progress, normalize, dtype, skip_bad))
        samples = []
        for ps in prepared:
            (path, sub), seg = meshes[ps.index], segs[ps.index]
            try:
                labels = _labels(ps.surface.faces, ps.surface.num_verts, path, seg)
            except MeshFormatError as exc:
                if not skip_bad:
                    raise
                log.warning("skipping %s", exc)
                continue
            edges, face_edges, edge_label, vert_label, face_label = labels
            soft = meshcnn_soft_labels(face_edges, edge_label, HUMAN_SEG_NUM_CLASSES)
            weight = meshcnn_edge_areas(ps.surface.verts, ps.surface.faces, face_edges, len(edges))
            samples.append(
                ShapeSample(
                    name=path.stem, operators=ps.operators, label=torch.from_numpy(vert_label),
                    face_label=torch.from_numpy(face_label), path=str(path),
                    extra={**ps.info, "split": sub, "edges": torch.from_numpy(edges),
                           "edge_label": torch.from_numpy(edge_label),
                           "edge_soft_labels": torch.from_numpy(soft), "edge_area": torch.from_numpy(weight)},
                )
            )
        super().__init__(
            samples, name="human_seg", task="segmentation", settings=settings, num_classes=HUMAN_SEG_NUM_CLASSES,
            params={"root": str(root), "split": split, "names": None if names is None else list(names),
                    "normalize": normalize},
        )


def _labels(faces: np.ndarray | None, num_verts: int, path: Path, seg: Path):
    if faces is None:
        raise MeshFormatError("a segmentation mesh needs faces", path=str(path))
    edges, face_edges = meshcnn_edges(faces, return_face_edges=True)
    raw = read_eseg(seg)
    if len(raw) != len(edges):
        raise MeshFormatError(f"{seg} has {len(raw)} edge labels but {path} has {len(edges)} edges")
    bad = (raw < 1) | (raw > HUMAN_SEG_NUM_CLASSES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MeshFormatError(f"edge {i} has label {raw[i]}, expected 1..{HUMAN_SEG_NUM_CLASSES}", path=str(seg))
    edge_label = raw - 1
    vert_label = edge_to_vertex_labels(edges, edge_label, num_verts, HUMAN_SEG_NUM_CLASSES)
    lonely = np.flatnonzero(vert_label < 0)
    if len(lonely):
        raise MeshFormatError(f"vertex {lonely[0]} is on no face, so it gets no label ({len(lonely)} such)", path=str(path))
    return edges, face_edges, edge_label, vert_label, edge_to_face_labels(face_edges, edge_label)
