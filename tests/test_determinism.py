"""Run-to-run reproducibility of a training step on CPU (same seed, same batch, fresh model)."""

from __future__ import annotations

import pytest
import torch

from geodesic_nets.data import SyntheticCorrespondence, collate_samples
from geodesic_nets.settings import OperatorSettings
from geodesic_nets.tasks.functional_maps import FunctionalMapTask
from geodesic_nets.tasks.models import ModelSpec, build_model


@pytest.fixture(scope="module")
def batch():
    data = SyntheticCorrespondence(n_shapes=4, seed=0, split="train", settings=OperatorSettings(k_eig=24),
                                   progress=False)
    return collate_samples([data[0], data[1]]).to("cpu", torch.float32)


def _losses(batch, width: int, reps: int = 4) -> list[float]:
    """Each rep: a fresh seeded model, a forward kept alive, then the task loss (a second forward)."""
    task = FunctionalMapTask(k=20)
    out = []
    for _ in range(reps):
        torch.manual_seed(0)
        model = build_model(ModelSpec(name="diffusion", in_features="wks", n_features=16, out_channels=16,
                                      width=width, depth=2, kwargs={"dropout": 0.0})).train()
        alive = model(batch.batch)
        loss, _ = task.loss(model, batch)
        out.append(float(loss.detach()))
        (alive.square().sum() + loss).backward()
    return out


@pytest.mark.xfail(strict=False, reason="known issue (issue 3/4 notes): a functional-map training step can differ "
                   "in the last float32 bits between identical runs (seen with both DiffusionNet paths when another "
                   "graph is alive); classification steps are reproducible (tests/test_trainer.py); cause not found yet")
@pytest.mark.parametrize("width", [8, 32], ids=["plain", "fused"])
def test_functional_map_training_step_is_bitwise_reproducible(batch, width):
    losses = _losses(batch, width=width)
    assert len(set(losses)) == 1, losses
