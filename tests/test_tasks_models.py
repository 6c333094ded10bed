"""Input features and SurfaceModel: against geometry references and under the symmetry kit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from geodesic_nets import OperatorSettings, compute_operators, primitives
from geodesic_nets.batch import MeshBatch
from geodesic_nets.geometry.descriptors import hks, wks
from geodesic_nets.nn.pooling import global_mean_pool
from geodesic_nets.tasks.features import InputFeatures, batch_hks, batch_wks, default_hks_times
from geodesic_nets.tasks.models import ModelSpec, build_model
from geodesic_nets.testing import assert_batch_consistent, assert_permutation_equivariant, assert_rigid_invariant


@pytest.fixture(scope="module")
def members():
    s = OperatorSettings(k_eig=24, patch_size=10)
    return [compute_operators(primitives.bumpy_sphere(2, seed=1), settings=s),
            compute_operators(primitives.torus(16, 8), settings=s)]


def test_batch_hks_and_wks_match_geometry(members):
    batch = MeshBatch.from_operators(members, dtype=torch.float64)
    t = default_hks_times(8)
    got_h = batch_hks(batch, t)
    got_w = batch_wks(batch, 8)
    ref_h = np.concatenate([hks(m.evals, m.evecs, t.numpy()) for m in members])
    ref_w = np.concatenate([wks(m.evals, m.evecs, n_energies=8) for m in members])
    np.testing.assert_allclose(got_h.numpy(), ref_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_w.numpy(), ref_w, rtol=1e-10, atol=1e-12)


def _wks_unflushed(batch, n):
    """The WKS as written before subnormal filter weights were flushed (the slow, obvious form)."""
    out = []
    for b, phi in enumerate(batch.split(batch.evecs)):
        lam, mask = batch.evals[b], batch.eig_mask[b]
        nz = mask & (lam > 1e-9 * lam[mask].abs().max())
        log_lam = torch.log(lam[nz])
        lo, hi = log_lam.min(), log_lam.max()
        energies = torch.linspace(0.0, 1.0, n, dtype=lam.dtype) * (hi - lo) + lo
        sigma = 7.0 * (hi - lo) / (n - 1)
        filt = torch.exp(-((energies[None, :] - log_lam[:, None]) ** 2) / (2 * sigma * sigma))
        out.append((phi[:, nz] ** 2) @ (filt / filt.sum(0, keepdim=True)))
    return torch.cat(out), filt / filt.sum(0, keepdim=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_wks_flushing_subnormal_weights_changes_nothing(members, dtype):
    """128 energies: the filters' tails are subnormal in float32; flushing them keeps every output."""
    batch = MeshBatch.from_operators(members, dtype=dtype)
    ref, weights = _wks_unflushed(batch, 128)
    if dtype == torch.float32:  # the case the flush is for really occurs here
        assert int(((weights > 0) & (weights < torch.finfo(dtype).tiny)).sum()) > 0
    got = batch_wks(batch, 128)
    if dtype == torch.float64:  # nothing subnormal: the very same product
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
    else:  # the same to rounding (BLAS sums subnormal operands on another path), and as close to float64
        torch.testing.assert_close(got, ref, rtol=1e-6, atol=0)
        exact = batch_wks(MeshBatch.from_operators(members, dtype=torch.float64), 128)
        err_new, err_ref = (got.double() - exact).abs().max(), (ref.double() - exact).abs().max()
        assert err_new <= 1.5 * err_ref, (err_new, err_ref)
    # backward (evecs as a differentiable input), float64 reference
    b64 = MeshBatch.from_operators(members, dtype=torch.float64)
    evecs = b64.evecs.clone().requires_grad_(True)
    b_new = dataclasses.replace(b64, evecs=evecs)
    w = torch.randn(b64.total_verts, 128, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (g_new,) = torch.autograd.grad((batch_wks(b_new, 128) * w).sum(), evecs)
    (g_ref,) = torch.autograd.grad((_wks_unflushed(b_new, 128)[0] * w).sum(), evecs)
    torch.testing.assert_close(g_new, g_ref, rtol=0, atol=0)


def test_xyz_augmentation_only_in_training(members):
    batch = MeshBatch.from_operators(members, dtype=torch.float64)
    feats = InputFeatures("xyz", augment=lambda v: v * 2.0)
    torch.testing.assert_close(feats.eval()(batch), batch.verts)
    torch.testing.assert_close(feats.train()(batch), 2.0 * batch.verts)


@pytest.mark.parametrize("name,width", [("diffusion", 4), ("diffusion", 32), ("gauge", 4), ("monet", 4),
                                        ("gcnn", 4), ("acnn", 4)])
def test_model_batch_consistent_and_global_pool_commutes(members, name, width):
    """width 32 > k_eig 24 takes DiffusionNet's fused CPU path, width 4 the plain composition."""
    torch.manual_seed(0)
    spec = ModelSpec(name=name, in_features="hks", n_features=8, out_channels=3, outputs="vertices",
                     width=width, depth=2, kwargs={"dropout": 0.0} if name == "diffusion" else {})
    model = build_model(spec).double().eval()
    inputs = [torch.zeros(m.num_verts, 1, dtype=torch.float64) for m in members]
    assert_batch_consistent(lambda x, b: model(b), members, inputs, per="vertex")
    # global outputs = mass-weighted mean of the per-vertex outputs (pooling commutes with the last linear map)
    glob = build_model(ModelSpec(**{**spec.to_dict(), "outputs": "global"})).double().eval()
    glob.load_state_dict(model.state_dict())
    batch = MeshBatch.from_operators(members, dtype=torch.float64)
    torch.testing.assert_close(glob(batch), global_mean_pool(model(batch), batch))
    # the learned features are what the last linear layer reads
    torch.testing.assert_close(model._head(model.vertex_features(batch)), model(batch))


@pytest.mark.parametrize("name", ["diffusion", "gauge", "monet"])
def test_hks_model_is_rigid_invariant_and_permutation_equivariant(name):
    torch.manual_seed(0)
    spec = ModelSpec(name=name, in_features="hks", n_features=8, out_channels=2, outputs="vertices",
                     width=4, depth=2, kwargs={"dropout": 0.0} if name == "diffusion" else {})
    model = build_model(spec).double().eval()
    surface = primitives.bumpy_sphere(2, seed=3)
    x = torch.zeros(surface.num_verts, 1, dtype=torch.float64)
    kw = {"k_eig": 24, "patch_size": 10 if name == "monet" else 0}
    assert_rigid_invariant(lambda _x, b: model(b), surface, x, operator_kwargs=kw, atol=1e-6)
    assert_permutation_equivariant(lambda _x, b: model(b), surface, x, operator_kwargs=kw, atol=1e-6)


def test_xyz_model_is_not_rigid_invariant():
    """The kit can fail: xyz inputs change under a rotation."""
    torch.manual_seed(0)
    model = build_model(ModelSpec(name="diffusion", in_features="xyz", out_channels=2, width=4, depth=1,
                                  kwargs={"dropout": 0.0})).double().eval()
    surface = primitives.bumpy_sphere(2, seed=3)
    x = torch.zeros(surface.num_verts, 1, dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_rigid_invariant(lambda _x, b: model(b), surface, x, operator_kwargs={"k_eig": 24})


def test_spec_validation():
    with pytest.raises(ValueError, match="model must be one of"):
        ModelSpec(name="pointnet")
    with pytest.raises(ValueError, match="width"):
        ModelSpec(width=0)
    spec = ModelSpec(name="gauge", width=3, kwargs={"max_order": 1})
    assert ModelSpec.from_dict(spec.to_dict()) == spec
