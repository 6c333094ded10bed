"""Deep functional map losses: zero at the true map of a mesh and a vertex-permuted copy of itself,
growing under perturbation; the unsupervised task never reads the ground truth; test-time
adaptation leaves the stored weights alone; every test-time point map is exact on perfect features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from geodesic_nets import OperatorSettings, compute_operators, primitives
from geodesic_nets.data.sample import ShapeSample, collate_samples
from geodesic_nets.errors import GeodesicNetsError
from geodesic_nets.geometry.laplacian import laplacian_and_mass
from geodesic_nets.geometry.spectral import eigen_basis
from geodesic_nets.surface import Surface
from geodesic_nets.tasks.functional_maps import (
    bijectivity_loss,
    coupling_loss,
    laplacian_commutativity_loss,
    orthogonality_loss,
    soft_pointmap,
    supervised_fmap_loss,
)
from geodesic_nets.tasks.functional_maps import FunctionalMapTask
from geodesic_nets.tasks.models import ModelSpec, build_model

K = 20


class PermutedPair:
    """Shape a and b = a with permuted vertices; b's basis is a's, permuted and sign-flipped,
    so the true functional map is exactly ``diag(signs)``."""

    def __init__(self) -> None:
        s = primitives.bumpy_sphere(2, seed=3)
        rng = np.random.default_rng(11)
        self.perm = rng.permutation(s.num_verts)  # vertex v of b is vertex perm[v] of a
        L, M = laplacian_and_mass(s.verts, s.faces)
        evals, evecs = eigen_basis(L, M, K)
        self.signs = rng.choice([-1.0, 1.0], size=K)
        t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)
        self.evals = t(evals)
        self.evecs_a, self.evecs_b = t(evecs), t(evecs[self.perm] * self.signs)
        self.mass_a = t(M.diagonal())
        self.mass_b = self.mass_a[torch.as_tensor(self.perm)]
        self.C_true = torch.diag(t(self.signs))  # (K_b, K_a)
        feats = rng.normal(size=(s.num_verts, 64))  # distinct per vertex: a sharp soft map
        self.feat_a, self.feat_b = t(feats), t(feats[self.perm])

    def pointmap(self, temperature: float) -> torch.Tensor:
        return soft_pointmap(self.feat_b, self.feat_a, temperature=temperature)


@pytest.fixture(scope="module")
def pair():
    return PermutedPair()


def _noise(scale: float, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(K, K, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------------------- the losses
def test_losses_vanish_at_the_true_map(pair):
    C = pair.C_true
    assert bijectivity_loss(C, C.T).item() < 1e-24  # C_ba = C_ab^T = C_ab^-1 for an orthogonal map
    assert orthogonality_loss(C).item() < 1e-24
    assert laplacian_commutativity_loss(C, pair.evals, pair.evals).item() < 1e-24
    assert supervised_fmap_loss(C, C).item() == 0.0
    P = pair.pointmap(0.01)
    assert coupling_loss(C, P, pair.evecs_a, pair.evecs_b, pair.mass_b).item() < 1e-12


@pytest.mark.parametrize("loss", ["bijectivity", "orthogonality", "laplacian", "supervised"])
def test_losses_grow_under_perturbation(pair, loss):
    def value(scale):
        C = pair.C_true + _noise(scale)
        if loss == "bijectivity":
            return bijectivity_loss(C, pair.C_true.T).item()
        if loss == "orthogonality":
            return orthogonality_loss(C).item()
        if loss == "laplacian":
            return laplacian_commutativity_loss(C, pair.evals, pair.evals).item()
        return supervised_fmap_loss(C, pair.C_true).item()

    small, large = value(1e-3), value(1e-1)
    assert 1e-8 < small < large
    assert large > 100 * small


def test_coupling_grows_when_the_features_disagree(pair):
    exact = coupling_loss(pair.C_true, pair.pointmap(0.01), pair.evecs_a, pair.evecs_b, pair.mass_b).item()
    # swap the features of a third of b's vertices: the soft map sends them elsewhere
    rng = np.random.default_rng(0)
    rows = rng.choice(len(pair.perm), size=len(pair.perm) // 3, replace=False)
    fb = pair.feat_b.clone()
    fb[torch.as_tensor(rows)] = pair.feat_b[torch.as_tensor(rng.permutation(rows))]
    P = soft_pointmap(fb, pair.feat_a, temperature=0.01)
    wrong = coupling_loss(pair.C_true, P, pair.evecs_a, pair.evecs_b, pair.mass_b).item()
    assert wrong > 1e-2 > 1e4 * exact
    # and so does a perturbed functional map against the exact point map
    perturbed = coupling_loss(pair.C_true + _noise(0.05), pair.pointmap(0.01), pair.evecs_a, pair.evecs_b, pair.mass_b)
    assert perturbed.item() > 1e-2


def test_soft_pointmap_rows_are_distributions_and_sharpen(pair):
    warm, cold = pair.pointmap(1.0), pair.pointmap(0.01)
    assert warm.shape == (len(pair.perm), len(pair.perm))
    torch.testing.assert_close(warm.sum(1), torch.ones(len(pair.perm), dtype=torch.float64))
    idx = torch.as_tensor(pair.perm)
    assert cold[torch.arange(len(idx)), idx].min() > 0.99
    assert warm[torch.arange(len(idx)), idx].max() < 0.5
    # invariant to the features' scale (cosine similarity)
    torch.testing.assert_close(soft_pointmap(3 * pair.feat_b, pair.feat_a, temperature=0.5),
                               soft_pointmap(pair.feat_b, pair.feat_a, temperature=0.5))


def test_losses_are_differentiable(pair):
    C = (pair.C_true + _noise(0.01)).requires_grad_(True)
    C_ba = (pair.C_true.T + _noise(0.01, seed=1)).requires_grad_(True)
    fb = pair.feat_b[:, :8].clone().requires_grad_(True)
    P = soft_pointmap(fb, pair.feat_a[:, :8], temperature=0.5)
    total = (bijectivity_loss(C, C_ba) + orthogonality_loss(C) + laplacian_commutativity_loss(C, pair.evals, pair.evals)
             + coupling_loss(C, P, pair.evecs_a, pair.evecs_b, pair.mass_b))
    total.backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0 for t in (C, C_ba, fb))


def test_losses_reject_bad_shapes(pair):
    with pytest.raises(GeodesicNetsError, match="C_ba"):
        bijectivity_loss(pair.C_true, pair.C_true[:5])
    with pytest.raises(GeodesicNetsError, match="evals"):
        laplacian_commutativity_loss(pair.C_true, pair.evals[:3], pair.evals)
    with pytest.raises(GeodesicNetsError, match="inconsistent"):
        coupling_loss(pair.C_true, pair.pointmap(1.0), pair.evecs_a[:, :5], pair.evecs_b, pair.mass_b)
    with pytest.raises(ValueError, match="temperature"):
        soft_pointmap(pair.feat_b, pair.feat_a, temperature=0.0)


# ---------------------------------------------------------------------------- the task
S = OperatorSettings(k_eig=40)


class Fixed(nn.Module):
    """Per-vertex features that are a fixed function of the vertex position (random Fourier
    features: distinct for every vertex, equal on the permuted copy), times a trainable scalar."""

    def __init__(self, noise: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        self.freq = 4.0 * torch.randn(3, 64, generator=gen, dtype=torch.float64)
        self.phase = 6.3 * torch.rand(64, generator=gen, dtype=torch.float64)
        self.noise, self.seed = noise, seed
        self.w = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, batch):
        x = batch.verts.to(torch.float64)
        if self.noise:  # a fixed perturbation of the positions: the features no longer agree
            gen = torch.Generator().manual_seed(self.seed)
            x = x + self.noise * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        return torch.sin(x @ self.freq + self.phase) * self.w


@pytest.fixture(scope="module")
def samples():
    base = primitives.bumpy_sphere(2, seed=5)
    perm = np.random.default_rng(0).permutation(base.num_verts)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    b = Surface(base.verts[perm], inv[base.faces])
    ops = [compute_operators(s, settings=S).to(dtype=torch.float64) for s in (base, b)]
    ref = np.arange(0, base.num_verts, 3)
    return {
        "with_corr": [ShapeSample("a", ops[0], corr=torch.as_tensor(ref)),
                      ShapeSample("b", ops[1], corr=torch.as_tensor(inv[ref]))],
        "without_corr": [ShapeSample("a", ops[0]), ShapeSample("b", ops[1])],
    }


def test_unsupervised_loss_is_zero_at_the_true_map_without_ground_truth(samples):
    task = FunctionalMapTask(k=K, supervision="unsupervised", temperature=0.01, w_laplacian=1.0)
    assert task.weights == {"fmap": 0.0, "bijectivity": 1.0, "orthogonality": 1.0, "laplacian": 1.0, "coupling": 1.0}
    sb = collate_samples(samples["without_corr"])  # no ground truth anywhere
    loss, stats = task.loss(Fixed(), sb)
    assert loss.item() < 1e-6
    assert set(stats) == {"bijectivity_loss", "orthogonality_loss", "laplacian_loss", "coupling_loss"}
    assert task.loss(Fixed(noise=0.05), sb)[0].item() > 1e-2
    # the supervised task needs the correspondences
    with pytest.raises(GeodesicNetsError, match="correspondences"):
        FunctionalMapTask(k=K).loss(Fixed(), sb)


def test_supervised_task_combines_terms(samples):
    sb = collate_samples(samples["with_corr"])
    plain = FunctionalMapTask(k=K)
    both = FunctionalMapTask(k=K, w_coupling=2.0, temperature=0.01)
    lp, sp = plain.loss(Fixed(noise=0.05), sb)
    lb, stats = both.loss(Fixed(noise=0.05), sb)
    assert set(stats) == {"fmap_loss", "coupling_loss"}
    assert lb.item() == pytest.approx(lp.item() + 2.0 * stats["coupling_loss"], rel=1e-9)
    assert stats["fmap_loss"] == pytest.approx(sp["fmap_loss"], rel=1e-9)


def test_task_options_are_validated():
    with pytest.raises(ValueError, match="w_fmap"):
        FunctionalMapTask(supervision="unsupervised", w_fmap=1.0)
    with pytest.raises(ValueError, match="supervision"):
        FunctionalMapTask(supervision="semi")
    with pytest.raises(ValueError, match="pointmap"):
        FunctionalMapTask(pointmap="sinkhorn")
    with pytest.raises(ValueError, match="nothing to train"):
        FunctionalMapTask(w_fmap=0.0)
    with pytest.raises(ValueError, match="temperature"):
        FunctionalMapTask(temperature=-1.0)


@pytest.mark.parametrize("pointmap", ["fmap", "features", "feature_fmap"])
@pytest.mark.parametrize("zoomout_to", [None, 30])
def test_every_pointmap_is_exact_on_perfect_features(samples, pointmap, zoomout_to):
    task = FunctionalMapTask(k=K, pointmap=pointmap, zoomout_to=zoomout_to, zoomout_step=5, lambda_=1e-8)
    ev = task.evaluate(Fixed(), samples["with_corr"], device="cpu", dtype=torch.float64)
    assert ev["n_pairs"] == 2
    assert ev["mean_geodesic_error"] < 1e-6


def test_test_time_adaptation_leaves_the_stored_weights_unchanged(samples):
    torch.manual_seed(0)
    model = build_model(ModelSpec(name="diffusion", in_features="hks", n_features=8, out_channels=16, width=8, depth=1))
    model.double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    task = FunctionalMapTask(k=10, tta_steps=3, tta_lr=1e-2, pointmap="features")
    batch = collate_samples(samples["without_corr"]).batch
    tuned = task.adapted(model, batch)
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items())  # it did adapt
    ev = task.evaluate(model, samples["with_corr"], device="cpu", dtype=torch.float64)
    assert np.isfinite(ev["mean_geodesic_error"])
    for k, v in model.state_dict().items():
        assert torch.equal(before[k], v), k
