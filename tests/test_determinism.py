"""Run-to-run reproducibility of a training step on CPU (same seed, same batch, fresh model).

Two causes of irreproducible functional-map steps were found and fixed:

* ``torch.linalg.lstsq``'s default CPU driver (LAPACK ``gelsy``) reads a pivot array that torch
  leaves uninitialized, so the true functional map of the loss changed in its last bits with
  whatever memory the allocator handed out (:func:`geodesic_nets.tasks.functional_maps.least_squares`
  uses ``gelsd``);
* the fused DiffusionNet block saved the diffusion-time parameter itself for its backward, and
  the in-place clamp of the next training forward invalidated it (two forwards before one
  backward raised); the layers now hand out a copy.

The allocation noise between repetitions leaves freed blocks full of non-zero values (float and
int32 alike, of varying sizes) where the next step's buffers may land.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geodesic_nets.data import SyntheticCorrespondence, collate_samples
from geodesic_nets.settings import OperatorSettings
from geodesic_nets.tasks.functional_maps import least_squares
from geodesic_nets.tasks.functional_maps import FunctionalMapTask
from geodesic_nets.tasks.models import ModelSpec, build_model

REPS = 6


@pytest.fixture(scope="module")
def batch():
    data = SyntheticCorrespondence(n_shapes=4, seed=0, split="train", settings=OperatorSettings(k_eig=24),
                                   progress=False)
    return collate_samples([data[0], data[1]]).to("cpu", torch.float32)


def _allocation_noise(rep: int) -> None:
    """Allocate, fill with non-zero values and free tensors of varying sizes and dtypes."""
    rng = np.random.default_rng(rep)
    junk = []
    for size in rng.integers(1, 50_000, size=12):
        junk.append(torch.full((int(size),), rep + 1.5, dtype=torch.float32))
        junk.append(torch.full((int(size) % 97 + 1,), rep + 3, dtype=torch.int32))
    del junk


def _training_steps(batch, width: int, reps: int = REPS) -> list[torch.Tensor]:
    """Each rep: a fresh seeded model, a forward kept alive, then the task loss (a second forward)
    and one backward through both; returns [loss, every parameter gradient] flattened, per rep."""
    task = FunctionalMapTask(k=20)
    out = []
    for rep in range(reps):
        _allocation_noise(rep)
        torch.manual_seed(0)
        model = build_model(ModelSpec(name="diffusion", in_features="wks", n_features=16, out_channels=16,
                                      width=width, depth=2, kwargs={"dropout": 0.0})).train()
        alive = model(batch.batch)
        loss, _ = task.loss(model, batch)
        (alive.square().sum() + loss).backward()
        grads = [p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]
        out.append(torch.cat([loss.detach().reshape(1), *grads]))
    return out


@pytest.mark.parametrize("width", [8, 32], ids=["plain", "fused"])
def test_functional_map_training_step_is_bitwise_reproducible(batch, width):
    steps = _training_steps(batch, width=width)
    assert bool(torch.isfinite(steps[0]).all())
    assert steps[0].shape[0] > 1000  # the loss and the gradients of every parameter
    for rep, step in enumerate(steps[1:], start=1):
        assert torch.equal(step, steps[0]), (rep, float(step[0]), float(steps[0][0]),
                                             float((step - steps[0]).abs().max()))


def test_least_squares_is_bitwise_reproducible_with_dirty_memory():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(300, 20, generator=gen)
    b = torch.randn(300, 20, generator=gen)
    ref = least_squares(a, b)
    for rep in range(8):
        _allocation_noise(rep)
        assert torch.equal(least_squares(a.clone(), b.clone()), ref), rep


def test_least_squares_matches_numpy_in_float64():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200, 15))
    b = rng.standard_normal((200, 4))
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(least_squares(torch.from_numpy(a), torch.from_numpy(b)).numpy(), expected,
                               rtol=1e-12, atol=1e-13)
    # rank deficient (a repeated column): the minimum-norm solution, like NumPy's
    a2 = np.concatenate([a[:, :5], a[:, :1]], 1)
    np.testing.assert_allclose(least_squares(torch.from_numpy(a2), torch.from_numpy(b)).numpy(),
                               np.linalg.lstsq(a2, b, rcond=None)[0], rtol=1e-10, atol=1e-12)
