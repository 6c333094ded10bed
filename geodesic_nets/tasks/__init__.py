"""Tasks: classification, segmentation and correspondence; losses, metrics, the training loop.

=====================  ==================================================================
module                 contents
=====================  ==================================================================
``base``               :class:`Task`, the interface between the loop and a task
``classification``     per-mesh labels: cross-entropy, accuracy, confusion matrix
``segmentation``       per-vertex labels; face and MeshCNN-edge accuracies
``vertex_labeling``    correspondence as template-vertex classification (FAUST)
``one_to_one``         the most likely labelling that uses each class once (linear assignment)
``functional_maps``    deep functional maps (FAUST_r): the solve, point maps, ZoomOut, losses, task
``geodesic_error``     geodesic correspondence errors and error curves
``metrics``            accuracy, confusion matrix, IoU, mean +- std summaries
``features``, ``models``  input descriptors and the five network families as one model type
``config``             :class:`TrainConfig`; ``trainer``: :func:`fit`; ``checkpoint``; ``records``
``distributed``        torchrun / DistributedDataParallel helpers
``experiment``, ``runner``, ``predict``  experiments, run directories, predictions for files
``pretrained``         pretrained models shipped with the package, by name
=====================  ==================================================================
"""

from . import functional_maps, metrics
from .base import Task
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .classification import ClassificationTask
from .config import TrainConfig, load_toml
from .distributed import DistInfo, ShardedSampler, init_distributed
from .experiment import ExperimentConfig
from .features import InputFeatures, batch_hks, batch_wks
from .functional_maps import (
    FunctionalMapTask,
    bijectivity_loss,
    commutativity_mask,
    coupling_loss,
    fmap_from_features,
    fmap_from_pointmap,
    laplacian_commutativity_loss,
    least_squares,
    nearest_neighbor_map,
    orthogonality_loss,
    pointmap_from_fmap,
    soft_pointmap,
    spectral_coefficients,
    supervised_fmap_loss,
    true_fmap,
    zoomout,
)
from .geodesic_error import ErrorCurve, GeodesicErrorEvaluator, correspondence_geodesic_errors, error_curve
from .metrics import (
    accuracy,
    confusion_matrix,
    edge_predictions_from_vertex_logits,
    face_predictions_from_vertex_logits,
    mean_iou,
    per_class_accuracy,
    per_class_iou,
    summarize,
)
from .models import DescriptorModel, ModelSpec, SurfaceModel, build_model
from .one_to_one import one_to_one_labels
from .predict import predict_files
from .pretrained import available_pretrained, export_pretrained, load_pretrained
from .records import MetricsWriter, environment_record
from .runner import Run, evaluate_model, evaluate_run, load_run, train_experiment
from .segmentation import SegmentationTask
from .trainer import FitResult, fit
from .vertex_labeling import VertexLabelingTask

__all__ = [
    "Task",
    "ClassificationTask",
    "SegmentationTask",
    "VertexLabelingTask",
    "FunctionalMapTask",
    "true_fmap",
    "TrainConfig",
    "load_toml",
    "fit",
    "FitResult",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "MetricsWriter",
    "environment_record",
    "DistInfo",
    "ShardedSampler",
    "init_distributed",
    "InputFeatures",
    "batch_hks",
    "batch_wks",
    "ModelSpec",
    "SurfaceModel",
    "DescriptorModel",
    "build_model",
    "ExperimentConfig",
    "train_experiment",
    "evaluate_run",
    "evaluate_model",
    "load_pretrained",
    "export_pretrained",
    "available_pretrained",
    *functional_maps.losses.__all__,
    "load_run",
    "Run",
    "predict_files",
    "spectral_coefficients",
    "commutativity_mask",
    "fmap_from_features",
    "pointmap_from_fmap",
    "fmap_from_pointmap",
    "least_squares",
    "zoomout",
    "nearest_neighbor_map",
    "GeodesicErrorEvaluator",
    "correspondence_geodesic_errors",
    "ErrorCurve",
    "error_curve",
    "one_to_one_labels",
    *metrics.__all__,
]
