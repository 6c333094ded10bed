"""Task metrics: classification/segmentation metrics on hand-computed examples, summaries,
vertex-to-edge/face predictions, and the geodesic correspondence error (great-circle distances
on a sphere, normalization, error curves)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geodesic_nets import primitives
from geodesic_nets.errors import GeodesicNetsError, GeometryError
from geodesic_nets.geometry.geodesics import HeatGeodesicSolver, pairwise_geodesic_distances
from geodesic_nets.tasks.geodesic_error import (
    GeodesicErrorEvaluator,
    correspondence_geodesic_errors,
    default_error_thresholds,
    error_curve,
)
from geodesic_nets.tasks.metrics import (
    accuracy,
    confusion_matrix,
    edge_predictions_from_vertex_logits,
    face_predictions_from_vertex_logits,
    mean_iou,
    per_class_accuracy,
    per_class_iou,
    soft_label_accuracy,
    summarize,
)

PRED = torch.tensor([0, 1, 1, 2, 2, 2, 0, 1])
TARGET = torch.tensor([0, 1, 2, 2, 2, 0, 0, 1])
# pairs (t, p): (0,0) (1,1) (2,1) (2,2) (2,2) (0,2) (0,0) (1,1)
CM = [[2, 0, 1], [0, 2, 0], [0, 1, 2]]


def test_accuracy_and_confusion_hand_computed():
    assert accuracy(PRED, TARGET) == pytest.approx(6 / 8)
    cm = confusion_matrix(PRED, TARGET, 3)
    assert cm.dtype == torch.int64 and cm.shape == (3, 3)
    assert cm.tolist() == CM
    assert int(cm.sum()) == 8
    # a 4th class that never occurs
    assert confusion_matrix(PRED, TARGET, 4).tolist() == [r + [0] for r in CM] + [[0, 0, 0, 0]]
    # numpy and lists are accepted
    assert accuracy(np.array([1, 0]), [1, 1]) == 0.5


def test_scores_are_argmaxed():
    scores = torch.nn.functional.one_hot(PRED, 3).double() * 2.0 - 0.5
    assert accuracy(scores, TARGET) == accuracy(PRED, TARGET)
    assert confusion_matrix(scores, TARGET, 3).tolist() == CM


def test_weighted_and_ignored():
    # weights: correct items 0,1,3,4,6,7 -> w = 1,1,1,1,1,1 ; wrong 2 (w 4), 5 (w 2)
    w = torch.tensor([1.0, 1.0, 4.0, 1.0, 1.0, 2.0, 1.0, 1.0])
    assert accuracy(PRED, TARGET, weights=w) == pytest.approx(6 / 12)
    # ignore class 2: remaining items 0,1,5,6,7 with 4 correct
    assert accuracy(PRED, TARGET, ignore_index=2) == pytest.approx(4 / 5)
    assert accuracy(PRED, TARGET, weights=w, ignore_index=2) == pytest.approx(4 / 6)
    cm = confusion_matrix(PRED, TARGET, 3, ignore_index=2)
    assert cm.tolist() == [[2, 0, 1], [0, 2, 0], [0, 0, 0]]
    t = TARGET.clone()
    t[0] = -100  # out-of-range target that is ignored
    assert confusion_matrix(PRED, t, 3, ignore_index=-100).sum() == 7
    assert math.isnan(accuracy([1], [5], ignore_index=5))


def test_per_class_accuracy_and_iou():
    acc = per_class_accuracy(PRED, TARGET, 4)
    assert acc.dtype == torch.float64
    np.testing.assert_allclose(acc[:3].numpy(), [2 / 3, 1.0, 2 / 3])
    assert math.isnan(float(acc[3]))
    iou = per_class_iou(PRED, TARGET, 4)
    # class 0: tp 2, fp 0, fn 1 -> 2/3 ; class 1: tp 2, fp 1, fn 0 -> 2/3 ; class 2: tp 2, fp 1, fn 1 -> 1/2
    np.testing.assert_allclose(iou[:3].numpy(), [2 / 3, 2 / 3, 1 / 2])
    assert math.isnan(float(iou[3]))
    assert mean_iou(PRED, TARGET, 4) == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)


def test_metric_validation():
    with pytest.raises(GeodesicNetsError, match="outside"):
        confusion_matrix(PRED, TARGET, 2)
    with pytest.raises(GeodesicNetsError, match="items"):
        accuracy(PRED[:3], TARGET)
    with pytest.raises(GeodesicNetsError, match="integer"):
        accuracy(PRED.double(), TARGET)
    with pytest.raises(GeodesicNetsError, match="weights"):
        accuracy(PRED, TARGET, weights=torch.ones(3))
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(PRED, TARGET, 0)


def test_summarize():
    s = summarize([1.0, 2.0, 4.0])
    assert s["n"] == 3 and s["values"] == [1.0, 2.0, 4.0]
    assert s["mean"] == pytest.approx(7 / 3)
    assert s["std"] == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert summarize([1.0, 2.0, 4.0], ddof=0)["std"] == pytest.approx(float(np.std([1.0, 2.0, 4.0])))
    assert summarize(torch.tensor([0.5]))["std"] == 0.0
    empty = summarize([])
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    import json

    json.dumps(s)  # plain floats and ints


def test_edge_and_face_predictions():
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.5], [0.0, 4.0, 0.0]])
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [0, 3]])
    # means: [1.5, .5, 0], [0, .5, 1.25], [0, 2, 1.25], [1.5, 2, 0]
    assert edge_predictions_from_vertex_logits(logits, edges).tolist() == [0, 2, 1, 1]
    faces = torch.tensor([[0, 1, 2], [1, 2, 3], [0, 0, 2]])
    # sums: [3, 1, 2.5], [0, 5, 2.5], [6, 0, 2.5]
    out = face_predictions_from_vertex_logits(logits, faces)
    assert out.dtype == torch.int64 and out.tolist() == [0, 1, 0]
    assert edge_predictions_from_vertex_logits(logits, torch.zeros(0, 2, dtype=torch.int64)).shape == (0,)
    with pytest.raises(GeodesicNetsError, match="out of range"):
        face_predictions_from_vertex_logits(logits, torch.tensor([[0, 1, 4]]))
    with pytest.raises(GeodesicNetsError, match="edges"):
        edge_predictions_from_vertex_logits(logits, faces)


def test_soft_label_accuracy_hand_computed():
    accepts = torch.tensor([[True, False, False], [True, True, False], [False, False, True], [False, True, True]])
    pred = torch.tensor([0, 1, 0, 1])  # correct, correct (second accepted label), wrong, correct
    assert soft_label_accuracy(pred, accepts) == pytest.approx(3 / 4)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert soft_label_accuracy(pred, accepts, weights=w) == pytest.approx((1 + 2 + 4) / 10)
    scores = torch.nn.functional.one_hot(pred, 3).double()
    assert soft_label_accuracy(scores, accepts, weights=w) == pytest.approx(0.7)
    # With one accepted label per item it is the plain (weighted) accuracy.
    hard = torch.nn.functional.one_hot(TARGET, 3).bool()
    assert soft_label_accuracy(PRED, hard) == pytest.approx(accuracy(PRED, TARGET))
    assert math.isnan(soft_label_accuracy(torch.zeros(0, dtype=torch.int64), torch.zeros(0, 3, dtype=torch.bool)))
    with pytest.raises(GeodesicNetsError, match="bool"):
        soft_label_accuracy(pred, accepts.long())
    with pytest.raises(GeodesicNetsError, match="out of range"):
        soft_label_accuracy(torch.tensor([0, 1, 3, 1]), accepts)
    with pytest.raises(GeodesicNetsError, match="weights"):
        soft_label_accuracy(pred, accepts, weights=-w)


# ============================================================================ geodesic errors
@pytest.fixture(scope="module")
def sphere():
    return primitives.icosphere(3)  # unit sphere, 642 vertices


def _great_circle(verts, i, j):
    u = verts / np.linalg.norm(verts, axis=1, keepdims=True)
    return np.arccos(np.clip((u[i] * u[j]).sum(1), -1.0, 1.0))


def _pairs(n, num_verts, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_verts, n), rng.integers(0, num_verts, n)


def test_heat_errors_are_great_circle_distances(sphere):
    pred, true = _pairs(150, sphere.num_verts, 0)
    gc = _great_circle(sphere.verts, pred, true)
    e = correspondence_geodesic_errors(sphere.verts, sphere.faces, pred, true, normalize="none")
    assert e.shape == (150,) and e.dtype == np.float64
    np.testing.assert_allclose(e, gc, atol=0.06)  # heat method on a 642-vertex sphere: ~2% of pi


def test_exact_errors_are_much_tighter(sphere):
    pred, true = _pairs(30, sphere.num_verts, 1)
    gc = _great_circle(sphere.verts, pred, true)
    e = correspondence_geodesic_errors(sphere.verts, sphere.faces, pred, true, exact=True, normalize="none")
    # the inscribed polyhedron's geodesics are slightly shorter than the sphere's great circles
    assert np.all(e <= gc + 1e-9)
    np.testing.assert_allclose(e, gc, rtol=5e-3, atol=1e-12)


def test_zero_where_prediction_is_true(sphere):
    pred, true = _pairs(80, sphere.num_verts, 2)
    pred[::3] = true[::3]
    e = correspondence_geodesic_errors(sphere.verts, sphere.faces, pred, true)
    assert np.all(e[::3] == 0.0)
    assert np.all(e[pred != true] > 0)
    # all correct: no solve needed, all zero
    assert np.all(correspondence_geodesic_errors(sphere.verts, sphere.faces, true, true) == 0.0)


class _DippingSolver:
    """A solver whose distances dip below zero away from the source, as the heat method's can."""

    def __init__(self, n):
        self.num_verts = n

    def distance(self, source):
        d = np.abs(np.arange(self.num_verts, dtype=np.float64) - source)
        d[(source + 2) % self.num_verts] = -2e-4
        return d


