"""prepare_samples, ShapeDataset, seeded splits and the dataset registry (generated meshes only)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

import geodesic_nets.operators.compute as operators_compute
from geodesic_nets import OperatorSettings, Surface, primitives
from geodesic_nets.data import (
    DATASETS,
    ShapeDataset,
    ShapeSample,
    kfold_splits,
    load_dataset,
    per_class_split,
    prepare_samples,
    random_split,
)
from geodesic_nets.errors import GeodesicNetsError, InvalidSurfaceError, MeshFormatError
from geodesic_nets.io import save

SETTINGS = OperatorSettings(k_eig=8)


def _sphere(radius: float, name: str = "sphere") -> Surface:
    s = primitives.icosphere(2, radius=radius)
    return Surface(s.verts + np.array([1.0, -2.0, 0.5]), s.faces, name=name)


# ---------------------------------------------------------------------------- prepare_samples
def test_prepare_normalizes_and_records_area_scale_offset():
    s = _sphere(2.0)
    (ps,) = prepare_samples([s], settings=SETTINGS, progress=False, dtype=torch.float64)
    info = ps.info
    # Area of the icosphere scaled by 2 is 4 times that of the unit one.
    unit = prepare_samples([primitives.icosphere(2)], settings=SETTINGS, progress=False)[0].info["area"]
    assert info["area"] == pytest.approx(4 * unit, rel=1e-12)
    assert info["scale"] == pytest.approx(1 / np.sqrt(info["area"]), rel=1e-12)
    # Vertex order kept: normalized = (original - offset) * scale, row by row.
    expect = (s.verts - np.array(info["offset"])) * info["scale"]
    np.testing.assert_allclose(ps.operators.verts.numpy(), expect, atol=1e-12)
    assert ps.operators.mass.sum().item() == pytest.approx(1.0, rel=1e-9)  # area 1 after normalization
    np.testing.assert_allclose(info["offset"], [1.0, -2.0, 0.5], atol=1e-9)
    assert ps.operators.verts.dtype == torch.float64 and ps.operators.faces.dtype == torch.int64
    assert info["cache_hit"] is None


def test_prepare_without_normalization_keeps_coordinates_and_default_float32():
    s = _sphere(3.0)
    (ps,) = prepare_samples([s], settings=SETTINGS, progress=False, normalize=False)
    assert ps.operators.verts.dtype == torch.float32
    np.testing.assert_allclose(ps.operators.verts.numpy(), s.verts, rtol=1e-6)
    assert ps.info["scale"] == 1.0
    assert ps.operators.mass.sum().item() == pytest.approx(ps.info["area"], rel=1e-5)


def test_prepare_point_cloud_is_scaled_to_unit_radius():
    pc = primitives.sphere_point_cloud(300, radius=5.0)
    (ps,) = prepare_samples([pc], settings=SETTINGS, progress=False, dtype=torch.float64)
    assert ps.info["area"] is None
    assert ps.operators.verts.norm(dim=1).max().item() == pytest.approx(1.0, rel=1e-9)


def test_prepare_bad_file_raises_naming_it_or_is_skipped(tmp_path, caplog):
    good = tmp_path / "good.off"
    save(_sphere(1.0), good)
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nf 1 2 7\n")
    with pytest.raises(GeodesicNetsError, match="bad.obj"):
        prepare_samples([good, bad], settings=SETTINGS, progress=False)
    garbage = tmp_path / "garbage.off"
    garbage.write_text("OFF\n3 1 0\n0 0 0\n")  # truncated
    with pytest.raises(MeshFormatError, match="garbage.off"):
        prepare_samples([garbage], settings=SETTINGS, progress=False)
    with caplog.at_level(logging.WARNING, logger="geodesic_nets.data.prepare"):
        out = prepare_samples([bad, good, garbage], settings=SETTINGS, progress=False, skip_bad=True)
    assert [ps.index for ps in out] == [1]
    assert "bad.obj" in caplog.text and "garbage.off" in caplog.text


def test_prepare_error_keeps_project_exception_type(tmp_path):
    bad = tmp_path / "nan.obj"
    bad.write_text("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(InvalidSurfaceError, match="nan.obj"):
        prepare_samples([bad], settings=SETTINGS, progress=False)


def test_prepare_validates_options():
    with pytest.raises(ValueError, match="jobs"):
        prepare_samples([], settings=SETTINGS, jobs=0)
    with pytest.raises(TypeError, match="settings"):
        prepare_samples([], settings={"k_eig": 8})
    with pytest.raises(ValueError, match="dtype"):
        prepare_samples([], settings=SETTINGS, dtype=torch.int64)
    with pytest.raises(TypeError, match="item 0"):
        prepare_samples([np.zeros((3, 3))], settings=SETTINGS)


def test_cache_second_load_reads_the_cache(tmp_path, monkeypatch):
    shapes = [_sphere(1.0 + 0.5 * i, name=f"s{i}") for i in range(2)]
    first = prepare_samples(shapes, settings=SETTINGS, cache_dir=tmp_path, progress=False)
    assert [ps.info["cache_hit"] for ps in first] == [False, False]
    assert len(list(tmp_path.glob("*.npz"))) == 2

    def boom(*args, **kwargs):
        raise AssertionError("operators recomputed instead of read from the cache")

    monkeypatch.setattr(operators_compute, "_run_stages", boom)
    second = prepare_samples(shapes, settings=SETTINGS, cache_dir=tmp_path, progress=False)
    assert [ps.info["cache_hit"] for ps in second] == [True, True]
    for a, b in zip(first, second):
        assert torch.equal(a.operators.evecs, b.operators.evecs)
        assert torch.equal(a.operators.verts, b.operators.verts)


# ---------------------------------------------------------------------------- ShapeDataset
def _dataset(n: int = 5) -> ShapeDataset:
    prepared = prepare_samples([_sphere(1.0 + i, name=f"s{i}") for i in range(n)], settings=SETTINGS, progress=False)
    samples = [
        ShapeSample(name=f"s{p.index}", operators=p.operators, label=torch.tensor(p.index % 2),
                    extra={**p.info, "split": "train" if p.index < 2 else "test"})
        for p in prepared
    ]
    return ShapeDataset(samples, name="toy", task="classification", settings=SETTINGS, num_classes=2,
                        class_names=["even", "odd"], params={"seed": np.int64(3)})


def test_dataset_describe_is_json_and_counts():
    ds = _dataset()
    d = json.loads(json.dumps(ds.describe()))
    assert d["num_samples"] == 5 and d["splits"] == {"test": 3, "train": 2}
    assert d["label_counts"] == [3, 2]
    assert d["num_verts"] == {"min": 162, "median": 162.0, "max": 162}
    assert d["settings"]["k_eig"] == 8 and d["params"] == {"seed": 3}
    assert d["class_names"] == ["even", "odd"] and d["task"] == "classification"


def test_dataset_subset_and_pairs():
    ds = _dataset()
    sub = ds.subset([4, 0, 2])
    assert type(sub) is ShapeDataset and [s.name for s in sub] == ["s4", "s0", "s2"]
    assert sub.class_names == ds.class_names and len(ds) == 5  # the original is untouched
    assert ds.test_pairs() == [(2, 3), (2, 4), (3, 4)]
    assert len(ds.pairs()) == 10 and len(ds.pairs(ordered=True)) == 20
    assert sorted(ds.test_pairs(ordered=True)) == sorted([(i, j) for i in (2, 3, 4) for j in (2, 3, 4) if i != j])
    assert [s.name for s in ds.filter(lambda s: int(s.label) == 1)] == ["s1", "s3"]
    with pytest.raises(IndexError):
        ds.subset([7])


def test_dataset_validates_arguments():
    ds = _dataset(2)
    with pytest.raises(ValueError, match="task"):
        ShapeDataset(ds.samples, name="x", task="regression", settings=SETTINGS)
    with pytest.raises(ValueError, match="class names"):
        ShapeDataset(ds.samples, name="x", task="classification", settings=SETTINGS, num_classes=3, class_names=["a"])
    with pytest.raises(TypeError, match="sample 0"):
        ShapeDataset([object()], name="x", task="classification", settings=SETTINGS)


def test_dataset_transform_applies_on_read_and_composes():
    import dataclasses

    from torch.utils.data import DataLoader

    ds = _dataset(4)
    calls = []

    def flip(sample):
        calls.append(sample.name)
        return dataclasses.replace(sample, label=1 - sample.label)

    def rename(sample):
        return dataclasses.replace(sample, name=sample.name + "!")

    flipped = ds.with_transform(flip)
    assert [int(s.label) for s in flipped] == [1 - int(s.label) for s in ds]  # the original is untouched
    assert [s.name for s in ds] == ["s0", "s1", "s2", "s3"]
    both = flipped.with_transform(rename)
    assert both[2].name == "s2!" and int(both[2].label) == 1 - int(ds[2].label)
    assert [s.name for s in both.subset([1])] == ["s1!"]  # subsets keep the transform
    loaded = [b for b in DataLoader(flipped, batch_size=2, collate_fn=lambda items: items)]
    assert sum(len(b) for b in loaded) == 4 and len(calls) >= 8
    assert ds.with_transform(None).transform is None
    with pytest.raises(TypeError, match="ShapeSample"):
        ds.with_transform(lambda s: 3)[0]
    with pytest.raises(ValueError, match="callable"):
        ds.with_transform("flip")


# ---------------------------------------------------------------------------- splits
def test_per_class_split_is_seeded_partition_and_independent_of_other_classes():
    classes = ["a"] * 20 + ["b"] * 20 + ["c"] * 7
    train, test = per_class_split(classes, n_train=5, seed=4)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(47))
    assert [sum(classes[i] == c for i in train) for c in "abc"] == [5, 5, 5]
    again, _ = per_class_split(classes, n_train=5, seed=4)
    assert np.array_equal(train, again)
    other, _ = per_class_split(classes, n_train=5, seed=5)
    assert not np.array_equal(train, other)
    # Class "a" draws the same members when class "b" is absent.
    alone, _ = per_class_split(classes[:20] + classes[40:], n_train=5, seed=4)
    assert np.array_equal(alone[:5], train[:5])
    with pytest.raises(ValueError, match="'c' has 7"):
        per_class_split(classes, n_train=7, seed=0)


def test_random_split_and_kfold():
    tr, te = random_split(10, n_test=3, seed=1)
    assert len(te) == 3 and np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(10))
    folds = kfold_splits(11, k=3, seed=2)
    tests = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tests), np.arange(11))
    assert sorted(len(t) for _, t in folds) == [3, 4, 4]
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == 11
    labels = [0] * 9 + [1] * 6
    strat = kfold_splits(15, k=3, seed=0, classes=labels)
    for _, test in strat:
        assert sum(labels[i] == 0 for i in test) == 3 and sum(labels[i] == 1 for i in test) == 2
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(strat, kfold_splits(15, k=3, seed=0, classes=labels)))
    with pytest.raises(ValueError, match="k must"):
        kfold_splits(3, k=4, seed=0)


# ---------------------------------------------------------------------------- registry
def test_registry_names_and_errors(tmp_path):
    assert set(DATASETS) == {
        "shrec11", "faust", "faust_r", "correspondence_folder", "human_seg", "folder",
        "synthetic_shapes", "synthetic_correspondence", "synthetic_segmentation",
    }
    with pytest.raises(GeodesicNetsError, match="known datasets: shrec11, faust"):
        load_dataset("modelnet", root=tmp_path)
    with pytest.raises(GeodesicNetsError, match="give root"):
        load_dataset("faust")
    with pytest.raises(GeodesicNetsError, match="generated"):
        load_dataset("synthetic_shapes", root=tmp_path)
    ds = load_dataset("synthetic_segmentation", split="test", settings=SETTINGS, n_shapes=4, progress=False)
    assert ds.name == "synthetic_segmentation" and len(ds) == 1 and ds[0].extra["split"] == "test"
