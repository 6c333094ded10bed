"""Task losses and evaluations against direct computations, with models whose outputs are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from geodesic_nets import OperatorSettings, compute_operators, primitives
from geodesic_nets.data.sample import ShapeSample, collate_samples
from geodesic_nets.errors import ArgumentError, GeodesicNetsError
from geodesic_nets.surface import Surface
from geodesic_nets.tasks.classification import ClassificationTask
from geodesic_nets.tasks.functional_maps import FunctionalMapTask, true_fmap
from geodesic_nets.tasks.segmentation import SegmentationTask
from geodesic_nets.tasks.vertex_labeling import VertexLabelingTask

S = OperatorSettings(k_eig=40)


class Fixed(nn.Module):
    """A 'model' returning a fixed function of the batch (and one parameter so it can be trained)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, batch):
        return self.fn(batch) * self.w


def _ops(surface):
    return compute_operators(surface, settings=S).to(dtype=torch.float64)


@pytest.fixture(scope="module")
def shapes():
    return [_ops(primitives.bumpy_sphere(2, seed=s)) for s in (1, 2, 3)]


def test_classification_loss_is_mean_over_meshes(shapes):
    samples = [ShapeSample(f"s{i}", o, label=torch.tensor(i % 2)) for i, o in enumerate(shapes)]
    sb = collate_samples(samples)
    logits = torch.randn(3, 2, dtype=torch.float64)
    task = ClassificationTask(2)
    loss, stats = task.loss(Fixed(lambda b: logits), sb)
    expected = np.mean([F.cross_entropy(logits[i:i + 1], torch.tensor([i % 2])).item() for i in range(3)])
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    assert stats["accuracy"] == pytest.approx(float((logits.argmax(1) == sb.label).double().mean()))
    ev = task.evaluate(Fixed(lambda b: logits[: b.num_meshes]), samples[:1], device="cpu", dtype=torch.float64)
    assert ev["accuracy"] == float(logits[0].argmax() == 0)
    assert np.sum(ev["confusion_matrix"]) == 1


def test_segmentation_loss_weights_meshes_equally_and_evaluates_faces(shapes):
    rng = np.random.default_rng(0)
    samples = [ShapeSample(f"s{i}", o, label=torch.as_tensor(rng.integers(0, 3, o.num_verts)),
                           face_label=torch.as_tensor(rng.integers(0, 3, o.faces.shape[0])))
               for i, o in enumerate(shapes[:2])]
    sb = collate_samples(samples)
    logits = torch.randn(sb.batch.total_verts, 3, dtype=torch.float64)
    task = SegmentationTask(3)
    loss, _ = task.loss(Fixed(lambda b: logits), sb)
    parts = sb.batch.split(logits)
    expected = np.mean([F.cross_entropy(p, s.label).item() for p, s in zip(parts, samples)])
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    # a model that outputs the one-hot labels: perfect vertex accuracy; faces follow their vertices' mean
    onehot = lambda b: F.one_hot(torch.cat([s.label for s in samples])[: b.total_verts], 3).double()
    ev = task.evaluate(Fixed(onehot), samples[:1], device="cpu", dtype=torch.float64)
    assert ev["vertex_accuracy"] == 1.0 and ev["per_mesh_vertex_accuracy"] == {"s0": 1.0}
    f_pred = F.one_hot(samples[0].label, 3).double()[samples[0].operators.faces].mean(1).argmax(1)
    assert ev["face_accuracy"] == pytest.approx(float((f_pred == samples[0].face_label).double().mean()))


def test_segmentation_scores_edges_as_meshcnn_does(shapes):
    """``edge_accuracy_meshcnn``: per mesh, area-weighted fraction of edges predicted as one of their
    accepted labels; then the mean over meshes (not over all edges)."""
    rng = np.random.default_rng(1)
    samples, expected = [], []
    for i, o in enumerate(shapes[:2]):
        f = o.faces.numpy()
        edges = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
        soft = rng.random((len(edges), 3)) < 0.4
        area = rng.random(len(edges)) * (i + 1) * 5
        samples.append(ShapeSample(f"s{i}", o, label=torch.as_tensor(rng.integers(0, 3, o.num_verts)),
                                   extra={"edges": torch.as_tensor(edges), "edge_label": torch.zeros(len(edges), dtype=torch.int64),
                                          "edge_soft_labels": torch.as_tensor(soft), "edge_area": torch.as_tensor(area)}))
    W = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scores = lambda b: b.verts.double() @ W  # (V, 3), a fixed function of each vertex
    ev = SegmentationTask(3).evaluate(Fixed(scores), samples, device="cpu", dtype=torch.float64)
    for s in samples:
        lg = s.operators.verts.double() @ W
        e = s.extra["edges"]
        pred = ((lg[e[:, 0]] + lg[e[:, 1]]) / 2).argmax(1)
        ok = s.extra["edge_soft_labels"][torch.arange(len(e)), pred].double()
        expected.append(float((ok * s.extra["edge_area"]).sum() / s.extra["edge_area"].sum()))
    assert expected[0] != pytest.approx(expected[1])
    assert ev["edge_accuracy_meshcnn"] == pytest.approx(sum(expected) / 2, rel=1e-12)
    for s in samples:  # each mesh's own vertex accuracy, under its name
        own = float(((s.operators.verts.double() @ W).argmax(1) == s.label).double().mean())
        assert ev["per_mesh_vertex_accuracy"][s.name] == pytest.approx(own, rel=1e-12)


