"""The fused linear head + cross-entropy (per-row and weighted-sum forms) against the unfused
expression, forward and backward, and the vertex-labelling task's fused path against its logits path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from geodesic_nets import OperatorSettings, compute_operators, primitives
from geodesic_nets.data.sample import ShapeSample, collate_samples
from geodesic_nets.errors import ArgumentError
from geodesic_nets.nn.linear_cross_entropy import (
    linear_argmax,
    linear_cross_entropy,
    linear_cross_entropy_reference,
    weighted_linear_cross_entropy,
)
from geodesic_nets.tasks.models import ModelSpec, build_model
from geodesic_nets.tasks.vertex_labeling import VertexLabelingTask


def _problem(N=37, C=5, K=23, *, dtype=torch.float64, seed=0, bias=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(K, C, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(K, generator=g, dtype=dtype, requires_grad=True) if bias else None
    t = torch.randint(0, K, (N,), generator=g)
    return x, w, b, t


def _row_weights(N, dtype):
    g = torch.rand(N, generator=torch.Generator().manual_seed(5), dtype=dtype)
    return g * (torch.arange(N) % 3 != 0)  # some rows ignored


FORMS = ["per_row", "weighted"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(form, bias):
    """The per-row form's whole Jacobian; the weighted form's gradient (formed in its forward)."""
    x, w, b, t = _problem(N=9, C=3, K=7, bias=bias)
    rw = _row_weights(9, x.dtype)
    inputs = (x, w) if b is None else (x, w, b)

    def f(*args):
        bias_ = None if b is None else args[2]
        if form == "per_row":
            return linear_cross_entropy(args[0], args[1], bias_, t, chunk_rows=4)[0]
        return weighted_linear_cross_entropy(args[0], args[1], bias_, t, rw, chunk_rows=4)[0]

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("chunk", [1, 5, 37, 128])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_the_unfused_head_and_loss(form, chunk, bias):
    """The weighted sum of the losses and its gradients under an upstream gradient that is not 1
    (the weighted form scales the gradients it formed in the forward), the per-row losses, the argmax."""
    x, w, b, t = _problem(bias=bias)
    params = [p for p in (x, w, b) if p is not None]
    rw = _row_weights(x.shape[0], x.dtype)
    ref_loss, ref_pred = linear_cross_entropy_reference(x, w, b, t)
    if form == "per_row":
        loss, pred = linear_cross_entropy(x, w, b, t, chunk_rows=chunk)
        torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-12)
        total = (loss * rw).sum()
    else:
        total, pred = weighted_linear_cross_entropy(x, w, b, t, rw, chunk_rows=chunk)
        assert total.shape == ()
    ref_total = (ref_loss * rw).sum()
    torch.testing.assert_close(total, ref_total, rtol=1e-12, atol=1e-12)
    assert torch.equal(pred, ref_pred)
    for a, r in zip(torch.autograd.grad(-2.5 * total, params), torch.autograd.grad(-2.5 * ref_total, params)):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)
    assert torch.equal(linear_argmax(x.detach(), w.detach(), None if b is None else b.detach(), chunk_rows=chunk),
                       ref_pred)


def _peaked(dtype):
    x, w, b, t = _problem(N=40, C=6, K=300, dtype=torch.float64)
    with torch.no_grad():
        w.mul_(300.0)  # log-probabilities down to about -5000
    return [p.detach().to(dtype).requires_grad_() for p in (x, w, b)], t


def _loss_and_grads(fn, params, t):
    loss, _ = fn(*params, t)
    return [loss.detach().double()] + [g.double() for g in torch.autograd.grad(loss.sum(), params)]


def test_sharply_peaked_logits_match_the_reference(monkeypatch):
    """Logits spread over thousands (a trained head): the clamp before exp, which keeps the
    exponentials out of the slow subnormal range, changes nothing visible: float64 equals the
    reference; float32 differs from the unclamped computation by less than 1e-30 absolute, and is
    within 1e-4 of the float64 result relative to its scale."""
    import sys

    module = sys.modules[linear_cross_entropy.__module__]  # the package re-exports a function of the same name

    fused = lambda x, w, b, t: linear_cross_entropy(x, w, b, t, chunk_rows=16)  # noqa: E731
    exact = _loss_and_grads(linear_cross_entropy_reference, *_peaked(torch.float64))
    for a, r in zip(_loss_and_grads(fused, *_peaked(torch.float64)), exact):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)
    clamped = _loss_and_grads(fused, *_peaked(torch.float32))
    for o, e in zip(clamped, exact):
        assert (o - e).abs().max() <= 1e-4 * e.abs().max()
    monkeypatch.setattr(module, "_exp_floor", lambda dtype: -float("inf"))
    for o, u in zip(clamped, _loss_and_grads(fused, *_peaked(torch.float32))):
        assert (o - u).abs().max() <= 1e-30  # clamped terms: a few 1e-38 each, where exp gave 0


def test_float32_agrees_with_float64():
    x, w, b, t = _problem(N=300, C=48, K=500, dtype=torch.float64)
    loss64, _ = linear_cross_entropy_reference(x, w, b, t)
    loss32, _ = linear_cross_entropy(x.float(), w.float(), b.float(), t)
    torch.testing.assert_close(loss32.double(), loss64, rtol=1e-5, atol=1e-5)


def test_ties_give_the_first_maximum_as_argmax():
    x = torch.randn(6, 4, dtype=torch.float64)
    w = torch.randn(5, 4, dtype=torch.float64)
    w[3] = w[1]  # classes 1 and 3 always tie
    b = torch.zeros(5, dtype=torch.float64)
    b[1] = b[3] = 100.0  # and win
    t = torch.zeros(6, dtype=torch.int64)
    _, pred = linear_cross_entropy(x, w, b, t, chunk_rows=4)
    assert pred.tolist() == [1] * 6
    assert linear_argmax(x, w, b, chunk_rows=4).tolist() == [1] * 6


def test_bad_arguments():
    x, w, b, t = _problem()
    with pytest.raises(ArgumentError):
        linear_cross_entropy(x, w, b, t.clamp_max(0) - 1)
    with pytest.raises(ArgumentError):
        linear_cross_entropy(x, w[:, :2], b, t)
    with pytest.raises(ArgumentError):
        linear_cross_entropy(x, w, b[:3], t)
    with pytest.raises(ArgumentError):
        linear_cross_entropy(x, w, b, t, chunk_rows=0)


# ---------------------------------------------------------------------------------- the task
class Unfused(nn.Module):
    """The same model seen from outside: no ``linear_head``, so the task takes its logits path."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model(batch)


