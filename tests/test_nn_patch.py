"""Patch layers (GCNN, ACNN, MoNet): gather vs reference, gauge behaviour, batches, symmetries."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from geodesic_nets.batch import wrap_angle
from geodesic_nets.nn.pooling import global_mean_pool

from geodesic_nets import primitives
from geodesic_nets.batch import MeshBatch
from geodesic_nets.errors import GeodesicNetsError
from geodesic_nets.geometry.descriptors import hks
from geodesic_nets.nn.patch import (
    ACNNConv,
    GaussianKernels,
    GCNNConv,
    MoNetConv,
    PatchAggregate,
    PatchGather,
    PatchNet,
    aggregate_flat,
)
from geodesic_nets.operators import compute_operators
from geodesic_nets.testing import (
    assert_batch_consistent,
    assert_permutation_equivariant,
    assert_rigid_invariant,
)

F64 = torch.float64
OPK = dict(k_eig=16, patch_size=12)


@pytest.fixture(scope="module")
def bumpy():
    return primitives.bumpy_sphere(2, seed=3)


@pytest.fixture(scope="module")
def ops(bumpy):
    return compute_operators(bumpy, **OPK)


@pytest.fixture(scope="module")
def members():
    """Mixed sizes and patch widths: two meshes and a point cloud."""
    return [
        compute_operators(primitives.bumpy_sphere(2, seed=1), k_eig=16, patch_size=12),
        compute_operators(primitives.sphere_point_cloud(200, seed=2), k_eig=16, patch_size=9),
        compute_operators(primitives.torus(16, 9), k_eig=16, patch_size=12),
    ]


@pytest.fixture(scope="module")
def batch(ops):
    return MeshBatch.from_operators([ops], dtype=F64)


def _x(n, c, seed=0):
    return torch.randn(n, c, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _hks(o, n=6):
    return torch.as_tensor(hks(o.evals, o.evecs, normalization="heat_trace")[:, :n] * 10.0)


def _phi_multiples(nv, step, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-20, 20, (nv,), generator=g).to(F64) * step


def _phi_any(nv, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(nv, generator=g, dtype=F64) * 2 - 1) * math.pi


LAYERS = {
    "gcnn_max": lambda ci, co: GCNNConv(ci, co, n_theta=8),
    "gcnn_fourier": lambda ci, co: GCNNConv(ci, co, n_theta=8, rotation="fourier"),
    "gcnn_fourier_odd": lambda ci, co: GCNNConv(ci, co, n_theta=5, rotation="fourier"),
    "gcnn_none": lambda ci, co: GCNNConv(ci, co, rotation="none"),
    "acnn_max": lambda ci, co: ACNNConv(ci, co, n_theta=6),
    "acnn_gauge": lambda ci, co: ACNNConv(ci, co, orientation="gauge"),
    "monet_polar": lambda ci, co: MoNetConv(ci, co),
    "monet_rho": lambda ci, co: MoNetConv(ci, co, coords="rho"),
}


def _layer(name, ci=3, co=4, seed=0):
    torch.manual_seed(seed)
    return LAYERS[name](ci, co).double()


# ---------------------------------------------------------------- the gather


def _truncated(batch: MeshBatch, seed=0) -> MeshBatch:
    """Drop random non-centre entries: patches of varying sizes."""
    keep = torch.rand(len(batch.patch_center), generator=torch.Generator().manual_seed(seed)) > 0.3
    keep |= batch.patch_rho == 0
    return dataclasses.replace(
        batch,
        patch_center=batch.patch_center[keep],
        patch_neighbor=batch.patch_neighbor[keep],
        patch_rho=batch.patch_rho[keep],
        patch_theta=batch.patch_theta[keep],
    )


@pytest.mark.parametrize("variable", [False, True])
def test_gather_matches_flat_reference_forward_and_backward(batch, variable):
    b = _truncated(batch) if variable else batch
    pg = PatchGather.from_batch(b)
    nv, k = pg.index.shape
    assert (pg.quadrature == 0).any() == variable
    x = _x(nv, 3).requires_grad_()
    w_dense = torch.rand(nv, k, 5, dtype=F64) * pg.quadrature[..., None]
    w_dense.requires_grad_()
    out = pg.aggregate(x, w_dense)
    # Same weights laid out flat: slot (v, j) of a real entry <-> its flat position.
    valid = pg.quadrature > 0
    center = torch.arange(nv)[:, None].expand(nv, k)[valid]
    w_flat = w_dense[valid]
    assert torch.equal(pg.index[valid], b.patch_neighbor)  # grouped by centre, same order
    ref = aggregate_flat(x, center, pg.index[valid], w_flat)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    g = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, w_dense), g)
    rx, rw = torch.autograd.grad(ref, (x, w_dense), g)
    torch.testing.assert_close(gx, rx, atol=1e-12, rtol=1e-12)
    # Padding slots are not weights of the flat layout (their gradient is that of a dummy).
    torch.testing.assert_close(gw[valid], rw[valid], atol=1e-12, rtol=1e-12)


def test_gradcheck_patch_aggregate(batch):
    b = _truncated(batch)
    pg = PatchGather.from_batch(b)
    sub = pg.index[:20] % 20  # a small self-contained problem (20 vertices)
    x = _x(20, 3).requires_grad_()
    w = (torch.rand(20, sub.shape[1], 4, dtype=F64) * pg.quadrature[:20, :, None]).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: PatchAggregate.apply(x, w, sub), (x, w))
    # Only one of the inputs requiring a gradient.
    out = PatchAggregate.apply(x.detach(), w, sub)
    (gw,) = torch.autograd.grad(out.sum(), w)
    assert gw.shape == w.shape


@pytest.mark.parametrize("chunk", [7, 4096])
@pytest.mark.parametrize("polar", [False, True])
def test_gaussian_kernels_match_plain_autograd_and_gradcheck(batch, polar, chunk, monkeypatch):
    import geodesic_nets.nn.patch.monet as monet_module

    monkeypatch.setattr(monet_module, "_CHUNK", chunk)  # several blocks, or one
    pg = PatchGather.from_batch(batch)
    rho, theta, q = pg.rho[:15], pg.theta[:15], pg.quadrature[:15]
    ang = (~pg.at_center[:15]).to(F64)
    g = torch.Generator().manual_seed(0)
    params = [torch.rand(5, dtype=F64, generator=g), torch.randn(5, dtype=F64, generator=g) * 0.3 - 1,
              (torch.rand(5, dtype=F64, generator=g) * 2 - 1) * math.pi, torch.randn(5, dtype=F64, generator=g) * 0.3]
    params = [p.requires_grad_() for p in (params if polar else params[:2])]

    def fused(*ps):
        return GaussianKernels.apply(rho, q, ps[0], ps[1], theta, ang, ps[2], ps[3]) if polar else GaussianKernels.apply(rho, q, *ps)

    def plain(*ps):
        e = ((rho[..., None] - ps[0]) / ps[1].exp()) ** 2
        if polar:
            e = e + ang[..., None] * (wrap_angle(theta[..., None] - ps[2]) / ps[3].exp()) ** 2
        return q[..., None] * torch.exp(-0.5 * e)

    out, ref = fused(*params), plain(*params)
    torch.testing.assert_close(out, ref, atol=1e-14, rtol=1e-12)
    gout = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, params, gout), torch.autograd.grad(ref, params, gout)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    assert torch.autograd.gradcheck(fused, tuple(params))
    with pytest.raises(ValueError, match="parameters only"):
        GaussianKernels.apply(rho.clone().requires_grad_(), q, *params[:2])


def test_gather_view_fields(batch):
    pg = PatchGather.from_batch(batch)
    assert pg.index.shape == (batch.total_verts, 12)
    assert torch.equal(pg.index[:, 0], torch.arange(batch.total_verts))  # centre first
    assert pg.at_center[:, 0].all() and not pg.at_center[:, 1:].any()
    torch.testing.assert_close(pg.rho.amax(1), torch.ones(batch.total_verts, dtype=F64))
    pg2 = PatchGather.from_batch(batch, radius=0.5)
    torch.testing.assert_close(pg2.rho * 0.5, batch.patch_rho.view(-1, 12))
    w = pg.normalize(torch.rand(*pg.index.shape, 3, dtype=F64))
    torch.testing.assert_close(w.sum(1), torch.ones(batch.total_verts, 3, dtype=F64))


def test_cached_weights_are_shared_and_laid_out_for_the_gather(batch):
    pg = PatchGather.from_batch(batch)
    calls = []

    def compute():
        calls.append(1)
        return torch.rand(*pg.index.shape, 5, dtype=F64)

    a, b = pg.cached("k", compute), pg.cached("k", compute)
    assert a is b and len(calls) == 1 and a.shape == (*pg.index.shape, 5)
    assert a.transpose(1, 2).is_contiguous()
    # A layer given a shared view gives what it gives alone.
    layer = _layer("gcnn_max")
    x = _x(batch.total_verts, 3)
    torch.testing.assert_close(layer(x, batch, pg), layer(x, batch), atol=0, rtol=0)
    assert ("gcnn", 3, 8) in pg._cache


def test_errors(ops, batch):
    no_patches = MeshBatch.from_operators([compute_operators(primitives.bumpy_sphere(1), k_eig=8)])
    with pytest.raises(GeodesicNetsError, match="patch_size"):
        GCNNConv(2, 2)(torch.zeros(no_patches.total_verts, 2), no_patches)
    with pytest.raises(ValueError, match="rotation"):
        GCNNConv(2, 2, rotation="mean")
    with pytest.raises(ValueError, match="orientation"):
        ACNNConv(2, 2, orientation="curvature")
    with pytest.raises(ValueError, match="coords"):
        MoNetConv(2, 2, coords="xy")
    with pytest.raises(ValueError, match="anisotropy"):
        ACNNConv(2, 2, anisotropy=(0.5,))
    with pytest.raises(ValueError, match="kind"):
        PatchNet("gem", 2, 2)
    with pytest.raises(ValueError, match="radius"):
        PatchGather.from_batch(batch, radius=0.0)
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        _layer("monet_rho")(_x(batch.total_verts, 2), batch)


# ---------------------------------------------------------------- gauge behaviour


def test_rotate_gauge_matches_the_frame_convention(batch):
    """Edge polar angles recomputed from the rotated basis move by -phi[src]."""
    phi = _phi_any(batch.total_verts)
    rb = batch.rotate_gauge(phi)
    d = batch.verts[batch.edge_dst] - batch.verts[batch.edge_src]

    def angle(b):
        return torch.atan2((d * b.basis_y[b.edge_src]).sum(1), (d * b.basis_x[b.edge_src]).sum(1))

    torch.testing.assert_close(wrap_angle(angle(rb) - angle(batch) + phi[batch.edge_src]), torch.zeros_like(phi[batch.edge_src]), atol=1e-12, rtol=0)
    torch.testing.assert_close(wrap_angle(rb.edge_angle - batch.edge_angle + phi[batch.edge_src]).abs().max(), torch.tensor(0.0, dtype=F64), atol=1e-12, rtol=0)
    assert (rb.patch_theta > -math.pi).all() and (rb.patch_theta <= math.pi).all()
    # Rotating back is the identity on the angles.
    back = rb.rotate_gauge(-phi)
    torch.testing.assert_close(wrap_angle(back.patch_theta - batch.patch_theta), torch.zeros_like(batch.patch_theta), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "name, step",
    [("gcnn_max", 2 * math.pi / 8), ("acnn_max", math.pi / 6), ("gcnn_fourier", 2 * math.pi / 8)],
)
def test_exact_invariance_to_discrete_gauge_rotations(batch, name, step):
    layer = _layer(name)
    x = _x(batch.total_verts, 3)
    out = layer(x, batch)
    out_r = layer(x, batch.rotate_gauge(_phi_multiples(batch.total_verts, step)))
    torch.testing.assert_close(out_r, out, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["gcnn_fourier", "gcnn_fourier_odd", "monet_rho"])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_invariance_to_any_gauge_rotation(batch, name, seed):
    layer = _layer(name, seed=seed)
    x = _x(batch.total_verts, 3, seed)
    out = layer(x, batch)
    out_r = layer(x, batch.rotate_gauge(_phi_any(batch.total_verts, seed)))
    torch.testing.assert_close(out_r, out, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["gcnn_max", "acnn_max"])
@torch.no_grad()
def test_max_pooling_is_only_approximately_invariant_to_other_angles(batch, name):
    layer = _layer(name)
    x = _x(batch.total_verts, 3)
    out = layer(x, batch)
    out_r = layer(x, batch.rotate_gauge(_phi_any(batch.total_verts)))
    rel = float((out_r - out).norm() / out.norm())
    assert 1e-6 < rel < 0.5, rel


@pytest.mark.parametrize("name", ["monet_polar", "gcnn_none", "acnn_gauge"])
@torch.no_grad()
def test_gauge_dependent_layers_change_with_the_gauge(batch, name):
    layer = _layer(name)
    x = _x(batch.total_verts, 3)
    out = layer(x, batch)
    out_r = layer(x, batch.rotate_gauge(_phi_any(batch.total_verts)))
    assert float((out_r - out).norm() / out.norm()) > 1e-2


def test_gauge_dependent_layers_follow_a_global_frame_rotation_of_the_kernels(batch):
    """Polar MoNet in frames rotated by c equals the layer with every kernel mean turned by +c."""
    layer = _layer("monet_polar")
    shifted = _layer("monet_polar")
    c = 0.7
    with torch.no_grad():
        shifted.mu_theta.copy_(wrap_angle(layer.mu_theta + c))
    x = _x(batch.total_verts, 3)
    out_r = layer(x, batch.rotate_gauge(torch.full((batch.total_verts,), c, dtype=F64)))
    torch.testing.assert_close(out_r, shifted(x, batch), atol=1e-12, rtol=1e-10)


@torch.no_grad()
@pytest.mark.parametrize("name", ["gcnn_max", "acnn_max"])
def test_max_pooling_is_the_max_over_rolled_filters(batch, name):
    """Slow obvious reference: the unpooled layer with its filter rolled along the angular axis."""
    layer = _layer(name)
    plain = GCNNConv(3, 4, rotation="none") if name == "gcnn_max" else ACNNConv(3, 4, n_theta=6, orientation="gauge")
    plain = plain.double()
    x = _x(batch.total_verts, 3)
    outs = []
    for s in range(layer.n_theta):
        plain.weight.copy_(torch.roll(layer.weight, s, dims=-1))
        plain.bias.copy_(layer.bias)
        outs.append(plain(x, batch))
    torch.testing.assert_close(layer(x, batch), torch.stack(outs).amax(0), atol=1e-13, rtol=1e-12)


@torch.no_grad()
@pytest.mark.parametrize("name", ["gcnn_max", "gcnn_none", "acnn_max", "acnn_gauge"])
def test_normalized_bins_map_constants_to_constants(members, name):
    """Every bin / kernel averages (weights sum to 1), so a constant input gives one output everywhere."""
    b = MeshBatch.from_operators(members, dtype=F64)
    layer = _layer(name)
    out = layer(torch.ones(b.total_verts, 3, dtype=F64) * torch.tensor([0.5, -1.0, 2.0], dtype=F64), b)
    torch.testing.assert_close(out, out[:1].expand_as(out), atol=1e-12, rtol=1e-10)


# ---------------------------------------------------------------- batches and symmetries


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_are_batch_consistent(members, name):
    layer = _layer(name)
    xs = [_x(m.verts.shape[0], 3, i) for i, m in enumerate(members)]
    assert_batch_consistent(layer, members, xs, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", ["gcnn", "acnn", "monet"])
@pytest.mark.parametrize("outputs", ["vertices", "global"])
def test_patchnet_batch_consistent(members, kind, outputs):
    torch.manual_seed(0)
    net = PatchNet(kind, 3, 2, width=8, n_layers=2, outputs=outputs).double()
    xs = [_x(m.verts.shape[0], 3, i) for i, m in enumerate(members)]
    assert_batch_consistent(net, members, xs, per="mesh" if outputs == "global" else "vertex", atol=1e-12, rtol=1e-10)
    out = net(torch.cat(xs), MeshBatch.from_operators(members, dtype=F64))
    assert out.shape == ((3, 2) if outputs == "global" else (sum(x.shape[0] for x in xs), 2))


@pytest.mark.parametrize("name", ["gcnn_max", "gcnn_fourier", "acnn_max", "monet_polar"])
def test_permutation_equivariant(bumpy, ops, name):
    assert_permutation_equivariant(_layer(name, ci=6), bumpy, _hks(ops), operator_kwargs=OPK, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("name", ["gcnn_max", "gcnn_fourier", "acnn_gauge", "monet_polar", "monet_rho"])
def test_rigid_invariant(bumpy, ops, name):
    assert_rigid_invariant(_layer(name, ci=6), bumpy, _hks(ops), operator_kwargs=OPK, atol=1e-8, rtol=1e-6)


def test_patchnet_global_rigid_and_permutation(bumpy, ops):
    torch.manual_seed(0)
    net = PatchNet("monet", 6, 3, width=8, n_layers=2, outputs="global").double()
    assert_rigid_invariant(net, bumpy, _hks(ops), per="mesh", operator_kwargs=OPK)
    assert_permutation_equivariant(net, bumpy, _hks(ops), per="mesh", operator_kwargs=OPK)


@pytest.mark.parametrize(
    "kind, kw, step",
    [("gcnn", dict(rotation="fourier"), None), ("monet", dict(coords="rho"), None), ("gcnn", dict(n_theta=6), math.pi / 3),
     ("acnn", dict(n_theta=4), math.pi / 4)],
)
@torch.no_grad()
def test_patchnet_gauge_invariance(members, kind, kw, step):
    torch.manual_seed(0)
    net = PatchNet(kind, 3, 2, width=8, n_layers=2, layer_kwargs=kw).double()
    b = MeshBatch.from_operators(members, dtype=F64)
    x = _x(b.total_verts, 3)
    phi = _phi_any(b.total_verts) if step is None else _phi_multiples(b.total_verts, step)
    torch.testing.assert_close(net(x, b.rotate_gauge(phi)), net(x, b), atol=1e-12, rtol=1e-10)


def test_global_mean_pool(members):
    b = MeshBatch.from_operators(members, dtype=F64)
    x = torch.ones(b.total_verts, 2, dtype=F64)
    torch.testing.assert_close(global_mean_pool(x, b), torch.ones(3, 2, dtype=F64))
    x = b.verts[:, :1].clone()
    for i, (bi, o) in enumerate(zip(b.split(x), members)):
        m = torch.as_tensor(o.mass)
        torch.testing.assert_close(global_mean_pool(x, b)[i, 0], (m * bi[:, 0]).sum() / m.sum())


# ---------------------------------------------------------------- precision and gradients


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float32_matches_float64(ops, name):
    layer = _layer(name)
    b64 = MeshBatch.from_operators([ops], dtype=F64)
    b32 = MeshBatch.from_operators([ops], dtype=torch.float32)
    x = _x(b64.total_verts, 3)
    out64 = layer(x, b64)
    out32 = layer.float()(x.float(), b32)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["gcnn_max", "gcnn_fourier", "acnn_max", "monet_polar", "monet_rho"])
def test_gradcheck_inputs_and_parameters(name):
    o = compute_operators(primitives.bumpy_sphere(0, seed=1), k_eig=6, patch_size=6)
    b = MeshBatch.from_operators([o], dtype=F64)
    layer = _layer(name, ci=2, co=2)
    x = _x(b.total_verts, 2).requires_grad_()
    params = [p for p in layer.parameters()]
    names = [n for n, _ in layer.named_parameters()]

    def fn(x, *ps):
        for n, p in zip(names, ps):
            mod, attr = layer, n
            if "." in n:
                sub, attr = n.split(".")
                mod = getattr(layer, sub)
            setattr(mod, attr, p)
        return layer(x, b)

    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    # Plain tensors replace the Parameters for the check.
    for n in names:
        mod, attr = layer, n
        if "." in n:
            sub, attr = n.split(".")
            mod = getattr(layer, sub)
        delattr(mod, attr)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


def test_patchnet_trains(members):
    """A few Adam steps reduce a regression loss on a mixed batch (gradients reach every layer)."""
    torch.manual_seed(0)
    b = MeshBatch.from_operators(members, dtype=torch.float32)
    x = b.verts.clone()
    target = torch.sin(3 * b.verts[:, :1])
    for kind in ("gcnn", "acnn", "monet"):
        net = PatchNet(kind, 3, 1, width=8, n_layers=2)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses = []
        for _ in range(15):
            opt.zero_grad()
            loss = ((net(x, b) - target) ** 2).mean()
            loss.backward()
            losses.append(loss.item())
            opt.step()
        assert all(p.grad is not None for p in net.parameters()), kind
        assert losses[-1] < 0.8 * losses[0], (kind, losses)


@pytest.mark.cuda
def test_cuda_matches_cpu(ops):
    b = MeshBatch.from_operators([ops], dtype=torch.float32)
    torch.manual_seed(0)
    net = PatchNet("monet", 3, 2, width=8, n_layers=2)
    x = torch.randn(b.total_verts, 3)
    out = net(x, b)
    out_cuda = net.cuda()(x.cuda(), b.to("cuda"))
    torch.testing.assert_close(out_cuda.cpu(), out, atol=1e-4, rtol=1e-4)