def test_negative_solver_distances_count_as_zero(sphere):
    n = sphere.num_verts
    ev = GeodesicErrorEvaluator(sphere.verts, sphere.faces, solver=_DippingSolver(n), normalize="none")
    true = np.array([0, 5, 9])
    pred = np.array([2, 8, 11])  # the dipping vertex of 0 and 9, three away from 5
    np.testing.assert_array_equal(ev.errors(pred, true), [0.0, 3.0, 0.0])
    curve = error_curve(ev.errors(pred, true))  # a curve can be drawn from them
    assert curve.fractions[0] == pytest.approx(2 / 3)


def test_matches_pairwise_reference_and_block_size(sphere):
    pred, true = _pairs(120, sphere.num_verts, 3)
    true[:40] = true[0]  # repeated true vertices share one solve
    solver = HeatGeodesicSolver(sphere.verts, sphere.faces)
    ref = pairwise_geodesic_distances(solver, true, pred)
    ev = GeodesicErrorEvaluator(sphere.verts, sphere.faces, solver=solver, normalize="none", block_size=7)
    np.testing.assert_allclose(ev.errors(pred, true), ref, rtol=0, atol=1e-12)


def test_many_predictions_at_once(sphere):
    pred1, true = _pairs(60, sphere.num_verts, 4)
    pred2, _ = _pairs(60, sphere.num_verts, 5)
    ev = GeodesicErrorEvaluator(sphere.verts, sphere.faces, block_size=16)
    both = ev(np.stack([pred1, pred2]), true)
    assert both.shape == (2, 60)
    np.testing.assert_allclose(both[0], ev(pred1, true), atol=1e-12)
    np.testing.assert_allclose(both[1], ev(pred2, true), atol=1e-12)


