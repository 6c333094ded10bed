"""Functional maps: closed-form solve vs a dense reference, recovery of a known permutation,
point map <-> functional map conventions, ZoomOut, blocked nearest neighbours, gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geodesic_nets import primitives
from geodesic_nets.errors import GeodesicNetsError, GeometryError
from geodesic_nets.geometry.descriptors import hks, wks
from geodesic_nets.geometry.sampling import farthest_points
from geodesic_nets.geometry.laplacian import laplacian_and_mass
from geodesic_nets.geometry.spectral import eigen_basis
from geodesic_nets.tasks.functional_maps import (
    commutativity_mask,
    fmap_from_features,
    fmap_from_pointmap,
    nearest_neighbor_map,
    pointmap_from_fmap,
    spectral_coefficients,
    zoomout,
)
from geodesic_nets.testing import random_rotation

K = 40


def _t(x, dtype=torch.float64):
    return torch.tensor(np.array(x), dtype=dtype)


class Pair:
    """Shape a (bumpy sphere) and b = a rotated, with permuted vertices and sign-flipped basis."""

    def __init__(self) -> None:
        s = primitives.bumpy_sphere(3)
        rng = np.random.default_rng(7)
        self.perm = rng.permutation(s.num_verts)  # vertex v of b is vertex perm[v] of a
        inv = np.argsort(self.perm)
        self.rot = random_rotation(3)
        self.verts_a, self.faces_a = s.verts, s.faces
        self.verts_b, self.faces_b = s.verts[self.perm] @ self.rot.T, inv[s.faces]
        La, Ma = laplacian_and_mass(self.verts_a, self.faces_a)
        Lb, Mb = laplacian_and_mass(self.verts_b, self.faces_b)
        self.evals_a, self.evecs_a = eigen_basis(La, Ma, K)
        self.evals_b, evecs_b = eigen_basis(Lb, Mb, K)
        self.signs = rng.choice([-1.0, 1.0], size=K)
        self.signs[0] = 1.0
        self.evecs_b = evecs_b * self.signs  # another valid eigenbasis of b
        self.mass_a, self.mass_b = Ma.diagonal().copy(), Mb.diagonal().copy()

    def torch(self, dtype=torch.float64):
        return {
            "evecs_a": _t(self.evecs_a, dtype),
            "evecs_b": _t(self.evecs_b, dtype),
            "mass_a": _t(self.mass_a, dtype),
            "mass_b": _t(self.mass_b, dtype),
            "evals_a": _t(self.evals_a, dtype),
            "evals_b": _t(self.evals_b, dtype),
        }


@pytest.fixture(scope="module")
def pair():
    return Pair()


def _descriptors(p: Pair, kind: str):
    if kind == "wks_hks":
        fa = np.concatenate([wks(p.evals_a, p.evecs_a), hks(p.evals_a, p.evecs_a)], axis=1)
        fb = np.concatenate([wks(p.evals_b, p.evecs_b), hks(p.evals_b, p.evecs_b)], axis=1)
        return fa, fb
    # xyz of the rotated copy, brought back to a's frame
    return p.verts_a, p.verts_b @ p.rot


# ---------------------------------------------------------------------------- the solve
@pytest.mark.parametrize("kind", ["wks_hks", "xyz"])
@pytest.mark.parametrize("gamma", [0.5, None])
def test_features_recover_the_permutation(pair, kind, gamma):
    fa, fb = _descriptors(pair, kind)
    C = fmap_from_features(_t(fa), _t(fb), **pair.torch(), resolvent_gamma=gamma)
    assert C.shape == (K, K)
    # the true map is the sign flip of b's basis: C_ab = Phi_b^T M_b Phi_a[perm] = diag(signs)
    np.testing.assert_allclose(C.numpy(), np.diag(pair.signs), atol=1e-6)
    p2p = pointmap_from_fmap(C, _t(pair.evecs_a), _t(pair.evecs_b))
    assert p2p.dtype == torch.int64
    np.testing.assert_array_equal(p2p.numpy(), pair.perm)


def test_features_recover_the_permutation_float32(pair):
    # band-limited random descriptors excite every eigenfunction, so float32 is well conditioned
    # (WKS/HKS or xyz leave some coefficients near 1e-5..1e-10: those rows need float64)
    g = np.random.default_rng(0).normal(size=(K, 64))
    fa = pair.evecs_a @ g
    fb = fa[pair.perm]
    ops = pair.torch(torch.float32)
    C = fmap_from_features(_t(fa, torch.float32), _t(fb, torch.float32), **ops)
    assert C.dtype == torch.float32
    np.testing.assert_allclose(C.numpy(), np.diag(pair.signs), atol=1e-3)
    p2p = pointmap_from_fmap(C, ops["evecs_a"], ops["evecs_b"])
    np.testing.assert_array_equal(p2p.numpy(), pair.perm)


def _dense_reference(feat_a, feat_b, evecs_a, evecs_b, mass_a, mass_b, mask, lam):
    """argmin ||C A - B||^2 + lam sum D_ij C_ij^2 as one stacked least-squares problem in vec(C)."""
    A = evecs_a.T @ (mass_a[:, None] * feat_a)  # (Ka, C)
    B = evecs_b.T @ (mass_b[:, None] * feat_b)  # (Kb, C)
    kb, ka = B.shape[0], A.shape[0]
    # row-major vec: (C A)[i, c] = sum_j C[i, j] A[j, c]  ->  kron(I_kb, A^T) vec(C)
    data = torch.kron(torch.eye(kb, dtype=A.dtype), A.T.contiguous())  # (kb C, kb ka)
    reg = torch.diag(torch.sqrt(lam * mask.reshape(-1).contiguous()))  # (kb ka, kb ka)
    lhs = torch.cat([data, reg])
    rhs = torch.cat([B.contiguous().reshape(-1), torch.zeros(kb * ka, dtype=A.dtype)])
    return torch.linalg.lstsq(lhs, rhs.unsqueeze(1), driver="gelsd").solution.reshape(kb, ka)


@pytest.mark.parametrize("gamma", [0.5, None])
@pytest.mark.parametrize("lam", [1e-3, 0.7])
def test_closed_form_matches_dense_least_squares(gamma, lam):
    g = torch.Generator().manual_seed(3)
    va, vb, ka, kb, c = 60, 45, 7, 9, 5  # fewer descriptors than K: the penalty decides the rest
    evecs_a = torch.randn(va, ka, generator=g, dtype=torch.float64)
    evecs_b = torch.randn(vb, kb, generator=g, dtype=torch.float64)
    mass_a = torch.rand(va, generator=g, dtype=torch.float64) + 0.5
    mass_b = torch.rand(vb, generator=g, dtype=torch.float64) + 0.5
    evals_a = torch.sort(torch.rand(ka, generator=g, dtype=torch.float64) * 10).values
    evals_b = torch.sort(torch.rand(kb, generator=g, dtype=torch.float64) * 10).values
    feat_a = torch.randn(va, c, generator=g, dtype=torch.float64)
    feat_b = torch.randn(vb, c, generator=g, dtype=torch.float64)
    C = fmap_from_features(
        feat_a, feat_b, evecs_a, evecs_b, mass_a, mass_b, evals_a, evals_b, lambda_=lam, resolvent_gamma=gamma
    )
    mask = commutativity_mask(evals_a, evals_b, resolvent_gamma=gamma)
    ref = _dense_reference(feat_a, feat_b, evecs_a, evecs_b, mass_a, mass_b, mask, lam)
    assert C.shape == (kb, ka)
    np.testing.assert_allclose(C.numpy(), ref.numpy(), atol=1e-8, rtol=0)


def test_commutativity_mask_closed_forms():
    ea = torch.tensor([-1e-13, 1.0, 4.0], dtype=torch.float64)  # round-off negative is clipped
    eb = torch.tensor([0.0, 2.0], dtype=torch.float64)
    plain = commutativity_mask(ea, eb, resolvent_gamma=None)
    expected = (np.array([0.0, 0.5])[:, None] - np.array([0.0, 0.25, 1.0])[None, :]) ** 2
    np.testing.assert_allclose(plain.numpy(), expected, atol=1e-12)
    res = commutativity_mask(ea, eb, resolvent_gamma=0.5)
    # normalized: a = [0, 1/4, 1], b = [0, 1/2]; r(x) = 1 / (sqrt(x) - i) = (sqrt(x) + i) / (x + 1)
    r = lambda x: np.array([np.sqrt(x) / (x + 1), 1 / (x + 1)])  # noqa: E731
    exp = np.array([[np.sum((r(b) - r(a)) ** 2) for a in (0.0, 0.25, 1.0)] for b in (0.0, 0.5)])
    np.testing.assert_allclose(res.numpy(), exp, atol=1e-12)
    assert res[0, 0] == 0 and torch.isfinite(res).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(11)
    va, vb, ka, kb, c = 12, 10, 4, 5, 3
    args = [
        torch.randn(va, c, generator=g, dtype=torch.float64, requires_grad=True),  # feat_a
        torch.randn(vb, c, generator=g, dtype=torch.float64, requires_grad=True),  # feat_b
        torch.randn(va, ka, generator=g, dtype=torch.float64, requires_grad=True),  # evecs_a
        torch.randn(vb, kb, generator=g, dtype=torch.float64, requires_grad=True),  # evecs_b
        (torch.rand(va, generator=g, dtype=torch.float64) + 0.5).requires_grad_(),  # mass_a
        (torch.rand(vb, generator=g, dtype=torch.float64) + 0.5).requires_grad_(),  # mass_b
    ]
    evals_a = torch.linspace(0, 3, ka, dtype=torch.float64)
    evals_b = torch.linspace(0, 4, kb, dtype=torch.float64)
    for gamma in (0.5, None):
        fn = lambda *x: fmap_from_features(*x, evals_a, evals_b, lambda_=0.1, resolvent_gamma=gamma)  # noqa: E731
        assert torch.autograd.gradcheck(fn, args)


def test_singular_system_is_reported():
    g = torch.Generator().manual_seed(0)
    evecs = torch.randn(20, 6, generator=g, dtype=torch.float64)
    mass = torch.ones(20, dtype=torch.float64)
    evals = torch.arange(6, dtype=torch.float64)
    feat = torch.zeros(20, 2, dtype=torch.float64)  # descriptors that say nothing
    with pytest.raises(GeometryError, match="singular"):
        fmap_from_features(feat, feat, evecs, evecs, mass, mass, evals, evals, lambda_=0.0)


def test_input_validation():
    g = torch.Generator().manual_seed(0)
    ev = torch.randn(20, 6, generator=g, dtype=torch.float64)
    m = torch.ones(20, dtype=torch.float64)
    lam = torch.arange(6, dtype=torch.float64)
    f = torch.randn(20, 3, generator=g, dtype=torch.float64)
    with pytest.raises(GeodesicNetsError, match="rows"):
        fmap_from_features(f[:10], f, ev, ev, m, m, lam, lam)
    with pytest.raises(GeodesicNetsError, match="dtype"):
        fmap_from_features(f.float(), f, ev, ev, m, m, lam, lam)
    with pytest.raises(GeodesicNetsError, match="evals_b"):
        fmap_from_features(f, f, ev, ev, m, m, lam, lam[:4])
    with pytest.raises(ValueError, match="lambda_"):
        fmap_from_features(f, f, ev, ev, m, m, lam, lam, lambda_=-1.0)
    with pytest.raises(ValueError, match="resolvent_gamma"):
        commutativity_mask(lam, lam, resolvent_gamma=0)
    with pytest.raises(GeodesicNetsError, match="columns"):
        pointmap_from_fmap(torch.eye(5, dtype=torch.float64), ev, ev)
    with pytest.raises(ValueError, match="method"):
        pointmap_from_fmap(torch.eye(6, dtype=torch.float64), ev, ev, method="nearest")
    with pytest.raises(GeodesicNetsError, match="out of range"):
        fmap_from_pointmap(torch.full((20,), 20), ev, ev)
    with pytest.raises(GeodesicNetsError, match="k_final"):
        zoomout(torch.eye(6, dtype=torch.float64), ev, ev, k_final=4)
    with pytest.raises(GeodesicNetsError, match="fewer than k_final"):
        zoomout(torch.eye(4, dtype=torch.float64), ev, ev, k_final=8)


# ---------------------------------------------------------------------------- conventions
def test_fmap_transfers_functions_as_documented(pair):
    """f_b = f_a o T (T = perm) has coefficients C_ab (Phi_a^T M_a f_a) on b."""
    ops = pair.torch()
    C = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"], ops["evecs_b"], ops["mass_b"])
    coefs = torch.randn(K, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    f_a = ops["evecs_a"] @ coefs  # band-limited functions on a
    f_b = f_a[torch.as_tensor(pair.perm)]
    lhs = spectral_coefficients(f_b, ops["evecs_b"], ops["mass_b"])
    rhs = C @ spectral_coefficients(f_a, ops["evecs_a"], ops["mass_a"])
    np.testing.assert_allclose(lhs.numpy(), rhs.numpy(), atol=1e-8)
    np.testing.assert_allclose(C.numpy(), np.diag(pair.signs), atol=1e-8)
    # the least-squares (pseudo-inverse) variant gives the same map here
    C_ls = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"], ops["evecs_b"])
    np.testing.assert_allclose(C_ls.numpy(), C.numpy(), atol=1e-8)


@pytest.mark.parametrize("method", ["transpose", "direct"])
def test_pointmap_of_the_true_fmap_is_the_permutation(pair, method):
    ops = pair.torch()
    C = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"], ops["evecs_b"], ops["mass_b"])
    p2p = pointmap_from_fmap(C, ops["evecs_a"], ops["evecs_b"], method=method, block_size=97)
    np.testing.assert_array_equal(p2p.numpy(), pair.perm)
    # rectangular maps: "transpose" keeps all of a's coordinates when K_b < K_a, "direct" when K_a < K_b
    kb, ka = (25, K) if method == "transpose" else (K, 25)
    Cr = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"][:, :ka], ops["evecs_b"][:, :kb], ops["mass_b"])
    assert Cr.shape == (kb, ka)
    p2p = pointmap_from_fmap(Cr, ops["evecs_a"][:, :ka], ops["evecs_b"][:, :kb], method=method)
    np.testing.assert_array_equal(p2p.numpy(), pair.perm)


def test_pointmap_matches_unblocked_search(pair):
    ops = pair.torch()
    C = torch.randn(K, K, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    got_t = pointmap_from_fmap(C, ops["evecs_a"], ops["evecs_b"], block_size=50)
    ref_t = torch.cdist(ops["evecs_b"], ops["evecs_a"] @ C.T).argmin(dim=1)
    np.testing.assert_array_equal(got_t.numpy(), ref_t.numpy())
    got_d = pointmap_from_fmap(C, ops["evecs_a"], ops["evecs_b"], method="direct", block_size=50)
    ref_d = torch.cdist(ops["evecs_b"] @ C, ops["evecs_a"]).argmin(dim=1)
    np.testing.assert_array_equal(got_d.numpy(), ref_d.numpy())


def test_nearest_neighbor_map_blocked_and_exact():
    g = torch.Generator().manual_seed(4)
    fa = torch.randn(230, 6, generator=g, dtype=torch.float64)
    fb = torch.randn(170, 6, generator=g, dtype=torch.float64)
    got = nearest_neighbor_map(fa, fb, block_size=16)
    np.testing.assert_array_equal(got.numpy(), torch.cdist(fb, fa).argmin(dim=1).numpy())
    perm = torch.randperm(230, generator=g)
    np.testing.assert_array_equal(nearest_neighbor_map(fa, fa[perm], block_size=33).numpy(), perm.numpy())
    # ties go to the smallest index, across blocks as within one
    dup = torch.cat([fa[:5], fa[:5]])
    np.testing.assert_array_equal(nearest_neighbor_map(dup, fa[:5], block_size=3).numpy(), np.arange(5))


# ---------------------------------------------------------------------------- ZoomOut
def test_zoomout_repairs_a_perturbed_map(pair):
    ops = pair.torch()
    C_true = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"], ops["evecs_b"], ops["mass_b"])
    k0 = 10
    noise = 0.1 * torch.randn(k0, k0, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    C0 = C_true[:k0, :k0] + noise
    p0 = pointmap_from_fmap(C0, ops["evecs_a"][:, :k0], ops["evecs_b"][:, :k0])
    err0 = np.linalg.norm(pair.verts_a[p0.numpy()] - pair.verts_a[pair.perm], axis=1).mean()
    assert err0 > 0.01  # the perturbation does hurt
    for mass_b in (ops["mass_b"], None):
        C1, p1 = zoomout(C0, ops["evecs_a"], ops["evecs_b"], k_final=K, step=2, mass_b=mass_b)
        assert C1.shape == (K, K) and p1.shape == (len(pair.perm),)
        np.testing.assert_array_equal(p1.numpy(), pair.perm)
        np.testing.assert_allclose(C1.numpy(), np.diag(pair.signs), atol=1e-8)


def test_zoomout_keeps_the_true_map_and_rectangular_start(pair):
    ops = pair.torch()
    C_true = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"][:, :8], ops["evecs_b"][:, :6], ops["mass_b"])
    C1, p1 = zoomout(C_true, ops["evecs_a"], ops["evecs_b"], k_final=20, mass_b=ops["mass_b"])
    assert C1.shape == (20, 20)
    np.testing.assert_array_equal(p1.numpy(), pair.perm)


def _dense_zoomout(C, phi_a, phi_b, k_final, step, mass_b=None, samples=None):
    """ZoomOut written out plainly: full distance matrices in numpy, one iteration at a time."""
    c = C.numpy()
    sa, sb = samples if samples is not None else (np.arange(len(phi_a)), np.arange(len(phi_b)))

    def nearest(kb, ka, rows_a, rows_b):
        emb_a = phi_a[rows_a, :ka] @ c.T  # (S_a, k_b): images of the deltas of a
        d = ((phi_b[rows_b, :kb][:, None, :] - emb_a[None, :, :]) ** 2).sum(-1)  # (S_b, S_a)
        return d.argmin(1)

    while c.shape != (k_final, k_final):
        kb, ka = c.shape
        p2p = nearest(kb, ka, sa, sb)  # indices into sa
        ka, kb = min(ka + step, k_final), min(kb + step, k_final)
        if samples is not None:
            c = np.linalg.lstsq(phi_b[sb, :kb], phi_a[sa[p2p], :ka], rcond=None)[0]
        else:
            c = phi_b[:, :kb].T @ (mass_b[:, None] * phi_a[p2p, :ka])
    return c, nearest(k_final, k_final, np.arange(len(phi_a)), np.arange(len(phi_b)))


@pytest.mark.parametrize("subsample", [False, True])
def test_zoomout_matches_a_plain_dense_reference(pair, subsample):
    ops = pair.torch()
    C_true = fmap_from_pointmap(torch.as_tensor(pair.perm), ops["evecs_a"], ops["evecs_b"], ops["mass_b"])
    k0 = 8
    C0 = C_true[:k0, :k0] + 0.2 * torch.randn(k0, k0, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    samples = None
    if subsample:
        samples = (farthest_points(pair.verts_a, 150), farthest_points(pair.verts_b, 150))
    C_ref, p_ref = _dense_zoomout(C0, pair.evecs_a, pair.evecs_b, 30, 3, pair.mass_b, samples)
    kw = {} if samples is None else {"samples_a": torch.as_tensor(samples[0]), "samples_b": torch.as_tensor(samples[1])}
    C1, p1 = zoomout(C0, ops["evecs_a"], ops["evecs_b"], k_final=30, step=3, mass_b=ops["mass_b"], block_size=97, **kw)
    np.testing.assert_allclose(C1.numpy(), C_ref, atol=1e-8)
    np.testing.assert_array_equal(p1.numpy(), p_ref)
    # and it improves on the perturbed start
    p0 = pointmap_from_fmap(C0, ops["evecs_a"][:, :k0], ops["evecs_b"][:, :k0])
    assert (p1.numpy() == pair.perm).mean() > (p0.numpy() == pair.perm).mean() + 0.1


def test_zoomout_samples_are_validated(pair):
    ops = pair.torch()
    C0 = torch.eye(5, dtype=torch.float64)
    with pytest.raises(GeodesicNetsError, match="both"):
        zoomout(C0, ops["evecs_a"], ops["evecs_b"], k_final=10, samples_a=torch.arange(50))
    with pytest.raises(GeodesicNetsError, match="samples_b"):
        zoomout(C0, ops["evecs_a"], ops["evecs_b"], k_final=10, samples_a=torch.arange(50),
                samples_b=torch.tensor([0, 10**6]))


@pytest.mark.cuda
def test_cuda_matches_cpu(pair):
    fa, fb = _descriptors(pair, "wks_hks")
    ops = pair.torch()
    C_cpu = fmap_from_features(_t(fa), _t(fb), **ops)
    ops_cuda = {k: v.cuda() for k, v in ops.items()}
    C_cuda = fmap_from_features(_t(fa).cuda(), _t(fb).cuda(), **ops_cuda)
    np.testing.assert_allclose(C_cuda.cpu().numpy(), C_cpu.numpy(), atol=1e-8)
    p2p = pointmap_from_fmap(C_cuda, ops_cuda["evecs_a"], ops_cuda["evecs_b"], block_size=100)
    assert p2p.device.type == "cuda"
    np.testing.assert_array_equal(p2p.cpu().numpy(), pair.perm)
    C1, p1 = zoomout(C_cuda[:10, :10], ops_cuda["evecs_a"], ops_cuda["evecs_b"], k_final=K, mass_b=ops_cuda["mass_b"])
    np.testing.assert_array_equal(p1.cpu().numpy(), pair.perm)
    g32 = {k: v.float() for k, v in ops_cuda.items()}
    f32 = g32["evecs_a"] @ torch.randn(K, 64, generator=torch.Generator().manual_seed(0)).cuda()
    C32 = fmap_from_features(f32, f32[torch.as_tensor(pair.perm).cuda()], **g32)
    np.testing.assert_array_equal(pointmap_from_fmap(C32, g32["evecs_a"], g32["evecs_b"]).cpu().numpy(), pair.perm)
