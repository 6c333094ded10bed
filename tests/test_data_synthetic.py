"""Synthetic datasets: determinism, class separation, exact correspondences and carried labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geodesic_nets import OperatorSettings
from geodesic_nets.data import SYNTHETIC_CLASSES, SyntheticCorrespondence, SyntheticSegmentation, SyntheticShapes
from geodesic_nets.data.synthetic import torus_part
from geodesic_nets.data.synthetic_meshes import (
    random_sphere_directions,
    smooth_deformation,
    sphere_tessellation,
)

SETTINGS = OperatorSettings(k_eig=8)
OPTS = dict(settings=SETTINGS, progress=False)


def _topology(faces: np.ndarray, num_verts: int) -> tuple[int, bool]:
    """Euler characteristic, and whether the mesh is closed, manifold and consistently oriented."""
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed_unique = len(np.unique(half, axis=0)) == len(half)
    und, counts = np.unique(np.sort(half, axis=1), axis=0, return_counts=True)
    return num_verts - len(und) + len(faces), bool(directed_unique and np.all(counts == 2))


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


def _same(a, b) -> bool:
    return all(
        x.name == y.name
        and torch.equal(x.operators.verts, y.operators.verts)
        and torch.equal(x.operators.faces, y.operators.faces)
        and (x.label is None or torch.equal(x.label, y.label))
        and (x.corr is None or torch.equal(x.corr, y.corr))
        for x, y in zip(a, b)
    ) and len(a) == len(b)


# ---------------------------------------------------------------------------- building blocks
def test_sphere_directions_keep_fixed_points_and_tessellate_closed():
    rng = np.random.default_rng(0)
    fixed = random_sphere_directions(50, np.random.default_rng(1))
    dirs = random_sphere_directions(400, rng, fixed=fixed)
    assert np.array_equal(dirs[:50], fixed) and abs(len(dirs) - 400) < 40
    faces = sphere_tessellation(dirs)
    euler, closed = _topology(faces, len(dirs))
    assert euler == 2 and closed and _signed_volume(dirs, faces) > 0


def test_smooth_deformation_is_non_rigid_and_deterministic():
    rng_pts = np.random.default_rng(3)
    x = rng_pts.normal(size=(200, 3))
    y1 = smooth_deformation(x, np.random.default_rng(5))
    y2 = smooth_deformation(x, np.random.default_rng(5))
    assert np.array_equal(y1, y2)
    dx = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dy = np.linalg.norm(y1[:, None] - y1[None], axis=-1)
    ratio = dy[dx > 0.5] / dx[dx > 0.5]
    assert ratio.max() / ratio.min() > 1.2  # distances change unevenly: not a similarity
    # Smooth: nearby points stay nearby (bounded stretch).
    assert ratio.max() < 2.0 and ratio.min() > 0.5


# ---------------------------------------------------------------------------- classification
def test_synthetic_shapes_deterministic_and_split_consistent():
    kw = dict(n_per_class=4, n_classes=2, seed=3, **OPTS)
    a = SyntheticShapes(split="all", **kw)
    assert _same(a, SyntheticShapes(split="all", **kw))
    train, test = SyntheticShapes(split="train", **kw), SyntheticShapes(split="test", **kw)
    assert len(train) == 6 and len(test) == 2 and {s.extra["split"] for s in test} == {"test"}
    # An instance is the same whichever split it was generated for.
    assert _same([s for s in a if s.extra["split"] == "train"], list(train))
    other = SyntheticShapes(split="all", **{**kw, "seed": 4})
    assert not torch.equal(a[0].operators.verts[:10], other[0].operators.verts[:10])
    assert a.class_names == ["sphere", "torus"] and [int(s.label) for s in a] == [0] * 4 + [1] * 4


def test_synthetic_classes_differ_but_vertex_counts_do_not_tell():
    ds = SyntheticShapes(n_per_class=6, n_classes=5, seed=0, split="all", **OPTS)
    labels = np.array([int(s.label) for s in ds])
    counts = np.array([s.num_verts for s in ds])
    for c in range(5):
        v = counts[labels == c]
        assert v.max() - v.min() > 100  # every class comes in several resolutions
    lo = max(counts[labels == c].min() for c in range(5))
    hi = min(counts[labels == c].max() for c in range(5))
    assert lo < hi  # the vertex-count ranges of all classes overlap
    for s in ds:
        euler, closed = _topology(s.operators.faces.numpy(), s.num_verts)
        assert closed and euler == (0 if s.extra["class_name"] == "torus" else 2)
        assert _signed_volume(s.operators.verts.double().numpy(), s.operators.faces.numpy()) > 0
    # Classes differ intrinsically: leave-one-out nearest class mean of the low spectrum
    # (area-normalized shapes, in units of the pooled within-class spread) recovers every label.
    spec = torch.stack([s.operators.evals[1:8].double() for s in ds]).numpy()
    for i in range(len(ds)):
        keep = np.arange(len(ds)) != i
        means = np.stack([spec[keep & (labels == c)].mean(0) for c in range(5)])
        spread = np.sqrt(np.mean([spec[keep & (labels == c)].var(0) for c in range(5)], axis=0))
        assert np.argmin(np.linalg.norm((means - spec[i]) / spread, axis=1)) == labels[i], ds[i].name


def test_synthetic_shapes_validates():
    with pytest.raises(ValueError, match="n_classes"):
        SyntheticShapes(n_classes=len(SYNTHETIC_CLASSES) + 1, **OPTS)
    with pytest.raises(ValueError, match="split"):
        SyntheticShapes(split="val", **OPTS)
    with pytest.raises(ValueError, match="verts_range"):
        SyntheticShapes(verts_range=(500, 100), **OPTS)


# ---------------------------------------------------------------------------- correspondence
def test_synthetic_correspondence_maps_are_exact():
    ds = SyntheticCorrespondence(
        n_shapes=4, seed=2, split="all", test_fraction=0.5, n_reference=120, verts_range=(300, 500), **OPTS
    )
    assert ds.task == "correspondence" and ds.num_classes == 120
    assert ds.test_pairs() == [(2, 3)] and len(ds.pairs()) == 6
    ref = torch.from_numpy(ds.reference_points)
    for s in ds:
        base = s.extra["base_points"]
        assert base.shape == (s.num_verts, 3) and s.corr.shape == (120,)
        # corr picks the vertices at the reference points: zero distance on the base shape.
        assert torch.equal(base[s.corr], ref)
        # Labels travel with the permutation: label[corr[i]] == i, and every vertex is labelled
        # with a reference point near it on the base shape.
        assert torch.equal(s.label[s.corr], torch.arange(120))
        near = (base - ref[s.label]).norm(dim=1)
        assert near.max().item() < 0.5
        assert not torch.equal(s.corr, torch.arange(120))  # shuffled: identity order says nothing
    assert len({s.num_verts for s in ds}) == 4  # remeshed: different vertex counts
    # Deformed copies, not rigid ones: the normalized shapes are not similar to the base shape.
    a = ds[0]
    x = a.operators.verts.double()[a.corr]
    y = ref
    x0, y0 = x - x.mean(0), y - y.mean(0)
    u, sv, vt = torch.linalg.svd(y0.T @ x0)
    scale = sv.sum() / (y0**2).sum()
    residual = (x0 - scale * y0 @ (u @ vt)).norm(dim=1).mean() / x0.norm(dim=1).mean()
    assert residual > 0.03


def test_synthetic_correspondence_shared_template_and_determinism():
    kw = dict(n_shapes=3, seed=5, split="all", n_reference=100, remesh=False, verts_range=(300, 400), **OPTS)
    ds = SyntheticCorrespondence(**kw)
    assert _same(ds, SyntheticCorrespondence(**kw))
    assert len({s.num_verts for s in ds}) == 1 and ds.num_classes == ds[0].num_verts
    # In template numbering, every shape has exactly the template's faces.
    face_sets = [
        {tuple(sorted(f)) for f in s.label[s.operators.faces].tolist()} for s in ds
    ]
    assert face_sets[0] == face_sets[1] == face_sets[2]
    for s in ds:
        assert torch.equal(s.label[s.corr], torch.arange(100))
        inv = torch.empty_like(s.label)
        inv[s.label] = torch.arange(s.num_verts)
        assert torch.equal(s.extra["base_points"][inv], ds[0].extra["base_points"][torch.argsort(ds[0].label)])
    assert not torch.equal(ds[0].label, ds[1].label)


# ---------------------------------------------------------------------------- segmentation
def test_synthetic_segmentation_labels_follow_the_base_torus():
    ds = SyntheticSegmentation(n_shapes=3, n_parts=4, seed=1, split="all", **OPTS)
    assert _same(ds, SyntheticSegmentation(n_shapes=3, n_parts=4, seed=1, split="all", **OPTS))
    for s in ds:
        base = s.extra["base_points"].numpy()
        u = np.arctan2(base[:, 1], base[:, 0])
        assert np.array_equal(s.label.numpy(), torus_part(u, 4))  # carried through the shuffle
        assert s.face_label.shape == (len(s.operators.faces),)
        faces = s.operators.faces.numpy()
        face_u = np.arctan2(np.sin(u)[faces].sum(1), np.cos(u)[faces].sum(1))
        assert np.array_equal(s.face_label.numpy(), torus_part(face_u, 4))
        share = np.bincount(s.label.numpy(), minlength=4) / s.num_verts
        assert share.min() > 0.15 and share.max() < 0.35
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
        assert np.mean(s.label.numpy()[e[:, 0]] == s.label.numpy()[e[:, 1]]) > 0.9
        euler, closed = _topology(faces, s.num_verts)
        assert euler == 0 and closed
        # Non-rigid: the shape is not a similarity transform of its base torus.
        x = s.operators.verts.double().numpy()
        x0, y0 = x - x.mean(0), base - base.mean(0)
        uu, sv, vt = np.linalg.svd(y0.T @ x0)
        res = np.linalg.norm(x0 - sv.sum() / (y0**2).sum() * y0 @ (uu @ vt), axis=1).mean()
        assert res / np.linalg.norm(x0, axis=1).mean() > 0.03
    with pytest.raises(ValueError, match="n_parts"):
        SyntheticSegmentation(n_parts=1, **OPTS)
