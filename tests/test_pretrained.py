"""Correspondence datasets in the FAUST_r layout, pretrained files (export, load, integrity,
incompatibility), and the command line around them: evaluate / predict --pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geodesic_nets.cli import main
from geodesic_nets.data import CorrespondenceFolder, load_dataset
from geodesic_nets.errors import GeodesicNetsError, MeshFormatError
from geodesic_nets.io import save
from geodesic_nets.primitives import bumpy_sphere
from geodesic_nets.settings import OperatorSettings
from geodesic_nets.surface import Surface
from geodesic_nets.tasks.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from geodesic_nets.tasks.pretrained import available_pretrained, export_pretrained, load_pretrained
from geodesic_nets.tasks.runner import dataset_for_root, evaluate_model

S = OperatorSettings(k_eig=40)


def _write_vts(path: Path, idx: np.ndarray) -> None:
    path.write_text("\n".join(str(int(i) + 1) for i in idx) + "\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Three shapes in the FAUST_r layout: a bumpy sphere and two vertex-permuted, rotated copies."""
    root = tmp_path_factory.mktemp("corr_folder")
    (root / "shapes").mkdir()
    (root / "corres").mkdir()
    base = bumpy_sphere(2, seed=5)
    ref = np.arange(0, base.num_verts, 2)
    rng = np.random.default_rng(0)
    for i, name in enumerate(["shape_a", "shape_b", "shape_c"]):
        perm = np.arange(base.num_verts) if i == 0 else rng.permutation(base.num_verts)
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        s = Surface(base.verts[perm] @ q.T * (1.0 + i), inv[base.faces])
        save(s, root / "shapes" / f"{name}.{['off', 'ply', 'obj'][i]}")
        _write_vts(root / "corres" / f"{name}.vts", inv[ref])  # vertex of this shape at reference point r
    (root / "test_pairs.txt").write_text("shape_a\tshape_b\nshape_b shape_c\n")
    return root


def test_folder_layout_loads_with_its_pairs(folder):
    ds = load_dataset("correspondence_folder", root=folder, split="test", settings=S, progress=False)
    assert isinstance(ds, CorrespondenceFolder)
    assert [s.name for s in ds] == ["shape_a", "shape_b", "shape_c"]
    assert ds.test_pairs() == [(0, 1), (1, 2)]
    assert ds.test_pairs(ordered=True) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert all(len(s.corr) == len(ds[0].corr) for s in ds)
    sub = ds.subset([2, 1])
    assert sub.test_pairs() == [(1, 0)]  # by name, in the subset's numbering
    only = CorrespondenceFolder(folder, shapes=["shape_c", "shape_a"], settings=S, progress=False)
    assert [s.name for s in only] == ["shape_c", "shape_a"] and only.test_pairs() == []


def test_folder_layout_errors_name_the_file(folder, tmp_path):
    bad = tmp_path / "bad"
    (bad / "shapes").mkdir(parents=True)
    (bad / "corres").mkdir()
    save(bumpy_sphere(1), bad / "shapes" / "x.off")
    with pytest.raises(GeodesicNetsError, match="x.vts"):
        CorrespondenceFolder(bad, settings=S, progress=False)
    (bad / "corres" / "x.vts").write_text("1\n2\nnine\n")
    with pytest.raises(MeshFormatError, match="x.vts"):
        CorrespondenceFolder(bad, settings=S, progress=False)
    (bad / "corres" / "x.vts").write_text("1\n2\n3\n")
    (bad / "test_pairs.txt").write_text("x y\n")
    with pytest.raises(MeshFormatError, match="'y'"):
        CorrespondenceFolder(bad, settings=S, progress=False)
    with pytest.raises(GeodesicNetsError, match="expected layout"):
        CorrespondenceFolder(tmp_path / "bad" / "shapes", settings=S, progress=False)


def test_a_faust_r_model_reads_another_root_as_a_folder(folder, tmp_path):
    assert dataset_for_root("faust_r", folder) == "correspondence_folder"
    fake = tmp_path / "faust_r"
    (fake / "shapes").mkdir(parents=True)
    (fake / "corres").mkdir()
    (fake / "shapes" / "tr_reg_080.off").write_text("")
    assert dataset_for_root("faust_r", tmp_path) == "faust_r"
    assert dataset_for_root("shrec11", folder) == "shrec11"