def _template_sample(ops, n_unknown: int) -> tuple[int, torch.Tensor, ShapeSample]:
    """A shape labelled with its own vertex numbers (FAUST-like), the first ``n_unknown`` unknown."""
    V = ops.num_verts
    label = torch.arange(V)
    label[:n_unknown] = -1
    return V, label, ShapeSample("s", ops, label=label, corr=torch.arange(V))


def test_vertex_labeling_ignores_unknown_and_measures_geodesic_error(shapes):
    V, label, sample = _template_sample(shapes[0], 10)
    task = VertexLabelingTask(V)
    logits = torch.full((V, V), -10.0, dtype=torch.float64)
    logits[torch.arange(V), torch.arange(V)] = 10.0
    shift = torch.roll(torch.arange(V), 1)
    logits[20:30] = -10.0
    logits[torch.arange(20, 30), shift[20:30]] = 10.0  # ten wrong predictions
    loss, stats = task.loss(Fixed(lambda b: logits), collate_samples([sample]))
    known = label >= 0
    expected = F.cross_entropy(logits[known], label[known])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    ev = task.evaluate(Fixed(lambda b: logits), [sample], device="cpu", dtype=torch.float64)
    assert ev["accuracy"] == pytest.approx((V - 10 - 10) / (V - 10))
    assert ev["error_curve"]["fraction"][0] == pytest.approx(ev["accuracy"])
    assert 0 < ev["mean_geodesic_error"] < 0.05


def test_vertex_labeling_one_to_one_decode(shapes):
    """Evaluated with ``decode="one_to_one"``: accuracy of the injective labelling, the argmax's beside it."""
    V, _, sample = _template_sample(shapes[0], 5)
    logits = torch.eye(V, dtype=torch.float64) * 10
    logits[10:20, 30:40] = 10.5 * torch.eye(10, dtype=torch.float64)  # vertex 10 + i prefers 30 + i to its own label
    model = Fixed(lambda b: logits)
    argmax = VertexLabelingTask(V, geodesic_errors=False).evaluate(model, [sample], device="cpu", dtype=torch.float64)
    task = VertexLabelingTask(V, geodesic_errors=False, decode="one_to_one")
    ev = task.evaluate(model, [sample], device="cpu", dtype=torch.float64)
    # the argmax gives 30-39 twice (to 10-19 and to 30-39): 10 wrong; the injective labelling gets all right
    assert argmax["accuracy"] == pytest.approx((V - 5 - 10) / (V - 5)) and argmax["decode"] == "argmax"
    assert "argmax_accuracy" not in argmax
    assert ev["accuracy"] == 1.0 and ev["argmax_accuracy"] == argmax["accuracy"] and ev["decode"] == "one_to_one"
    (pred,) = task.predict(model, [sample], device="cpu", dtype=torch.float64)
    assert torch.equal(pred, torch.arange(V))
    with pytest.raises(ArgumentError):
        VertexLabelingTask(V, decode="hungarian")


def test_vertex_labeling_leaves_out_geodesic_errors_it_cannot_measure(shapes):
    """A ``corr`` that gives the vertex of only some template indices (reference points): predicted
    labels beyond it have no vertex to measure from, so the errors are left out, not guessed."""
    ops = shapes[0]
    V = ops.num_verts
    sample = ShapeSample("s", ops, label=torch.arange(V), corr=torch.arange(50))
    logits = torch.roll(torch.eye(V, dtype=torch.float64), 1, dims=1)  # labels up to V - 1
    ev = VertexLabelingTask(V).evaluate(Fixed(lambda b: logits), [sample], device="cpu", dtype=torch.float64)
    assert ev["accuracy"] == 0.0 and "error_curve" not in ev and "mean_geodesic_error" not in ev


def _permuted(surface: Surface, perm: np.ndarray) -> Surface:
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return Surface(surface.verts[perm], inv[surface.faces])


