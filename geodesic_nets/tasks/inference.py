"""Running a model over a dataset in batches, without gradients."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..batch import MeshBatch
from ..data.sample import SampleBatch, collate_samples

__all__ = ["iterate_batches", "split_by_mesh"]


def iterate_batches(
    model: nn.Module,
    dataset: Sequence,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    batch_size: int = 1,
    call: Callable[[MeshBatch], torch.Tensor] | None = None,
) -> Iterator[tuple[SampleBatch, torch.Tensor]]:
    """Yield ``(sample_batch, model(sample_batch.batch))`` over ``dataset`` in order.

    The model is put in eval mode (and restored to its previous mode afterwards); no gradients.
    ``call`` (default ``model``) replaces ``model(batch)``, e.g. ``partial(model, head=False)``.
    """
    call = model if call is None else call
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_samples)
    try:
        with torch.no_grad():
            for sb in loader:
                sb = sb.to(device, dtype)
                yield sb, call(sb.batch)
    finally:
        model.train(was_training)


def split_by_mesh(x: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Split rows of ``x`` (shape (sum(counts), ...)) into per-mesh views."""
    return torch.split(x, counts.tolist())