# ---------------------------------------------------------------------------- pretrained files
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny functional-map run on the synthetic correspondence set, exported as a pretrained file."""
    runs = tmp_path_factory.mktemp("pretrained")
    run = runs / "run"
    assert main(["train", "--task", "functional_maps", "--dataset", "synthetic_correspondence", "--epochs", "1",
                 "--batch-size", "2", "--features", "wks", "--dataset-option", "n_shapes=6", "--k-eig", "40",
                 "--width", "8", "--depth", "1", "--no-progress", "--seed", "0", "--out", str(run)]) == 0
    path = export_pretrained(run, runs / "tiny.pt", description="test model", record={"seed": 0})
    return run, path


def test_export_and_load_give_the_same_maps(trained, folder):
    from geodesic_nets.tasks.runner import load_run

    run_dir, path = trained
    original, pre = load_run(run_dir), load_pretrained(path)
    assert pre.task_name == "functional_maps" and pre.experiment.root is None and pre.experiment.cache_dir is None
    for k, v in original.model.state_dict().items():
        torch.testing.assert_close(pre.model.state_dict()[k], v)
    a, b = pre.samples([folder / "shapes" / "shape_a.off", folder / "shapes" / "shape_b.ply"])
    np.testing.assert_array_equal(pre.point_map(a, b).numpy(), original.point_map(a, b).numpy())
    ev = evaluate_model(pre, dataset="correspondence_folder", root=str(folder))
    assert ev["n_pairs"] == 4 and np.isfinite(ev["mean_geodesic_error"])


def test_half_precision_export_rounds_the_weights_and_halves_their_bytes(trained, tmp_path):
    import shutil

    run_dir, path = trained
    half = export_pretrained(run_dir, tmp_path / "half.pt", description="half", weight_dtype="float16")
    full_state, half_state = load_checkpoint(path)["model"], load_checkpoint(half)["model"]
    float_keys = [k for k, v in full_state.items() if v.is_floating_point()]
    assert float_keys and all(half_state[k].dtype == torch.float16 for k in float_keys)
    def stored_bytes(state):
        return sum(state[k].numel() * state[k].element_size() for k in float_keys)

    assert 2 * stored_bytes(half_state) == stored_bytes(full_state) and half.stat().st_size < path.stat().st_size
    pre = load_pretrained(half)  # digest checked on the float16 bytes, then cast into the model
    for k, v in pre.model.state_dict().items():
        if k in float_keys:
            assert v.dtype == full_state[k].dtype
            torch.testing.assert_close(v, full_state[k].half().to(v.dtype), rtol=0, atol=0)
    # a weight float16 cannot hold is refused, not stored as infinity
    broken = tmp_path / "broken_run"
    shutil.copytree(run_dir, broken)
    ckpt = load_checkpoint(broken / "checkpoints" / "last.pt")
    ckpt["model"][float_keys[0]] = ckpt["model"][float_keys[0]] + 1e6
    save_checkpoint(broken / "checkpoints" / "last.pt", ckpt)
    with pytest.raises(GeodesicNetsError, match="not finite in float16"):
        export_pretrained(broken, tmp_path / "broken.pt", weight_dtype="float16")
    with pytest.raises(GeodesicNetsError, match="weight_dtype"):
        export_pretrained(run_dir, tmp_path / "x.pt", weight_dtype="int8")


def test_casting_keeps_a_tied_weight_one_tensor(tmp_path):
    from geodesic_nets.tasks.pretrained import cast_weights

    w, other = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    state = {"body.head.weight": w, "_head.weight": w, "other": other, "first_rows": w[:2], "count": torch.tensor(4)}
    for dtype in (torch.float16, torch.float32):
        out = cast_weights(state, dtype)
        assert out["body.head.weight"] is out["_head.weight"] and out["other"] is not out["_head.weight"]
        assert out["first_rows"].shape == (2, 3) and out["count"].dtype == torch.int64
        torch.testing.assert_close(out["_head.weight"], w.to(dtype))
    save_checkpoint(tmp_path / "tied.pt", {"model": cast_weights(state, torch.float16)})
    save_checkpoint(tmp_path / "untied.pt", {"model": {k: v.to(torch.float16) if v.is_floating_point() else v
                                                       for k, v in state.items()}})
    loaded = load_checkpoint(tmp_path / "tied.pt")["model"]
    assert loaded["_head.weight"].data_ptr() == loaded["body.head.weight"].data_ptr()
    assert (tmp_path / "tied.pt").stat().st_size < (tmp_path / "untied.pt").stat().st_size


def test_intrinsic_inputs_ignore_rotation_and_scale(trained, folder, tmp_path):
    """The FAUST_r models' inputs (WKS of the unit-area shape) do not see a rigid motion or a scale."""
    from geodesic_nets.io import load

    _, path = trained
    pre = load_pretrained(path)
    s = load(folder / "shapes" / "shape_a.off")
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    save(Surface(s.verts @ q.T * 7.5 + 3.0, s.faces), tmp_path / "moved.off")
    a, moved, b = pre.samples([folder / "shapes" / "shape_a.off", tmp_path / "moved.off",
                               folder / "shapes" / "shape_b.ply"])
    fa, fm = pre.vertex_features(a), pre.vertex_features(moved)
    assert float((fa - fm).abs().max()) < 1e-4 * float(fa.abs().max())
    np.testing.assert_array_equal(pre.point_map(a, b).numpy(), pre.point_map(moved, b).numpy())


