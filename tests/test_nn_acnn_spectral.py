"""Spectral ACNN (precomputed anisotropic heat kernels oriented by principal curvature):
operators, cache, batches, and the symmetry kit (gauge, rigid motions, permutations)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from geodesic_nets import AnisotropicSettings, OperatorCache, OperatorSettings, primitives
from geodesic_nets.batch import MeshBatch
from geodesic_nets.errors import GeodesicNetsError, GeometryError
from geodesic_nets.nn.patch import ACNNConv, PatchGather, PatchNet
from geodesic_nets.operators import compute_operators
from geodesic_nets.tasks.experiment import ExperimentConfig
from geodesic_nets.tasks.models import ModelSpec
from geodesic_nets.testing import (
    assert_batch_consistent,
    assert_permutation_equivariant,
    assert_rigid_invariant,
)

F64 = torch.float64
ANISO = AnisotropicSettings(n_orientations=4, anisotropy=(1.0, 5.0), times=(2.0,), k_eig=32)
SETTINGS = OperatorSettings(k_eig=8, patch_size=10, anisotropic=ANISO)


@pytest.fixture(scope="module")
def bumpy():
    return primitives.bumpy_sphere(2, seed=3)


@pytest.fixture(scope="module")
def ops(bumpy):
    return compute_operators(bumpy, settings=SETTINGS)


@pytest.fixture(scope="module")
def batch(ops):
    return MeshBatch.from_operators([ops], dtype=F64)


def _x(n, c, seed=0):
    return torch.randn(n, c, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _layer(orientation="principal", seed=0, ci=3, co=4):
    torch.manual_seed(seed)
    return ACNNConv(ci, co, spectral=ANISO, orientation=orientation).double()


def test_operators_carry_nonnegative_kernels_per_patch_entry(ops):
    assert ops.patch_kernels.shape == (len(ops.patches), ANISO.num_kernels)
    assert (ops.patch_kernels >= 0).all() and np.isfinite(ops.patch_kernels).all()
    # Heat flows from the centre: its own kernel value is above the mean of its patch.
    k = ops.patch_kernels.reshape(ops.num_verts, -1, ANISO.num_kernels)  # every patch has 10 entries
    assert (k[:, 0, :] > k.mean(axis=1)).all()
    # alpha = 1: the orientation does not matter (columns ordered (alpha, t, theta)).
    iso = ops.patch_kernels[:, : ANISO.n_orientations]
    np.testing.assert_allclose(iso, iso[:, :1].repeat(ANISO.n_orientations, 1), rtol=1e-6, atol=1e-9)
    # alpha = 5: it does.
    aniso = ops.patch_kernels[:, ANISO.n_orientations:]
    assert np.abs(aniso[:, 0] - aniso[:, 2]).max() > 0.05 * aniso.max()


def test_cache_round_trip_keeps_the_kernels_and_old_keys_are_unchanged(bumpy, ops, tmp_path):
    cache = OperatorCache(tmp_path)
    first = cache.get_or_compute(bumpy, SETTINGS)
    again = cache.get_or_compute(bumpy, SETTINGS)
    np.testing.assert_array_equal(again.patch_kernels, ops.patch_kernels)
    np.testing.assert_array_equal(first.patch_kernels, ops.patch_kernels)
    assert "anisotropic" not in OperatorSettings(patch_size=4).to_json()  # keys from before the field stay valid
    assert cache.key(bumpy, SETTINGS) != cache.key(bumpy, dataclasses.replace(SETTINGS, anisotropic=None))


def test_settings_validation_and_toml_tables():
    s = OperatorSettings(patch_size=8, anisotropic={"n_orientations": 2, "anisotropy": [3], "times": [1, 2]})
    assert s.anisotropic == AnisotropicSettings(n_orientations=2, anisotropy=(3.0,), times=(1.0, 2.0))
    assert s.anisotropic.num_kernels == 4
    with pytest.raises(ValueError, match="patch_size"):
        OperatorSettings(anisotropic=AnisotropicSettings())
    with pytest.raises(ValueError, match="anisotropy"):
        AnisotropicSettings(anisotropy=(0.5,))
    with pytest.raises(ValueError, match="times"):
        AnisotropicSettings(times=())
    with pytest.raises(ValueError, match="anisotropic"):
        OperatorSettings(patch_size=8, anisotropic={"orientations": 3})


def test_point_clouds_get_a_clear_error():
    cloud = primitives.sphere_point_cloud(60, seed=0)
    with pytest.raises(GeometryError, match="point cloud"):
        compute_operators(cloud, settings=SETTINGS)


@pytest.mark.parametrize("orientation", ["principal", "max_pool"])
@pytest.mark.parametrize("seed", [0, 1])
def test_exactly_invariant_to_any_gauge_rotation(batch, orientation, seed):
    layer = _layer(orientation, seed)
    x = _x(batch.total_verts, 3, seed)
    phi = (torch.rand(batch.total_verts, generator=torch.Generator().manual_seed(seed), dtype=F64) * 2 - 1) * math.pi
    out = layer(x, batch)
    torch.testing.assert_close(layer(x, batch.rotate_gauge(phi)), out, atol=1e-13, rtol=1e-12)
    assert float(out.detach().std()) > 1e-3  # not a constant


@torch.no_grad()
def test_max_pool_ignores_which_orientation_comes_first_and_principal_does_not(batch):
    """Relabelling theta_k -> theta_{k+1} (the reference direction turned by pi / n) permutes the kernels."""
    n = ANISO.n_orientations
    rolled = torch.roll(batch.patch_kernels.view(-1, len(ANISO.anisotropy), len(ANISO.times), n), 1, dims=-1)
    turned = dataclasses.replace(batch, patch_kernels=rolled.reshape(batch.patch_kernels.shape))
    x = _x(batch.total_verts, 3)
    pooled, fixed = _layer("max_pool"), _layer("principal")
    torch.testing.assert_close(pooled(x, turned), pooled(x, batch), atol=1e-13, rtol=1e-12)
    assert float((fixed(x, turned) - fixed(x, batch)).norm() / fixed(x, batch).norm()) > 1e-2


@torch.no_grad()
def test_kernels_average_so_constants_map_to_constants(batch):
    out = _layer()(torch.ones(batch.total_verts, 3, dtype=F64) * torch.tensor([0.5, -1.0, 2.0], dtype=F64), batch)
    torch.testing.assert_close(out, out[:1].expand_as(out), atol=1e-12, rtol=1e-10)


@torch.no_grad()
def test_layer_is_the_normalized_kernel_sum_written_out(ops, batch):
    """Slow reference over the flat patch arrays: sum_q m_q h(v, q) x_q / sum_q m_q h(v, q), then W."""
    layer = _layer()
    x = _x(batch.total_verts, 3)
    m = torch.as_tensor(ops.mass)
    c, q = torch.as_tensor(ops.patches.center), torch.as_tensor(ops.patches.neighbor)
    h = torch.as_tensor(ops.patch_kernels) * m[q][:, None]  # (P, S)
    den = torch.zeros(ops.num_verts, h.shape[1], dtype=F64).index_add_(0, c, h)
    num = torch.zeros(ops.num_verts, h.shape[1], 3, dtype=F64).index_add_(0, c, h[:, :, None] * x[q][:, None, :])
    d = num / den[..., None]  # (V, S, C_in)
    w = layer.weight.permute(0, 2, 3, 4, 1).reshape(layer.out_channels, -1)  # (C_out, S * C_in)
    torch.testing.assert_close(layer(x, batch), d.reshape(ops.num_verts, -1) @ w.T + layer.bias, atol=1e-12, rtol=1e-10)


def test_batches_of_mixed_sizes_equal_their_members():
    members = [compute_operators(primitives.bumpy_sphere(1, seed=1), settings=SETTINGS),
               compute_operators(primitives.torus(12, 7), settings=SETTINGS)]
    layer = _layer()
    inputs = [_x(m.num_verts, 3, i) for i, m in enumerate(members)]
    assert_batch_consistent(layer, members, inputs)
    # Variable patch widths (the scatter path of PatchGather) keep the kernels in their slots.
    b = MeshBatch.from_operators(members, dtype=F64)
    keep = (torch.rand(len(b.patch_center), generator=torch.Generator().manual_seed(0)) > 0.3) | (b.patch_rho == 0)
    cut = dataclasses.replace(b, **{f: getattr(b, f)[keep] for f in
                                    ("patch_center", "patch_neighbor", "patch_rho", "patch_theta", "patch_kernels")})
    pg = PatchGather.from_batch(cut)
    valid = pg.quadrature > 0
    torch.testing.assert_close(pg.kernels[valid], cut.patch_kernels)
    assert (pg.kernels[~valid] == 0).all()


def test_rigid_motions_and_vertex_renumbering(bumpy):
    """The kernels follow the surface: recomputed on the moved / renumbered surface, same outputs."""
    layer = _layer()
    x = torch.ones(bumpy.num_verts, 3, dtype=F64) + torch.linspace(0, 1, 3, dtype=F64)
    kw = {"settings": SETTINGS}
    # A rigid-invariant, non-constant input: the height along a body-fixed axis would not be;
    # the distance to the centroid is.
    r = torch.as_tensor(np.linalg.norm(bumpy.verts - bumpy.verts.mean(0), axis=1))[:, None]
    x = x * r
    assert_rigid_invariant(layer, bumpy, x, operator_kwargs=kw, atol=1e-7, rtol=1e-6)
    assert_permutation_equivariant(layer, bumpy, x, operator_kwargs=kw, atol=1e-7, rtol=1e-6)


def test_errors(bumpy, batch):
    plain = MeshBatch.from_operators([compute_operators(bumpy, k_eig=8, patch_size=10)], dtype=F64)
    with pytest.raises(GeodesicNetsError, match="anisotropic"):
        _layer()(_x(plain.total_verts, 3), plain)
    other = ACNNConv(3, 4, spectral=dataclasses.replace(ANISO, n_orientations=6)).double()
    with pytest.raises(GeodesicNetsError, match="expects 12"):
        other(_x(batch.total_verts, 3), batch)
    with pytest.raises(ValueError, match="n_theta"):
        ACNNConv(3, 4, spectral=ANISO, n_theta=4)
    with pytest.raises(ValueError, match="orientation"):
        ACNNConv(3, 4, spectral=ANISO, orientation="gauge")
    with pytest.raises(ValueError, match="orientation"):
        ACNNConv(3, 4, orientation="principal")
    ops_plain = compute_operators(bumpy, k_eig=8, patch_size=10)
    ops_k = compute_operators(bumpy, settings=SETTINGS)
    with pytest.raises(GeodesicNetsError, match="anisotropic"):
        MeshBatch.from_operators([ops_plain, ops_k])


def test_experiments_compute_the_kernels_the_model_asks_for():
    spec = ModelSpec(name="acnn", width=4, depth=1, kwargs={"layer_kwargs": {"spectral": {"n_orientations": 2}}})
    cfg = ExperimentConfig(model=spec)
    assert cfg.operators.patch_size > 0 and cfg.operators.anisotropic == AnisotropicSettings(n_orientations=2)
    again = ExperimentConfig.from_dict(cfg.to_dict())
    assert again.operators == cfg.operators
    with pytest.raises(ValueError, match="differs"):
        ExperimentConfig(model=spec, operators=OperatorSettings(patch_size=8, anisotropic=AnisotropicSettings()))


def test_a_spectral_patch_network_trains(ops):
    """A few steps of Adam on a vertex regression target lower the loss (gradients reach every layer)."""
    torch.manual_seed(0)
    batch = MeshBatch.from_operators([ops], dtype=torch.float32)
    net = PatchNet("acnn", 3, 1, width=8, n_layers=2, layer_kwargs={"spectral": ANISO})
    x = batch.verts
    target = torch.sin(3 * batch.verts[:, :1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x, batch), target)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in net.parameters())
    assert losses[-1] < 0.5 * losses[0]
