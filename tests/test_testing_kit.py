"""The assertion kit itself: it passes on layers that have the symmetry and fails on ones that don't."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geodesic_nets import compute_operators, primitives
from geodesic_nets.testing import (
    assert_batch_consistent,
    assert_permutation_equivariant,
    assert_rigid_invariant,
    random_rotation,
)


def laplacian_layer(x, batch):  # intrinsic, per vertex: has every symmetry
    return torch.sparse.mm(batch.laplacian, x) / batch.mass[:, None]


def mean_pool(x, batch):  # per mesh
    out = torch.zeros(batch.num_meshes, x.shape[1], dtype=x.dtype)
    out.index_add_(0, batch.vert_to_mesh, x * batch.mass[:, None])
    return out / torch.zeros(batch.num_meshes, dtype=x.dtype).index_add_(0, batch.vert_to_mesh, batch.mass)[:, None]


def batch_global_mean(x, batch):  # mixes meshes of a batch: not batch consistent
    return x - x.mean(0, keepdim=True)


def extrinsic_layer(x, batch):  # uses coordinates: not rigid invariant
    return x * batch.verts[:, :1]


def index_layer(x, batch):  # depends on vertex numbering
    return x * torch.arange(x.shape[0], dtype=x.dtype)[:, None]


@pytest.fixture(scope="module")
def blob():
    return primitives.bumpy_sphere(2, seed=3)


def test_random_rotation_is_a_rotation():
    r = random_rotation(5)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_kit_accepts_symmetric_layers(blob):
    members = [compute_operators(s, k_eig=8) for s in (blob, primitives.torus(10, 5), primitives.sphere_point_cloud(200))]
    xs = [torch.randn(m.num_verts, 3, dtype=torch.float64) for m in members]
    assert_batch_consistent(laplacian_layer, members, xs)
    assert_batch_consistent(mean_pool, members, xs, per="mesh")
    x = torch.randn(blob.num_verts, 2, dtype=torch.float64)
    assert_permutation_equivariant(laplacian_layer, blob, x)
    assert_permutation_equivariant(mean_pool, blob, x, per="mesh")
    assert_rigid_invariant(laplacian_layer, blob, x)


def test_kit_rejects_broken_layers(blob):
    members = [compute_operators(s, k_eig=8) for s in (blob, primitives.torus(10, 5))]
    xs = [torch.randn(m.num_verts, 3, dtype=torch.float64) for m in members]
    with pytest.raises(AssertionError, match="batched"):
        assert_batch_consistent(batch_global_mean, members, xs)
    x = torch.randn(blob.num_verts, 2, dtype=torch.float64)
    with pytest.raises(AssertionError, match="permuted"):
        assert_permutation_equivariant(index_layer, blob, x)
    with pytest.raises(AssertionError, match="moved"):
        assert_rigid_invariant(extrinsic_layer, blob, x)
