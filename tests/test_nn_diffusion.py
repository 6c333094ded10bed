"""Learned diffusion, gradient features, MLP, pooling and DiffusionNet."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
import torch

from geodesic_nets import compute_operators, primitives
from geodesic_nets.batch import MeshBatch
from geodesic_nets.geometry import hks
from geodesic_nets.nn.diffusion import gradient_features as gradient_features_module
from geodesic_nets.nn.diffusion.block import BlockOperators, spectral_block
from geodesic_nets.nn.diffusion.gradient_features import (
    SpatialGradientFeatures,
    batch_feature_operator,
    gradient_feature_operator,
    gradient_features,
    stacked_gradient,
)
from geodesic_nets.nn.diffusion.learned import (
    ImplicitSystem,
    LearnedDiffusion,
    SpectralBasis,
    implicit_diffusion,
    spectral_diffusion,
)
from geodesic_nets.nn.diffusion.network import DiffusionNet, DiffusionNetBlock
from geodesic_nets.nn.mlp import MLP, KeepMaskStream, dropout_keep_mask, relu_dropout
from geodesic_nets.nn.pooling import GlobalPool, global_max_pool, global_mean_pool, vertices_to_faces
from geodesic_nets.testing import assert_batch_consistent, assert_permutation_equivariant, assert_rigid_invariant

F64 = torch.float64


@pytest.fixture(scope="module")
def bumpy():
    return primitives.bumpy_sphere(2, seed=3)  # 162 verts, no symmetry


@pytest.fixture(scope="module")
def bumpy_ops(bumpy):
    return compute_operators(bumpy, k_eig=24)


@pytest.fixture(scope="module")
def full_ops(bumpy):
    """Operators of the bumpy sphere with its complete (dense) eigenbasis, K = V."""
    ops = compute_operators(bumpy, k_eig=8)
    L, M = ops.laplacian.toarray(), np.diag(ops.mass)
    lam, phi = scipy.linalg.eigh(L, M)  # M-orthonormal
    lam[0] = 0.0
    return dataclasses.replace(ops, evals=lam, evecs=phi)


@pytest.fixture(scope="module")
def mixed_members():
    """Two meshes of different sizes and a point cloud."""
    return [
        compute_operators(primitives.bumpy_sphere(2, seed=1), k_eig=20),
        compute_operators(primitives.bumpy_sphere(1, seed=2), k_eig=12),
        compute_operators(primitives.sphere_point_cloud(120, seed=4), k_eig=16),
    ]


def _dense_heat(ops, x, filt):
    """Reference in the full dense basis: Phi diag(filt(lambda)) Phi^T M x."""
    phi, lam, m = ops.evecs, ops.evals, ops.mass
    return phi @ (filt(lam)[:, None] * (phi.T @ (m[:, None] * x)))


# ------------------------------------------------------------------------------ spectral diffusion
def test_spectral_small_time_is_identity_in_full_basis(full_ops, rng):
    batch = MeshBatch.from_operators([full_ops], dtype=F64)
    x = torch.as_tensor(rng.normal(size=(full_ops.num_verts, 3)))
    out = spectral_diffusion(x, SpectralBasis.from_batch(batch), torch.full((3,), 1e-12, dtype=F64))
    torch.testing.assert_close(out, x, atol=1e-9, rtol=1e-9)


def test_spectral_large_time_is_mass_weighted_mean_per_mesh(mixed_members, rng):
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    x = torch.as_tensor(rng.normal(size=(batch.total_verts, 4)))
    out = spectral_diffusion(x, SpectralBasis.from_batch(batch), torch.full((4,), 1e4, dtype=F64))
    expected = global_mean_pool(x, batch)[batch.vert_to_mesh]
    torch.testing.assert_close(out, expected, atol=1e-8, rtol=1e-8)
    assert not torch.allclose(expected[0], expected[-1])  # the means differ per mesh


def test_spectral_matches_dense_heat_kernel_per_channel_time(full_ops, rng):
    batch = MeshBatch.from_operators([full_ops], dtype=F64)
    x = rng.normal(size=(full_ops.num_verts, 3))
    times = np.array([1e-3, 1e-2, 1e-1])
    out = spectral_diffusion(torch.as_tensor(x), SpectralBasis.from_batch(batch), torch.as_tensor(times))
    for c, t in enumerate(times):
        ref = _dense_heat(full_ops, x[:, c : c + 1], lambda lam: np.exp(-lam * t))[:, 0]
        np.testing.assert_allclose(out[:, c].numpy(), ref, atol=1e-10)
        ref_expm = scipy.linalg.expm(-t * np.diag(1 / full_ops.mass) @ full_ops.laplacian.toarray()) @ x[:, c]
        np.testing.assert_allclose(out[:, c].numpy(), ref_expm, atol=1e-8)


@pytest.mark.parametrize("l", [1, 2, 3])
def test_sphere_harmonic_decays_by_exp_l_l_plus_1(l):
    ops = compute_operators(primitives.icosphere(4), k_eig=30)
    batch = MeshBatch.from_operators([ops], dtype=F64)
    z = torch.tensor(ops.verts[:, 2])
    y = {1: z, 2: 3 * z**2 - 1, 3: 5 * z**3 - 3 * z}[l]  # zonal harmonics
    t = 0.05
    out = spectral_diffusion(y[:, None], SpectralBasis.from_batch(batch), torch.tensor([t], dtype=F64))[:, 0]
    expected = np.exp(-l * (l + 1) * t) * y
    err = float((out - expected).abs().max() / y.abs().max())
    assert err < 5e-3, err
    # Not merely "small": a wrong degree would be far off.
    assert float((out - np.exp(-(l + 1) * (l + 2) * t) * y).abs().max() / y.abs().max()) > 10 * err


# ------------------------------------------------------------------------------ implicit diffusion
def test_implicit_is_backward_euler_in_full_basis(full_ops, rng):
    batch = MeshBatch.from_operators([full_ops], dtype=F64)
    x = rng.normal(size=(full_ops.num_verts, 2))
    times = np.array([1e-2, 0.5])
    out = implicit_diffusion(torch.as_tensor(x), ImplicitSystem.from_batch(batch), torch.as_tensor(times), tol=1e-12)
    for c, t in enumerate(times):
        ref = _dense_heat(full_ops, x[:, c : c + 1], lambda lam: 1.0 / (1.0 + lam * t))[:, 0]
        np.testing.assert_allclose(out[:, c].numpy(), ref, atol=1e-9)


def test_spectral_and_implicit_agree_to_second_order_in_t(full_ops, rng):
    batch = MeshBatch.from_operators([full_ops], dtype=F64)
    basis, system = SpectralBasis.from_batch(batch), ImplicitSystem.from_batch(batch)
    x = torch.as_tensor(full_ops.verts[:, :1] + 0.3 * full_ops.verts[:, 1:2] ** 2)  # smooth
    errs = []
    for t in (4e-3, 2e-3, 1e-3):
        tt = torch.tensor([t], dtype=F64)
        s = spectral_diffusion(x, basis, tt)
        i = implicit_diffusion(x, system, tt, tol=1e-13)
        errs.append(float((s - i).abs().max()))
    assert errs[-1] < 1e-4
    for a, b in zip(errs[:-1], errs[1:]):
        assert 3.0 < a / b < 5.0  # O(t^2): halving t divides the gap by ~4


def test_implicit_gradcheck(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    system = ImplicitSystem.from_batch(batch)
    x = torch.randn(batch.total_verts, 2, dtype=F64, requires_grad=True)
    t = torch.tensor([0.01, 0.2], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: implicit_diffusion(x, system, t, tol=1e-13), (x, t))


def test_spectral_gradients_wrt_time(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    basis = SpectralBasis.from_batch(batch)
    x = torch.randn(batch.total_verts, 2, dtype=F64, requires_grad=True)
    t = torch.tensor([0.01, 0.2], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t: spectral_diffusion(x, basis, t), (x, t))


@pytest.mark.parametrize("method", ["spectral", "implicit"])
def test_learned_diffusion_time_stays_positive_and_learns(bumpy_ops, method):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=torch.float32)
    layer = LearnedDiffusion(3, method=method, init_time=-1.0)
    x = torch.randn(batch.total_verts, 3)
    out = layer(x, batch)
    assert bool((layer.time > 0).all())
    out.pow(2).sum().backward()
    assert layer.time.grad is not None and bool((layer.time.grad != 0).all())


@pytest.mark.parametrize("method", ["spectral", "implicit"])
def test_learned_diffusion_eval_uses_clamped_time_without_changing_it(bumpy_ops, method):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    layer = LearnedDiffusion(3, method=method).double()
    layer.time.data = torch.tensor([-0.5, 0.02, 0.1], dtype=F64)
    x = torch.randn(batch.total_verts, 3, dtype=F64)
    out_eval = layer.eval()(x, batch)
    assert float(layer.time.detach()[0]) == -0.5  # evaluation leaves the parameter as it is
    out_train = layer.train()(x, batch)
    assert float(layer.time.detach()[0]) == layer.min_time  # training clamps it in place
    torch.testing.assert_close(out_eval, out_train)


def test_learned_diffusion_rejects_bad_options():
    with pytest.raises(ValueError, match="method"):
        LearnedDiffusion(3, method="explicit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_time"):
        LearnedDiffusion(3, min_time=0.0)


def test_spectral_rejects_wrong_shapes(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    basis = SpectralBasis.from_batch(batch)
    with pytest.raises(ValueError, match="shape"):
        spectral_diffusion(torch.zeros(5, 2, dtype=F64), basis, torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="time"):
        spectral_diffusion(torch.zeros(batch.total_verts, 2, dtype=F64), basis, torch.zeros(3, dtype=F64))


# ------------------------------------------------------------------------------ gradient features
def _naive_gradient_features(x, batch, weight_re, weight_im):
    g = torch.complex(batch.gradient_x.to_dense() @ x, batch.gradient_y.to_dense() @ x)  # (V, C)
    a = torch.complex(weight_re, weight_im)
    return torch.tanh((g.conj() * (g @ a.T)).real)


@pytest.mark.parametrize("rows", [2048, 37])  # 37: H T formed in chunks of 37 vertices
def test_gradient_features_match_naive_complex_formula(bumpy_ops, rows, monkeypatch):
    monkeypatch.setattr(gradient_features_module, "_ROWS", rows)
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    torch.manual_seed(0)
    layer = SpatialGradientFeatures(5).double()
    x = torch.randn(batch.total_verts, 5, dtype=F64)
    out = layer(x, batch)
    ref = _naive_gradient_features(x, batch, layer.weight_re, layer.weight_im)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    real = SpatialGradientFeatures(5, rotations=False).double()
    ref = _naive_gradient_features(x, batch, real.weight_re, torch.zeros(5, 5, dtype=F64))
    torch.testing.assert_close(real(x, batch), ref, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("rows", [2048, 37])
def test_gradient_features_gradcheck(bumpy_ops, rows, monkeypatch):
    monkeypatch.setattr(gradient_features_module, "_ROWS", rows)
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    op = stacked_gradient(batch)
    x = torch.randn(batch.total_verts, 3, dtype=F64, requires_grad=True)
    wr = (0.5 * torch.randn(3, 3, dtype=F64)).requires_grad_()
    wi = (0.5 * torch.randn(3, 3, dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, wr, wi: gradient_features(x, wr, wi, op), (x, wr, wi))


@pytest.mark.parametrize("rotations", [True, False])
def test_feature_operator_gives_gradients_and_their_mixing(mixed_members, rotations):
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    n_verts, c = batch.total_verts, 3
    gen = torch.Generator().manual_seed(3)
    x, p, q = (torch.randn(n_verts, c, generator=gen, dtype=F64) for _ in range(3))
    gx, gy = batch.gradient_x.to_dense(), batch.gradient_y.to_dense()
    table = torch.cat([x, p, q] if rotations else [x, p], 1)  # (V, nC)
    expected = [gx @ x, gy @ x, gx @ p - gy @ q, gy @ p + gx @ q] if rotations else [gx @ x, gy @ x, gx @ p, gy @ p]
    expected = torch.stack(expected, 1)  # (V, 4, C)
    ops = [gradient_feature_operator(stacked_gradient(batch), rotations=rotations),
           batch_feature_operator(batch, rotations=rotations)]
    for op in ops:
        assert op.shape == (4 * n_verts, table.shape[1] // c * n_verts)
        torch.testing.assert_close(op.mm(table.view(-1, c)).view(n_verts, 4, c), expected)
        z = torch.randn(4 * n_verts, c, generator=gen, dtype=F64)
        dense = op.matrix.to_dense()
        torch.testing.assert_close(op.mm_t(z), dense.t() @ z)
    grad = stacked_gradient(batch)  # built once per gradient operator
    assert gradient_feature_operator(grad, rotations=rotations) is gradient_feature_operator(grad, rotations=rotations)


def test_gradient_features_gauge_invariant(mixed_members):
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    gen = torch.Generator().manual_seed(7)
    phi = torch.rand(batch.total_verts, generator=gen, dtype=F64) * 2 * torch.pi
    rotated = batch.rotate_gauge(phi)
    # the rotated gradient really is the gradient in the rotated frames
    f = torch.randn(batch.total_verts, generator=gen, dtype=F64)
    g = torch.complex(batch.gradient_x @ f, batch.gradient_y @ f)
    g_rot = torch.complex(rotated.gradient_x @ f, rotated.gradient_y @ f)
    torch.testing.assert_close(g_rot, g * torch.exp(-1j * phi))
    layer = SpatialGradientFeatures(6).double()
    x = torch.randn(batch.total_verts, 6, generator=gen, dtype=F64)
    torch.testing.assert_close(layer(x, rotated), layer(x, batch), atol=1e-12, rtol=1e-10)
    # The whole network too.
    torch.manual_seed(1)
    net = DiffusionNet(6, 3, width=8, n_blocks=2).double().eval()
    torch.testing.assert_close(net(x, rotated), net(x, batch), atol=1e-12, rtol=1e-10)


def test_gradient_features_are_not_trivially_constant(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    layer = SpatialGradientFeatures(4).double()
    x = torch.tensor(bumpy_ops.verts[:, :1]).repeat(1, 4) * torch.arange(1, 5, dtype=F64)
    out = layer(x, batch)
    assert float(out.detach().std()) > 1e-3


# ------------------------------------------------------------------------------ MLP and pooling
def test_relu_dropout_matches_reference_and_gradcheck():
    z = torch.randn(50, 7, dtype=F64, requires_grad=True)
    torch.testing.assert_close(relu_dropout(z, 0.5, training=False), torch.relu(z))
    y = relu_dropout(z, 0.25, training=True, generator=torch.Generator().manual_seed(3))
    keep, keep_prob = dropout_keep_mask(z.shape, 0.25, generator=torch.Generator().manual_seed(3))
    assert keep_prob == 0.75  # 0.25 is a multiple of 2**-16: exact
    torch.testing.assert_close(y, torch.relu(z) * keep / 0.75)
    assert 0.6 < keep.double().mean() < 0.9
    z2 = (torch.randn(20, 3, dtype=F64) + 0.05).requires_grad_()  # keep away from the kink
    z2.data[z2.data.abs() < 1e-3] = 0.1

    def f(z):
        return relu_dropout(z, 0.5, training=True, generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradcheck(f, (z2,))


def test_keep_mask_rate_quantisation_and_stream():
    # The keep rate is 1 - p (p rounded to 2**-16), within 5 standard deviations over 10^6 draws.
    for p in (0.5, 0.1, 0.9):
        keep, keep_prob = dropout_keep_mask((1000, 1000), p, generator=torch.Generator().manual_seed(1))
        assert abs(keep_prob - (1 - p)) <= 2.0**-17
        assert abs(float(keep.double().mean()) - keep_prob) < 5 * np.sqrt(keep_prob * (1 - keep_prob) / 1e6)
    # Pieces drawn one after the other (sizes not multiples of the 4 values per random word)
    # concatenate to the mask of one draw.
    whole, _ = dropout_keep_mask((61, 7), 0.3, generator=torch.Generator().manual_seed(2))
    stream = KeepMaskStream(0.3, generator=torch.Generator().manual_seed(2))
    pieces = [stream.next((r, 7)) for r in (5, 1, 13, 42)]
    assert torch.equal(torch.cat(pieces), whole)
    # Two seeds differ; the default generator follows torch.manual_seed.
    other, _ = dropout_keep_mask((61, 7), 0.3, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(other, whole)
    torch.manual_seed(9)
    a, _ = dropout_keep_mask((8, 8), 0.5)
    torch.manual_seed(9)
    assert torch.equal(dropout_keep_mask((8, 8), 0.5)[0], a)
    with pytest.raises(ValueError, match="probability"):
        KeepMaskStream(1.0)


def test_mlp_parts_equal_concatenation():
    torch.manual_seed(0)
    mlp = MLP(9, [6, 5], 4).double()
    parts = [torch.randn(11, k, dtype=F64) for k in (2, 3, 4)]
    torch.testing.assert_close(mlp(parts), mlp(torch.cat(parts, 1)))
    with pytest.raises(ValueError, match="add up"):
        mlp(parts[:2])
    with pytest.raises(ValueError, match="dropout"):
        MLP(3, [4], 2, dropout=1.0)


def test_pooling(mixed_members, rng):
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    x = torch.as_tensor(rng.normal(size=(batch.total_verts, 3)))
    mean, mx = global_mean_pool(x, batch), global_max_pool(x, batch)
    assert mean.shape == mx.shape == (3, 3)
    for b, xb in enumerate(batch.split(x)):
        m = batch.split(batch.mass)[b]
        torch.testing.assert_close(mean[b], (m[:, None] * xb).sum(0) / m.sum())
        torch.testing.assert_close(mx[b], xb.max(0).values)
    torch.testing.assert_close(GlobalPool(reduce="max")(x, batch), mx)
    faces = vertices_to_faces(x, batch)
    assert faces.shape == (batch.faces.shape[0], 3)
    torch.testing.assert_close(faces[5], x[batch.faces[5]].mean(0))
    with pytest.raises(ValueError, match="reduce"):
        GlobalPool(reduce="sum")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ DiffusionNet
def _net(out_channels=3, **kw):
    torch.manual_seed(0)
    return DiffusionNet(4, out_channels, width=16, n_blocks=2, **kw).double().eval()


@pytest.mark.parametrize("diffusion", ["spectral", "implicit"])
def test_diffusion_net_batch_consistent(mixed_members, diffusion, rng):
    net = _net(diffusion=diffusion)
    # make the diffusion non-trivial
    for block in net.blocks:
        block.diffusion.time.data.uniform_(0.01, 0.2)
    inputs = [torch.as_tensor(rng.normal(size=(m.num_verts, 4))) for m in mixed_members]
    tol = 1e-10 if diffusion == "spectral" else 1e-5
    assert_batch_consistent(net, mixed_members, inputs, atol=tol, rtol=tol)
    net_g = _net(outputs="global", diffusion=diffusion)
    assert_batch_consistent(net_g, mixed_members, inputs, per="mesh", atol=tol, rtol=tol)


def _hks_input(surface, k=24):
    ops = compute_operators(surface, k_eig=k)
    return torch.as_tensor(hks(ops.evals, ops.evecs, np.geomspace(0.01, 0.5, 4)))


def test_diffusion_net_permutation_equivariant(bumpy):
    net = _net()
    for block in net.blocks:
        block.diffusion.time.data.uniform_(0.01, 0.2)
    x = _hks_input(bumpy)
    assert_permutation_equivariant(net, bumpy, x, operator_kwargs=dict(k_eig=24), atol=1e-7, rtol=1e-6)
    assert_permutation_equivariant(_net(outputs="global"), bumpy, x, per="mesh",
                                   operator_kwargs=dict(k_eig=24), atol=1e-7, rtol=1e-6)


def test_diffusion_net_rigid_invariant_with_hks(bumpy):
    net = _net()
    for block in net.blocks:
        block.diffusion.time.data.uniform_(0.01, 0.2)
    assert_rigid_invariant(net, bumpy, _hks_input(bumpy), operator_kwargs=dict(k_eig=24), atol=1e-7, rtol=1e-6)


def test_diffusion_net_output_shapes(mixed_members):
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    x = torch.randn(batch.total_verts, 4, dtype=F64)
    assert _net()(x, batch).shape == (batch.total_verts, 3)
    assert _net(outputs="faces")(x, batch).shape == (batch.faces.shape[0], 3)
    assert _net(outputs="global")(x, batch).shape == (3, 3)
    out = _net(outputs="global", last_activation=lambda t: torch.log_softmax(t, -1))(x, batch)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="outputs"):
        DiffusionNet(4, 3, outputs="edges")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        _net()(x[:, :2], batch)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_diffusion_net_deterministic_and_dtypes(mixed_members, dtype):
    batch = MeshBatch.from_operators(mixed_members, dtype=dtype)
    x = torch.randn(batch.total_verts, 4, dtype=dtype)

    def run():
        torch.manual_seed(11)
        net = DiffusionNet(4, 2, width=16, n_blocks=2, dropout=0.5).to(dtype).train()
        out = net(x, batch)
        out.pow(2).sum().backward()
        return out, [p.grad.clone() for p in net.parameters()]

    (o1, g1), (o2, g2) = run(), run()
    assert o1.dtype == dtype
    assert torch.equal(o1, o2)
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))
    assert all(torch.isfinite(g).all() for g in g1)
    assert sum(float(g.abs().sum()) > 0 for g in g1) == len(g1)  # every parameter learns


def test_float32_matches_float64(mixed_members):
    net64 = _net()
    net32 = _net().float()
    b64 = MeshBatch.from_operators(mixed_members, dtype=F64)
    b32 = MeshBatch.from_operators(mixed_members, dtype=torch.float32)
    x = torch.randn(b64.total_verts, 4, dtype=F64)
    torch.testing.assert_close(net32(x.float(), b32).double(), net64(x, b64), atol=1e-4, rtol=1e-4)


def test_diffusion_net_gradcheck_small(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    torch.manual_seed(0)
    net = DiffusionNet(2, 2, width=4, n_blocks=1, dropout=0.0).double()
    net.blocks[0].diffusion.time.data.fill_(0.05)
    x = torch.randn(batch.total_verts, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: net(x, batch), (x,))


def test_block_standalone_equals_prepared(bumpy_ops):
    batch = MeshBatch.from_operators([bumpy_ops], dtype=F64)
    torch.manual_seed(0)
    block = DiffusionNetBlock(6, dropout=0.0).double()
    block.diffusion.time.data.fill_(0.1)
    x = torch.randn(batch.total_verts, 6, dtype=F64)
    prepared = block(x, batch, basis=SpectralBasis.from_batch(batch), gradient=stacked_gradient(batch))
    torch.testing.assert_close(block(x, batch), prepared)


# ------------------------------------------------------------------------------ tiled block
def _plain_block(block, x, batch, basis, gradient, input_linear=None, output_linear=None):
    """The block as the plain composition of its layers (the slow obvious version)."""
    if input_linear is not None:
        x = input_linear(x)
    diffused = block.diffusion(x, batch, basis=basis)
    parts = [x, diffused]
    if block.gradient_features is not None:
        parts.append(block.gradient_features(diffused, batch, gradient=gradient))
    out = x + block.mlp(parts)
    return output_linear(out) if output_linear is not None else out


def _block(width, seed=0, **kw):
    torch.manual_seed(seed)
    block = DiffusionNetBlock(width, **kw).double()
    block.diffusion.time.data.uniform_(0.01, 0.2)
    return block


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(gradient_rotations=False, mlp_hidden=(10,)),
        dict(gradient_features=False, mlp_hidden=(16, 9, 7)),
        dict(mlp_hidden=()),
        dict(dropout=0.3),
    ],
)
@pytest.mark.parametrize("ends", ["none", "input", "output", "both"])
def test_tiled_block_matches_plain_composition(mixed_members, kw, ends):
    """Forward and backward of the tiled block equal the layers composed one by one (float64),
    with tiles splitting the members (37 rows), with dropout (same masks from the same seed), and
    with linear layers before and after the block folded in (DiffusionNet's first and last)."""
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)  # K_b = 20, 12, 16
    basis, gradient = SpectralBasis.from_batch(batch), stacked_gradient(batch)
    block = _block(20, **kw).train()
    torch.manual_seed(1)
    lin_in = torch.nn.Linear(6, 20).double() if ends in ("input", "both") else None
    lin_out = torch.nn.Linear(20, 3).double() if ends in ("output", "both") else None
    modules = [m for m in (block, lin_in, lin_out) if m is not None]
    params = [p for m in modules for p in m.parameters()]
    rotations = kw.get("gradient_rotations", True)
    ops = BlockOperators.build(basis, gradient if kw.get("gradient_features", True) else None,
                               rotations=rotations, rows_per_tile=37)
    assert block.tiled(torch.zeros(batch.total_verts, 20, dtype=F64), basis)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch.total_verts, 6 if lin_in else 20, generator=gen, dtype=F64)
    grad_out = torch.randn(batch.total_verts, 3 if lin_out else 20, generator=gen, dtype=F64)
    results = []
    runs = (lambda x: _plain_block(block, x, batch, basis, gradient, lin_in, lin_out),
            lambda x: block(x, batch, operators=ops, input_linear=lin_in, output_linear=lin_out))
    for run in runs:
        for p in params:
            p.grad = None
        xx = x.clone().requires_grad_()
        torch.manual_seed(5)
        out = run(xx)
        out.backward(grad_out)
        results.append((out.detach(), xx.grad, [p.grad.clone() for p in params]))
    (out_a, gx_a, gp_a), (out_b, gx_b, gp_b) = results
    torch.testing.assert_close(out_b, out_a, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(gx_b, gx_a, atol=1e-12, rtol=1e-10)
    for a, b in zip(gp_a, gp_b):
        torch.testing.assert_close(b, a, atol=1e-11, rtol=1e-10)
    if kw.get("dropout"):
        block.eval()
        assert not torch.allclose(out_a, block(x, batch, operators=ops, input_linear=lin_in, output_linear=lin_out))


@pytest.mark.parametrize("rotations, ends", [(True, False), (False, False), (True, True)])
def test_tiled_block_gradcheck(rotations, ends):
    ops_np = compute_operators(primitives.bumpy_sphere(0, seed=4), k_eig=4)  # 12 vertices
    batch = MeshBatch.from_operators([ops_np], dtype=F64)
    basis = SpectralBasis.from_batch(batch)
    ops = BlockOperators.build(basis, stacked_gradient(batch), rotations=rotations, rows_per_tile=5)
    gen = torch.Generator().manual_seed(1)
    c, h, c_in, c_out = 4, 3, 2, 3

    def rand(*shape):
        return (0.5 * torch.randn(*shape, generator=gen, dtype=F64)).requires_grad_()

    w1, b1, w2, b2, w3, b3 = rand(h, 3 * c), rand(h), rand(h, h), rand(h), rand(c, h), rand(c)
    time_ = torch.tensor([0.05, 0.1, 0.2, 0.3], dtype=F64, requires_grad=True)
    a_re, a_im = rand(c, c), rand(c, c) if rotations else None
    ends_params = (rand(c, c_in), rand(c), rand(c_out, c), rand(c_out)) if ends else ()
    x = rand(12, c_in if ends else c)

    def f(x, time_, w1, b1, a_re, w2, b2, w3, b3, *more):
        a_im = more[0] if rotations else None
        e = more[1:] if rotations else more
        torch.manual_seed(0)  # the same dropout masks at every evaluation
        return spectral_block(x, ops, time=time_, first_weight=w1, first_bias=b1, weight_re=a_re, weight_im=a_im,
                              linears=[(w2, b2), (w3, b3)], dropout=0.25,
                              input_linear=e[:2] if e else None, output_linear=e[2:] if e else None)

    inputs = (x, time_, w1, b1, a_re, w2, b2, w3, b3) + ((a_im,) if rotations else ()) + ends_params
    assert torch.autograd.gradcheck(f, inputs)


def test_diffusion_net_tiled_equals_plain_and_is_equivariant(mixed_members, bumpy, rng):
    """With K <= width the network runs tiled blocks; outputs equal the plain composition, and the
    symmetry checks hold for the tiled path too."""
    torch.manual_seed(0)
    net = DiffusionNet(4, 3, width=24, n_blocks=2).double().eval()
    for block in net.blocks:
        block.diffusion.time.data.uniform_(0.01, 0.2)
    batch = MeshBatch.from_operators(mixed_members, dtype=F64)
    basis, gradient = SpectralBasis.from_batch(batch), stacked_gradient(batch)
    x = torch.as_tensor(rng.normal(size=(batch.total_verts, 4)))
    assert net.blocks[0].tiled(net.first(x), basis)
    h = net.first(x)
    for block in net.blocks:
        h = _plain_block(block, h, batch, basis, gradient)
    torch.testing.assert_close(net(x, batch), net.last(h), atol=1e-12, rtol=1e-10)
    with torch.no_grad():  # nothing kept for a backward: tile-sized activations
        torch.testing.assert_close(net(x, batch), net.last(h), atol=1e-12, rtol=1e-10)
    inputs = [torch.as_tensor(rng.normal(size=(m.num_verts, 4))) for m in mixed_members]
    assert_batch_consistent(net, mixed_members, inputs, atol=1e-10, rtol=1e-10)
    # Training mode (dropout): same masks, same gradients for every parameter.
    net.train()
    grads = []
    for tiled in (True, False):
        net.zero_grad()
        torch.manual_seed(3)
        if tiled:
            out = net(x, batch)
        else:
            h = net.first(x)
            for block in net.blocks:
                h = _plain_block(block, h, batch, basis, gradient)
            out = net.last(h)
        out.pow(2).sum().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    net.eval()
    phi = torch.rand(batch.total_verts, generator=torch.Generator().manual_seed(7), dtype=F64) * 2 * torch.pi
    torch.testing.assert_close(net(x, batch.rotate_gauge(phi)), net(x, batch), atol=1e-12, rtol=1e-10)
    xb = _hks_input(bumpy)
    assert_permutation_equivariant(net, bumpy, xb, operator_kwargs=dict(k_eig=24), atol=1e-7, rtol=1e-6)
    # Hooks on the first and last layers still fire (those layers are then not folded into blocks):
    # tasks read the learned features as the input of ``net.last``.
    seen = []
    handles = [net.last.register_forward_pre_hook(lambda _m, args: seen.append(args[0])),
               net.first.register_forward_hook(lambda _m, args, out: seen.append(out))]
    try:
        out = net(x, batch)
    finally:
        for handle in handles:
            handle.remove()
    h = net.first(x)
    torch.testing.assert_close(seen[0], h)
    for block in net.blocks:
        h = _plain_block(block, h, batch, basis, gradient)
    torch.testing.assert_close(seen[1], h, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(out, net.last(h), atol=1e-12, rtol=1e-10)


@pytest.mark.cuda
def test_diffusion_net_cuda_matches_cpu(mixed_members):
    net = _net()
    b = MeshBatch.from_operators(mixed_members, dtype=F64)
    x = torch.randn(b.total_verts, 4, dtype=F64)
    out_gpu = net.to("cuda")(x.cuda(), b.to("cuda"))
    torch.testing.assert_close(out_gpu.cpu(), net.cpu()(x, b), atol=1e-9, rtol=1e-9)