def test_damaged_or_incompatible_files_are_refused(trained, tmp_path):
    _, path = trained
    state = load_checkpoint(path)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    edited = {**state, "model": {**state["model"], key: state["model"][key] + 1e-3}}
    save_checkpoint(tmp_path / "edited.pt", edited)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_pretrained(tmp_path / "edited.pt")
    # weights of another architecture, re-signed: they do not fit the model the spec builds
    from geodesic_nets.tasks.pretrained import weights_digest

    weights = {k: v for k, v in state["model"].items() if k != key}
    save_checkpoint(tmp_path / "other.pt", {**state, "model": weights, "weights_sha256": weights_digest(weights)})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_pretrained(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "future.pt", {**state, "pretrained_version": 99})
    with pytest.raises(CheckpointError, match="version 99"):
        load_pretrained(tmp_path / "future.pt")
    spec = {**state["model_spec"], "name": "pointnet"}
    save_checkpoint(tmp_path / "spec.pt", {**state, "model_spec": spec})
    with pytest.raises(CheckpointError, match="not understood"):
        load_pretrained(tmp_path / "spec.pt")
    (tmp_path / "truncated.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        load_pretrained(tmp_path / "truncated.pt")
    with pytest.raises(GeodesicNetsError, match="no pretrained model named"):
        load_pretrained("no_such_model")


def test_cli_evaluate_and_predict_with_a_pretrained_file(trained, folder, tmp_path, capsys):
    _, path = trained
    assert main(["evaluate", "--pretrained", str(path), "--root", str(folder), "--dataset", "correspondence_folder",
                 "--no-progress", "--out", str(tmp_path / "m.json")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    assert metrics["n_pairs"] == 4 and "mean_geodesic_error_x100" in metrics
    assert json.loads((tmp_path / "m.json").read_text())["mean_geodesic_error"] == metrics["mean_geodesic_error"]
    src, tgt = folder / "shapes" / "shape_a.off", folder / "shapes" / "shape_c.obj"
    assert main(["predict", "--pretrained", str(path), str(src), str(tgt), "--out", str(tmp_path / "pred"),
                 "--no-progress"]) == 0
    p2p = np.loadtxt(tmp_path / "pred" / "shape_c__to__shape_a.map.txt", dtype=int)
    assert p2p.shape == (bumpy_sphere(2, seed=5).num_verts,)
    assert main(["evaluate", "--pretrained", str(path)]) == 2  # no --root
    assert main(["predict", "--pretrained", str(path), str(src), str(tgt)]) == 2  # no --out


SHIPPED_CORRESPONDENCE = [n for n in available_pretrained()
                          if load_pretrained(n).task_name not in ("classification", "segmentation")]


@pytest.mark.parametrize("name", SHIPPED_CORRESPONDENCE)
def test_shipped_models_load_and_map_a_small_pair(name, folder):
    run = load_pretrained(name)
    a, b = run.samples([folder / "shapes" / "shape_a.off", folder / "shapes" / "shape_b.ply"])
    p2p = run.point_map(a, b)
    assert p2p.shape == (b.operators.num_verts,) and int(p2p.min()) >= 0
    assert int(p2p.max()) < a.operators.num_verts


def test_shipped_shrec11_classifier_labels_a_shape(folder):
    run = load_pretrained("shrec11")
    assert run.task_name == "classification" and len(run.class_names) == 30
    (sample,) = run.samples([folder / "shapes" / "shape_a.off"])
    logits = run.outputs(sample)
    assert logits.shape == (1, 30) and torch.isfinite(logits).all()


@pytest.mark.shared_data
def test_shipped_shrec11_classifier_on_its_test_split(capsys):
    from conftest import shared_data_path

    root = shared_data_path("shrec11")
    assert main(["evaluate", "--pretrained", "shrec11", "--root", str(root), "--no-progress"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 300 and metrics["accuracy"] >= 0.99  # 1.0 when exported (split seed 0)


def test_shipped_human_segmenter_labels_every_vertex(folder):
    run = load_pretrained("human_seg")
    assert run.task_name == "segmentation"
    (sample,) = run.samples([folder / "shapes" / "shape_a.off"])
    logits = run.outputs(sample)
    assert logits.shape == (sample.operators.num_verts, 8) and torch.isfinite(logits).all()


@pytest.mark.shared_data
def test_shipped_human_segmenter_on_its_test_split(capsys):
    from conftest import shared_data_path

    root = shared_data_path("human_seg")
    assert main(["evaluate", "--pretrained", "human_seg", "--root", str(root), "--no-progress"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n_meshes"] == 18 and metrics["vertex_accuracy"] >= 0.90  # 0.9053 when exported (seed 0)


@pytest.mark.shared_data
def test_shipped_faust_labeller_on_its_test_split(capsys):
    from conftest import shared_data_path

    root = shared_data_path("faust")
    assert main(["evaluate", "--pretrained", "faust_labeling", "--root", str(root), "--no-progress"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n_meshes"] == 20 and metrics["n_vertices"] == 20 * 6890
    assert metrics["accuracy"] >= 0.99  # 0.9937 when exported (seed 0, float16 weights)