def test_sqrt_area_normalization_is_scale_invariant(sphere):
    pred, true = _pairs(100, sphere.num_verts, 6)
    ev1 = GeodesicErrorEvaluator(sphere.verts, sphere.faces)
    ev3 = GeodesicErrorEvaluator(3.0 * sphere.verts, sphere.faces)
    np.testing.assert_allclose(ev3.area, 9.0 * ev1.area, rtol=1e-12)
    np.testing.assert_allclose(ev1.area, 4 * np.pi, rtol=0.02)  # the inscribed icosphere
    np.testing.assert_allclose(ev3(pred, true), ev1(pred, true), rtol=1e-6, atol=1e-9)
    raw1 = GeodesicErrorEvaluator(sphere.verts, sphere.faces, normalize="none")(pred, true)
    raw3 = GeodesicErrorEvaluator(3.0 * sphere.verts, sphere.faces, normalize="none")(pred, true)
    np.testing.assert_allclose(raw3, 3.0 * raw1, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ev1(pred, true), raw1 / np.sqrt(ev1.area), rtol=1e-12)
    # an explicit area (e.g. before normalization) overrides the mesh's
    ev = GeodesicErrorEvaluator(sphere.verts, sphere.faces, area=4.0)
    np.testing.assert_allclose(ev(pred, true), raw1 / 2.0, rtol=1e-12)