@pytest.fixture(scope="module")
def labelled():
    ops = [compute_operators(primitives.bumpy_sphere(1, seed=s), settings=OperatorSettings(k_eig=8)).to(dtype=torch.float64)
           for s in (1, 2)]
    V = ops[0].num_verts
    samples = []
    for i, o in enumerate(ops):
        label = torch.randperm(o.num_verts, generator=torch.Generator().manual_seed(i)) % V
        label[i::7] = -1  # unknown vertices
        samples.append(ShapeSample(f"s{i}", o, label=label, corr=torch.arange(o.num_verts)))
    return V, samples


def _gauge_model(num_classes: int):
    torch.manual_seed(0)
    spec = ModelSpec(name="gauge", in_features="xyz", out_channels=num_classes, outputs="vertices", width=2, depth=3,
                     kwargs={"max_order": 2})
    return build_model(spec).to(torch.float64)


def test_surface_model_head_split():
    model = _gauge_model(11)
    ops = compute_operators(primitives.icosphere(1), settings=OperatorSettings(k_eig=4)).to(dtype=torch.float64)
    batch = collate_samples([ShapeSample("a", ops)]).batch
    assert model.linear_head is model.body.head
    torch.testing.assert_close(model.linear_head(model(batch, head=False)), model(batch), rtol=0, atol=0)
    diff = build_model(ModelSpec(name="diffusion", in_features="xyz", out_channels=3, width=4, depth=1))
    assert diff.linear_head is None
    with pytest.raises(ArgumentError):
        diff(batch, head=False)


