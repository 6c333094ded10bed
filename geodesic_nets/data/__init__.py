"""Datasets: the folder layouts of the public benchmarks and a synthetic generator.

Every dataset is a :class:`ShapeDataset` of :class:`ShapeSample` items (operators of the
normalized shape plus labels); ``torch.utils.data.DataLoader(ds, collate_fn=collate_samples)``
turns them into :class:`SampleBatch` objects. All loaders go through :func:`prepare_samples`
(parallel processes, optional operator cache). :func:`load_dataset` builds one by name.
"""

from .augment import Augment, jitter, random_rotation, random_rotation_matrix, random_scale
from .base import ShapeDataset, TaskName
from .correspondence_folder import CorrespondenceFolder, read_pairs
from .faust import FAUST, FAUSTRemeshed, read_vts
from .folder import FolderDataset, read_vertex_labels
from .human_seg import (
    HumanSegmentation,
    edge_to_face_labels,
    edge_to_vertex_labels,
    meshcnn_edge_areas,
    meshcnn_edges,
    meshcnn_soft_labels,
    read_eseg,
)
from .prepare import PreparedShape, prepare_samples
from .registry import DATASETS, load_dataset
from .sample import SampleBatch, ShapeSample, collate_samples
from .shrec11 import SHREC11
from .splits import class_rng, kfold_splits, per_class_split, random_split
from .synthetic import SYNTHETIC_CLASSES, SyntheticCorrespondence, SyntheticSegmentation, SyntheticShapes

__all__ = [
    "ShapeSample",
    "SampleBatch",
    "collate_samples",
    "ShapeDataset",
    "TaskName",
    "PreparedShape",
    "prepare_samples",
    "SHREC11",
    "FAUST",
    "FAUSTRemeshed",
    "CorrespondenceFolder",
    "read_pairs",
    "HumanSegmentation",
    "FolderDataset",
    "SyntheticShapes",
    "SyntheticCorrespondence",
    "SyntheticSegmentation",
    "SYNTHETIC_CLASSES",
    "DATASETS",
    "load_dataset",
    "meshcnn_edges",
    "meshcnn_soft_labels",
    "meshcnn_edge_areas",
    "edge_to_vertex_labels",
    "edge_to_face_labels",
    "read_eseg",
    "read_vts",
    "read_vertex_labels",
    "class_rng",
    "per_class_split",
    "random_split",
    "kfold_splits",
    "Augment",
    "random_rotation_matrix",
    "random_rotation",
    "random_scale",
    "jitter",
]
