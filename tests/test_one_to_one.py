"""One-to-one decoding of class scores against exhaustive search."""

import itertools

import numpy as np
import pytest
import torch

from geodesic_nets.errors import ArgumentError
from geodesic_nets.tasks.one_to_one import one_to_one_labels


def _brute_force(scores: np.ndarray) -> np.ndarray:
    """The slow obvious answer: try every injective map between rows and columns."""
    V, K = scores.shape
    best, best_total = None, -np.inf
    if V <= K:
        for cols in itertools.permutations(range(K), V):
            total = scores[np.arange(V), cols].sum()
            if total > best_total:
                best, best_total = np.array(cols), total
        return best
    for rows in itertools.permutations(range(V), K):  # rows[k] takes class k; the rest their argmax
        total = scores[list(rows), np.arange(K)].sum()
        if total > best_total:
            best, best_total = rows, total
    labels = scores.argmax(1)
    labels[list(best)] = np.arange(K)
    return labels


@pytest.mark.parametrize("shape", [(6, 6), (4, 6), (6, 4), (1, 3), (3, 1)])
def test_one_to_one_matches_exhaustive_search(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        logits = torch.from_numpy(rng.normal(size=shape) * 3)
        scores = torch.log_softmax(logits, dim=1)
        labels = one_to_one_labels(scores)
        assert labels.dtype == torch.int64 and labels.shape == (shape[0],)
        np.testing.assert_array_equal(labels.numpy(), _brute_force(scores.numpy()))
        if shape[0] <= shape[1]:
            assert len(set(labels.tolist())) == shape[0]  # no class used twice


def test_one_to_one_resolves_a_collision_and_keeps_a_clean_argmax():
    scores = torch.log_softmax(torch.tensor([[5.0, 4.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 3.0]]), dim=1)
    assert scores.argmax(1).tolist() == [0, 0, 2]  # two vertices want class 0
    assert one_to_one_labels(scores).tolist() == [1, 0, 2]  # the first gives way: it loses less
    clean = torch.log_softmax(torch.eye(5, dtype=torch.float32) * 4, dim=1)
    assert one_to_one_labels(clean).tolist() == list(range(5))


def test_one_to_one_ignores_row_constants_when_every_row_is_assigned():
    rng = np.random.default_rng(3)
    scores = torch.from_numpy(rng.normal(size=(5, 7)))
    shifted = scores + torch.from_numpy(rng.normal(size=(5, 1)) * 100)
    assert torch.equal(one_to_one_labels(scores), one_to_one_labels(shifted))


@pytest.mark.parametrize("bad", [torch.zeros(3), torch.zeros(0, 4), torch.zeros(4, 0),
                                 torch.tensor([[0.0, float("nan")]]), torch.tensor([[0.0, -float("inf")]]), [[0.0]]])
def test_one_to_one_rejects_bad_scores(bad):
    with pytest.raises(ArgumentError):
        one_to_one_labels(bad)
