"""Tasks: classification, segmentation and correspondence; losses, metrics, the training loop."""

from .base import Task

__all__ = ["Task"]