def test_vertex_labeling_fused_loss_matches_logits_path(labelled):
    V, samples = labelled
    model = _gauge_model(V)
    task = VertexLabelingTask(V, geodesic_errors=False)
    sb = collate_samples(samples)
    params = list(model.parameters())
    loss, stats = task.loss(model, sb)
    grads = torch.autograd.grad(loss, params)
    ref_loss, ref_stats = task.loss(Unfused(model), sb)
    ref_grads = torch.autograd.grad(ref_loss, params)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-12)
    assert stats == ref_stats
    for a, r in zip(grads, ref_grads):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-12)
    # and the logits path is the loss as written: mean over meshes of the mean over known vertices
    logits = model(sb.batch)
    per_mesh = [F.cross_entropy(lg[s.label >= 0], s.label[s.label >= 0]) for lg, s in zip(sb.batch.split(logits), samples)]
    torch.testing.assert_close(ref_loss, torch.stack(per_mesh).mean(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("decode", ["argmax", "one_to_one"])
def test_vertex_labeling_fused_predict_matches_logits_path(labelled, decode):
    V, samples = labelled
    model = _gauge_model(V)
    task = VertexLabelingTask(V, geodesic_errors=False, decode=decode)
    fused = task.predict(model, samples, device="cpu", dtype=torch.float64, batch_size=2)
    ref = task.predict(Unfused(model), samples, device="cpu", dtype=torch.float64, batch_size=2)
    assert all(torch.equal(a, r) for a, r in zip(fused, ref))
    assert task.evaluate(model, samples, device="cpu", dtype=torch.float64) == task.evaluate(
        Unfused(model), samples, device="cpu", dtype=torch.float64)


# ------------------------------------------------------------------- the weighted (scalar) form
def test_weighted_gradient_of_some_inputs_only():
    x, w, b, t = _problem()
    rw = _row_weights(x.shape[0], x.dtype)
    xd = x.detach()
    loss, _ = weighted_linear_cross_entropy(xd, w, b, t, rw, chunk_rows=8)
    (gw,) = torch.autograd.grad(loss, [w])
    ref, _ = linear_cross_entropy_reference(xd, w, b, t)
    torch.testing.assert_close(gw, torch.autograd.grad((ref * rw).sum(), [w])[0], rtol=1e-12, atol=1e-12)


def test_weighted_without_grad_mode_builds_no_graph():
    x, w, b, t = _problem()
    rw = _row_weights(x.shape[0], x.dtype)
    with torch.no_grad():
        loss, pred = weighted_linear_cross_entropy(x, w, b, t, rw)
    assert not loss.requires_grad
    ref, ref_pred = linear_cross_entropy_reference(x.detach(), w.detach(), b.detach(), t)
    torch.testing.assert_close(loss, (ref * rw).sum(), rtol=1e-12, atol=1e-12)
    assert torch.equal(pred, ref_pred)


def test_weighted_sharply_peaked_logits_match_the_reference():
    params, t = _peaked(torch.float64)
    rw = _row_weights(t.shape[0], torch.float64)
    loss, _ = weighted_linear_cross_entropy(*params, t, rw, chunk_rows=16)
    grads = torch.autograd.grad(loss, params)
    ref, _ = linear_cross_entropy_reference(*params, t)
    ref = (ref * rw).sum()
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    for a, r in zip(grads, torch.autograd.grad(ref, params)):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_weighted_bad_arguments():
    x, w, b, t = _problem()
    rw = _row_weights(x.shape[0], x.dtype)
    with pytest.raises(ArgumentError):
        weighted_linear_cross_entropy(x, w, b, t, rw[:-1])
    with pytest.raises(ArgumentError):
        weighted_linear_cross_entropy(x, w, b, t, rw.float())
    with pytest.raises(ArgumentError):
        weighted_linear_cross_entropy(x, w, b, t, rw.clone().requires_grad_())
    with pytest.raises(ArgumentError):
        weighted_linear_cross_entropy(x, w, b, t.clamp_max(0) - 1, rw)
