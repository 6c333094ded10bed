"""The operator registry: dataclasses, conversion, cache and batch all follow one declaration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from geodesic_nets import (
    ArgumentError,
    MeshBatch,
    OperatorCache,
    OperatorSettings,
    OperatorTensors,
    Surface,
    SurfaceOperators,
    compute_operators,
    primitives,
)
from geodesic_nets.cache import ArrayCache
from geodesic_nets.operators import (
    OPERATOR_FIELDS,
    STAGES,
    TENSOR_FIELDS,
    check_operators,
    resolve_settings,
)
from geodesic_nets.operators.cache import decode_operators, encode_operators

SETTINGS = OperatorSettings(k_eig=6, patch_size=8, anisotropic={"n_orientations": 2, "times": (1.0,), "k_eig": 6})


@pytest.fixture(scope="module")
def bumpy_ops():
    surface = primitives.icosphere(1)
    rng = np.random.default_rng(0)
    surface = surface.with_verts(surface.verts * (1 + 0.1 * rng.random((surface.num_verts, 1))))
    return compute_operators(surface, settings=SETTINGS)


def test_dataclasses_have_exactly_the_registry_fields():
    numpy_names = {f.name for f in dataclasses.fields(SurfaceOperators)}
    assert numpy_names == {"verts", "faces", "settings", "timings"} | {f.name for f in OPERATOR_FIELDS}
    tensor_names = [f.name for f in dataclasses.fields(OperatorTensors)]
    assert sorted(tensor_names) == sorted(t.name for t in TENSOR_FIELDS)
    batch_names = {f.name for f in dataclasses.fields(MeshBatch)}
    assert {t.name for t in TENSOR_FIELDS} <= batch_names
    for t in TENSOR_FIELDS:  # every tensor reads a field that exists
        assert t.source in numpy_names, t
    stage_outputs = [f.name for s in STAGES for f in s.outputs]
    assert len(stage_outputs) == len(set(stage_outputs)), "a field computed by two stages"


def test_every_registry_tensor_is_converted_with_its_kind(bumpy_ops):
    t = bumpy_ops.to(dtype=torch.float64)
    for field in TENSOR_FIELDS:
        value = getattr(t, field.name)
        assert value is not None, field.name
        if field.dtype == "sparse":
            assert value.is_sparse
            want = field.read(bumpy_ops).toarray()
            np.testing.assert_array_equal(value.to_dense().numpy(), want)
        else:
            assert value.dtype == (torch.int64 if field.dtype == "index" else torch.float64), field.name
            np.testing.assert_array_equal(value.numpy(), field.read(bumpy_ops))


def test_encoding_round_trips_every_field(bumpy_ops):
    back = decode_operators(encode_operators(bumpy_ops), SETTINGS)
    for field in TENSOR_FIELDS:
        a, b = field.read(bumpy_ops), field.read(back)
        if sp.issparse(a):
            a, b = a.toarray(), b.toarray()
        np.testing.assert_array_equal(a, b, err_msg=field.name)
    assert back.timings == bumpy_ops.timings


def test_point_cloud_round_trips_without_faces():
    cloud = Surface(primitives.icosphere(2).verts, None, name="cloud")
    ops = compute_operators(cloud, k_eig=5)
    back = decode_operators(encode_operators(ops), ops.settings)
    assert back.faces is None and back.patches is None and back.patch_kernels is None
    np.testing.assert_array_equal(back.evecs, ops.evecs)


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda a: a.update({"mass": a["mass"][:-1]}), "mass has shape"),
        (lambda a: a.update({"evecs": a["evecs"][:, :-1]}), "evecs has shape"),
        (lambda a: a.update({"connection.transport": a["connection.transport"][:-1]}), "transport has shape"),
        (lambda a: a.update({"patch_kernels": a["patch_kernels"][:, :1]}), "patch_kernels has shape"),
        (lambda a: a.update({"frames.normals": np.full_like(a["frames.normals"], np.nan)}), "non-finite"),
        (lambda a: a.pop("patch_kernels"), "patch_kernels is missing"),
        (lambda a: [a.pop(k) for k in [k for k in a if k.startswith("patches.")]], "patches is missing"),
    ],
)
def test_decode_rejects_what_does_not_fit_the_registry(bumpy_ops, edit, problem):
    arrays = encode_operators(bumpy_ops)
    edit(arrays)
    with pytest.raises(Exception, match=problem):
        decode_operators(arrays, SETTINGS)


def test_check_operators_is_empty_on_computed_bundles(bumpy_ops):
    assert check_operators(bumpy_ops) == []
    plain = compute_operators(primitives.icosphere(1), k_eig=4)
    assert check_operators(plain) == []
    assert check_operators(dataclasses.replace(plain, settings=SETTINGS)) == [
        "patches is missing", "patch_kernels is missing"
    ]


def test_array_cache_knows_nothing_of_operators(tmp_path):
    cache = ArrayCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3.0)}

    first = cache.get_or_compute("k1", compute, encode=lambda v: v, decode=lambda a: {"x": a["x"]})
    again = cache.get_or_compute("k1", compute, encode=lambda v: v, decode=lambda a: {"x": a["x"]})
    assert calls == [1]
    np.testing.assert_array_equal(first["x"], again["x"])
    # A decode that rejects the entry makes it a miss, recomputed.
    def reject(a):
        raise ValueError("not what I stored")

    cache.get_or_compute("k1", compute, encode=lambda v: v, decode=reject)
    assert calls == [1, 1]


def test_cache_reads_entries_through_the_registry(tmp_path, bumpy_ops):
    surface = Surface(bumpy_ops.verts, bumpy_ops.faces)
    cache = OperatorCache(tmp_path)
    cache.store(surface, SETTINGS, bumpy_ops)
    loaded = cache.load(surface, SETTINGS)
    np.testing.assert_array_equal(loaded.patch_kernels, bumpy_ops.patch_kernels)
    assert cache.load(surface.with_verts(surface.verts + 1e-3), SETTINGS) is None


def test_settings_and_disagreeing_keywords_are_refused():
    surface = primitives.icosphere(1)
    settings = OperatorSettings(k_eig=8)
    with pytest.raises(ArgumentError, match="k_eig=12 .settings has 8"):
        compute_operators(surface, k_eig=12, settings=settings)
    with pytest.raises(ValueError, match="patch_size"):
        compute_operators(surface, patch_size=4, settings=settings)
    # Agreeing keywords are fine, and keywords alone keep their defaults.
    assert compute_operators(surface, k_eig=8, settings=settings).num_eigs == 8
    assert resolve_settings(k_eig=5) == OperatorSettings(k_eig=5)
    assert resolve_settings(SETTINGS, anisotropic=dataclasses.asdict(SETTINGS.anisotropic)) is SETTINGS


def test_batch_packs_by_the_registry_rules(bumpy_ops):
    small = compute_operators(primitives.icosphere(0), settings=dataclasses.replace(SETTINGS, k_eig=4))
    batch = MeshBatch.from_operators([bumpy_ops, small], dtype=torch.float64)
    v0 = bumpy_ops.num_verts
    assert batch.evals.shape == (2, 6) and batch.eig_mask.sum().item() == 6 + small.num_eigs
    assert batch.faces.shape[0] == bumpy_ops.faces.shape[0] + small.faces.shape[0]
    assert int(batch.faces[bumpy_ops.faces.shape[0]:].min()) == v0
    assert batch.laplacian.shape == (v0 + small.num_verts,) * 2
    assert batch.patch_kernels.shape[1] == SETTINGS.anisotropic.num_kernels
