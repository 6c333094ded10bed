"""A toy training problem for the training-loop tests: spheres versus tori, a tiny DiffusionNet
on xyz, and a cross-entropy task. Imported by tests/test_trainer.py, tests/test_checkpoint.py,
tests/test_distributed.py and tests/ddp_worker.py (not a test module itself)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from geodesic_nets import OperatorSettings, Surface, compute_operators, primitives
from geodesic_nets.data.sample import ShapeSample, collate_samples
from geodesic_nets.nn import DiffusionNet
from geodesic_nets.tasks.base import Task

SETTINGS = OperatorSettings(k_eig=16)


def make_samples(n_per_class: int = 4, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> list[ShapeSample]:
    """Alternating spheres (label 0) and tori (label 1), randomly scaled and jittered."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n_per_class):
        for label, base in ((0, primitives.icosphere(1)), (1, primitives.torus(12, 6))):
            verts = base.verts * rng.uniform(0.8, 1.2) + 0.01 * rng.standard_normal(base.verts.shape)
            surface = Surface(verts, base.faces, name=f"{'sphere' if label == 0 else 'torus'}_{i}")
            ops = compute_operators(surface, settings=SETTINGS).to(dtype=dtype)
            samples.append(ShapeSample(surface.name, ops, label=torch.tensor(label)))
    return samples


def make_model(*, dropout: float = 0.5, seed: int = 0) -> DiffusionNet:
    torch.manual_seed(seed)
    return DiffusionNet(3, 2, width=8, n_blocks=1, outputs="global", dropout=dropout)


class ToyClassification(Task):
    """Cross-entropy on per-mesh logits; xyz inputs, optionally scaled by a random factor drawn
    from torch's global generator (so that restoring the generators matters).

    ``crash_at_call``: raise RuntimeError on that (1-based) call of :meth:`loss`, to simulate a
    process killed in the middle of an epoch.
    """

    name = "classification"
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, *, augment: bool = True, crash_at_call: int | None = None) -> None:
        self.augment = augment
        self.crash_at_call = crash_at_call
        self.calls = 0

    def _logits(self, model, batch):
        x = batch.verts
        if self.augment and model.training:
            x = x * (1.0 + 0.1 * torch.randn((), dtype=x.dtype, device=x.device))
        return model(x, batch)

    def loss(self, model, sb):
        self.calls += 1
        if self.crash_at_call is not None and self.calls == self.crash_at_call:
            raise RuntimeError("simulated crash")
        logits = self._logits(model, sb.batch)  # (B, 2)
        loss = F.cross_entropy(logits, sb.label)
        acc = (logits.argmax(-1) == sb.label).double().mean().item()
        return loss, {"accuracy": acc}

    def evaluate(self, model, dataset, *, device, dtype, batch_size=1):
        correct, total, loss_sum = 0, 0, 0.0
        # a DataLoader draws its base seed from torch's global generator, as real tasks' would
        for sb in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_samples):
            sb = sb.to(device, dtype)
            logits = self._logits(model, sb.batch)
            loss_sum += F.cross_entropy(logits, sb.label, reduction="sum").item()
            correct += int((logits.argmax(-1) == sb.label).sum())
            total += sb.num_meshes
        return {"accuracy": correct / total, "loss": loss_sum / total, "per_class": [0.0, 1.0]}