def test_true_fmap_and_perfect_features_give_zero_error():
    base = primitives.bumpy_sphere(2, seed=5)
    perm = np.random.default_rng(0).permutation(base.num_verts)
    a, b = _ops(base), _ops(_permuted(base, perm))
    ref = np.arange(0, base.num_verts, 3)
    corr_a = torch.as_tensor(ref)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    corr_b = torch.as_tensor(inv[ref])  # vertex of b that is base vertex ref
    C = true_fmap(a.evecs[:, :20], b.evecs[:, :20], corr_a, corr_b)
    # same surface renumbered: the true map is diagonal with +-1 (eigenvector signs), up to eigenspace mixing
    assert torch.allclose(C.abs().diag(), torch.ones(20, dtype=torch.float64), atol=1e-6)
    samples = [ShapeSample("a", a, corr=corr_a), ShapeSample("b", b, corr=corr_b)]
    # features = the unpermuted coordinates: rigidly identical, so the map is exact
    task = FunctionalMapTask(k=20, lambda_=1e-6)
    model = Fixed(lambda batch: batch.verts)
    ev = task.evaluate(model, samples, device="cpu", dtype=torch.float64)
    assert ev["n_pairs"] == 2
    assert ev["mean_geodesic_error"] < 1e-3
    loss, _ = task.loss(model, collate_samples(samples))
    assert loss.item() < 1e-6
    # scrambled features: large error, large loss
    gen = torch.Generator().manual_seed(0)
    noise = lambda batch: torch.randn(batch.total_verts, 3, generator=gen, dtype=torch.float64)
    assert task.evaluate(Fixed(noise), samples, device="cpu", dtype=torch.float64)["mean_geodesic_error"] > 0.1
    assert task.loss(Fixed(noise), collate_samples(samples))[0].item() > 1.0


def test_normalized_features_make_the_solve_scale_invariant():
    """With normalize_features the loss ignores the features' scale; without it, it does not."""
    base = primitives.bumpy_sphere(2, seed=5)
    perm = np.random.default_rng(0).permutation(base.num_verts)
    a, b = _ops(base), _ops(_permuted(base, perm))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    ref = np.arange(0, base.num_verts, 3)
    samples = collate_samples([ShapeSample("a", a, corr=torch.as_tensor(ref)),
                               ShapeSample("b", b, corr=torch.as_tensor(inv[ref]))])
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(samples.batch.total_verts, 8, generator=gen, dtype=torch.float64)

    def loss(task, scale):
        return task.loss(Fixed(lambda batch: scale * feats), samples)[0].item()

    norm, plain = FunctionalMapTask(k=20, normalize_features=True), FunctionalMapTask(k=20)
    assert loss(norm, 1e3) == pytest.approx(loss(norm, 1.0), rel=1e-9)
    unit = torch.nn.functional.normalize(feats, dim=1)
    assert loss(norm, 1.0) == pytest.approx(plain.loss(Fixed(lambda batch: unit), samples)[0].item(), rel=1e-12)
    assert loss(norm, 1e-3) == pytest.approx(loss(norm, 1.0), rel=1e-9)
    assert abs(loss(plain, 1e-3) - loss(plain, 1.0)) > 0.1 * loss(plain, 1.0)  # the penalty takes over


def test_functional_map_loss_needs_pairs(shapes):
    samples = [ShapeSample(f"s{i}", o, corr=torch.arange(10)) for i, o in enumerate(shapes)]
    with pytest.raises(GeodesicNetsError, match="even"):
        FunctionalMapTask(k=10).loss(Fixed(lambda b: b.verts), collate_samples(samples))


@pytest.mark.parametrize("task_class", [ClassificationTask, SegmentationTask])
def test_class_tasks_refuse_bad_options(task_class):
    from geodesic_nets.errors import ArgumentError

    with pytest.raises(ArgumentError, match="num_classes must be >= 2"):
        task_class(1)
    for bad in (-0.1, 1.0):
        with pytest.raises(ArgumentError, match=r"label_smoothing must be in \[0, 1\)"):
            task_class(3, label_smoothing=bad)
    assert task_class(3, label_smoothing=0.2).label_smoothing == 0.2


@pytest.mark.parametrize("cls, args, good", [(ClassificationTask, (3,), {"label_smoothing": 0.1}),
                                             (SegmentationTask, (3,), {"label_smoothing": 0.1}),
                                             (VertexLabelingTask, (9,), {"decode": "one_to_one"}),
                                             (FunctionalMapTask, (), {"k": 12})])
def test_task_options_from_users_are_checked_by_name(cls, args, good):
    task = cls.from_options(*args, **good)
    assert all(getattr(task, k) == v for k, v in good.items())
    with pytest.raises(ArgumentError, match="no option 'decodee'"):
        cls.from_options(*args, decodee="one_to_one", **good)
