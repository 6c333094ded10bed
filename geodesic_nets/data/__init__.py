"""Datasets: the folder layouts of the public benchmarks and a synthetic generator."""

from .sample import SampleBatch, ShapeSample, collate_samples

__all__ = ["ShapeSample", "SampleBatch", "collate_samples"]