def test_other_component_is_infinitely_far():
    a, b = primitives.icosphere(1), primitives.icosphere(1)
    verts = np.concatenate([a.verts, b.verts + 3.0])
    faces = np.concatenate([a.faces, b.faces + a.num_verts])
    e = correspondence_geodesic_errors(verts, faces, [a.num_verts + 1, 1], [0, 0])
    assert np.isinf(e[0]) and np.isfinite(e[1])
    curve = error_curve(e, [0.0, 10.0])
    np.testing.assert_allclose(curve.fractions, [0.0, 0.5])


def test_input_validation(sphere):
    ev = GeodesicErrorEvaluator(sphere.verts, sphere.faces)
    with pytest.raises(GeodesicNetsError, match="out of range"):
        ev([0, sphere.num_verts], [0, 1])
    with pytest.raises(GeodesicNetsError, match="shape"):
        ev([0, 1, 2], [0, 1])
    with pytest.raises(GeodesicNetsError, match="integer"):
        ev(np.array([0.0, 1.0]), [0, 1])
    with pytest.raises(ValueError, match="normalize"):
        GeodesicErrorEvaluator(sphere.verts, sphere.faces, normalize="diameter")
    with pytest.raises(GeometryError, match="area"):
        GeodesicErrorEvaluator(sphere.verts, None)
    with pytest.raises(GeometryError, match="vertices"):
        GeodesicErrorEvaluator(sphere.verts[:10], sphere.faces[:2], solver=ev.solver)


def test_point_cloud_with_explicit_area():
    cloud = primitives.sphere_point_cloud(800)
    pred, true = _pairs(40, 800, 7)
    e = correspondence_geodesic_errors(cloud.verts, None, pred, true, normalize="none")
    np.testing.assert_allclose(e, _great_circle(cloud.verts, pred, true), atol=0.15)
    en = correspondence_geodesic_errors(cloud.verts, None, pred, true, area=4 * np.pi)
    np.testing.assert_allclose(en, e / np.sqrt(4 * np.pi), rtol=1e-12)


# ---------------------------------------------------------------------------- curve
def test_error_curve_hand_computed():
    errors = np.array([0.0, 0.1, 0.2, np.inf])
    curve = error_curve(errors, [0.0, 0.1, 0.15, 0.3])
    np.testing.assert_allclose(curve.fractions, [0.25, 0.5, 0.5, 0.75])
    # auc over [0, 1] of the step data 0.5 -> 1.0: trapezoid 0.75
    assert error_curve([0.0, 1.0], [0.0, 1.0]).auc == pytest.approx(0.75)
    thr, frac = error_curve([0.3, 0.01])  # unpacks; default radii 0..0.25
    np.testing.assert_array_equal(thr, default_error_thresholds())
    assert thr[0] == 0.0 and thr[-1] == pytest.approx(0.25) and len(thr) == 51
    assert frac[0] == 0.0 and frac[-1] == 0.5 and np.all(np.diff(frac) >= 0)


def test_error_curve_validation():
    with pytest.raises(GeodesicNetsError):
        error_curve([])
    with pytest.raises(GeodesicNetsError):
        error_curve([np.nan])
    with pytest.raises(ValueError):
        error_curve([0.1], [0.2, 0.1])
