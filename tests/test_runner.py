"""train / evaluate / predict from the command line, on the synthetic datasets, end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from geodesic_nets.cli import main
from geodesic_nets.io import save
from geodesic_nets.primitives import bumpy_sphere, torus
from geodesic_nets.tasks.experiment import ExperimentConfig
from geodesic_nets.surface import Surface
from geodesic_nets.tasks.runner import load_datasets, load_run

COMMON = ["--k-eig", "24", "--width", "8", "--depth", "1", "--no-progress", "--seed", "3"]


def _train(out: Path, *extra: str) -> dict:
    assert main(["train", *COMMON, "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cls"
    metrics = _train(out, "--task", "classification", "--dataset", "synthetic_shapes", "--epochs", "3",
                     "--batch-size", "4", "--dataset-option", "n_per_class=6", "--features", "hks")
    return out, metrics


def test_train_writes_the_run_directory(classifier):
    out, metrics = classifier
    for name in ("experiment.json", "config.json", "environment.json", "metrics.csv", "checkpoints/last.pt"):
        assert (out / name).is_file(), name
    assert len(metrics["history"]) == 3
    ev = metrics["evaluation"]
    assert ev["task"] == "classification" and ev["checkpoint"] == "last"
    assert 0.0 <= ev["accuracy"] <= 1.0
    assert np.sum(ev["confusion_matrix"]) == ev["n"]
    cfg = ExperimentConfig.load(out)
    assert cfg.train.epochs == 3 and cfg.model.width == 8 and cfg.dataset_options == {"n_per_class": 6}


def test_evaluate_reproduces_the_final_evaluation(classifier, capsys):
    out, metrics = classifier
    assert main(["evaluate", str(out)]) == 0
    again = json.loads((out / "metrics.json").read_text())["evaluation"]
    assert again["accuracy"] == metrics["evaluation"]["accuracy"]
    assert again["confusion_matrix"] == metrics["evaluation"]["confusion_matrix"]


def test_predict_classifies_files_like_the_model(classifier, tmp_path):
    out, _ = classifier
    files = [tmp_path / "blob.obj", tmp_path / "ring.obj"]
    save(bumpy_sphere(2, seed=7), files[0])
    save(torus(24, 12), files[1])
    assert main(["predict", str(out), *map(str, files), "--out", str(tmp_path / "pred")]) == 0
    pred = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    run = load_run(out)
    for f, s in zip(files, run.samples(files)):
        probs = torch.softmax(run.outputs(s)[0], 0)
        assert pred[str(f)]["index"] == int(probs.argmax())
        assert pred[str(f)]["probabilities"] == pytest.approx(probs.tolist())


def test_resume_refuses_another_experiment_and_continues_the_same(classifier, capsys):
    out, _ = classifier
    assert main(["train", *COMMON, "--out", str(out), "--resume", "--task", "classification",
                 "--dataset", "synthetic_shapes", "--epochs", "4", "--width", "16"]) == 1
    assert "another experiment configuration" in capsys.readouterr().err
    # same experiment, more epochs: continues from epoch 3
    metrics = _train(out, "--resume", "--task", "classification", "--dataset", "synthetic_shapes", "--epochs", "4",
                     "--batch-size", "4", "--dataset-option", "n_per_class=6", "--features", "hks")
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4]
    # the training time counts the epochs of both calls, not only the resumed one
    epochs_total = sum(h["epoch_seconds"] for h in metrics["history"])
    assert metrics["evaluation"]["train_seconds"] == pytest.approx(epochs_total)
    assert metrics["evaluation"]["train_seconds"] > metrics["history"][-1]["epoch_seconds"]


def test_segmentation_and_correspondence_runs_predict_files(tmp_path):
    seg = tmp_path / "seg"
    m = _train(seg, "--task", "segmentation", "--dataset", "synthetic_segmentation", "--epochs", "1",
               "--dataset-option", "n_shapes=6")
    assert 0.0 <= m["evaluation"]["vertex_accuracy"] <= 1.0 and "face_accuracy" in m["evaluation"]
    f = tmp_path / "t.obj"
    s = torus(20, 10)
    save(s, f)
    main(["predict", str(seg), str(f)])
    labels = np.loadtxt(seg / "predictions" / "t.vertex_labels.txt", dtype=int)
    assert labels.shape == (s.num_verts,) and labels.min() >= 0

    corr = tmp_path / "fmap"
    m = _train(corr, "--task", "functional_maps", "--dataset", "synthetic_correspondence", "--epochs", "1",
               "--batch-size", "2", "--features", "wks", "--dataset-option", "n_shapes=6", "--k-eig", "40")
    assert m["evaluation"]["n_pairs"] >= 2 and np.isfinite(m["evaluation"]["mean_geodesic_error"])
    # re-evaluation with ZoomOut: stored beside the run's own evaluation, which stays as it was
    assert main(["evaluate", str(corr), "--task-option", "zoomout_to=40", "--task-option", "zoomout_step=5"]) == 0
    after = json.loads((corr / "metrics.json").read_text())
    assert after["evaluation"] == m["evaluation"]
    zoom = after["evaluation_zoomout_step=5_zoomout_to=40"]
    assert zoom["task_options"]["zoomout_to"] == 40 and zoom["n_pairs"] == m["evaluation"]["n_pairs"]
    a, b = tmp_path / "a.obj", tmp_path / "b.obj"
    save(bumpy_sphere(2, seed=1), a)
    save(bumpy_sphere(2, seed=2), b)
    main(["predict", str(corr), str(a), str(b)])
    p2p = np.loadtxt(corr / "predictions" / "b__to__a.map.txt", dtype=int)
    assert p2p.shape == (bumpy_sphere(2, seed=2).num_verts,)
    assert 0 <= p2p.min() and p2p.max() < bumpy_sphere(2, seed=1).num_verts


def test_bad_config_and_missing_run_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('task = "classification"\n[model]\nname = "pointnet"\n')
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "model must be one of" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 1
    assert "not a run directory" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_trains_from_the_command_line(tmp_path):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "geodesic_nets", "train", *COMMON, "--out", str(out), "--task", "classification",
           "--dataset", "synthetic_shapes", "--epochs", "2", "--batch-size", "2", "--device", "cpu",
           "--dataset-option", "n_per_class=4"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and "evaluation" in metrics
    assert json.loads((out / "config.json").read_text())["world_size"] == 2


def test_vertex_labelling_run_decodes_one_to_one(tmp_path, capsys):
    """``decode=one_to_one`` on a run of shapes sharing the template's vertices: every vertex gets its
    own template vertex, so the point map between two shapes is a bijection; predict and evaluate
    take the option from the command line."""
    from geodesic_nets.tasks.one_to_one import one_to_one_labels

    run_dir = tmp_path / "vl"
    _train(run_dir, "--task", "vertex_labeling", "--dataset", "synthetic_correspondence", "--epochs", "1",
           "--features", "hks", "--dataset-option", "n_shapes=4", "--dataset-option", "remesh=false")
    run = load_run(run_dir)
    shapes = load_datasets(run.experiment, ["train"], progress=False)["train"]
    a, b = shapes[0], shapes[1]
    one = run.with_task_options(decode="one_to_one")
    assert run.experiment.task_options.get("decode", "argmax") == "argmax"  # the loaded run is left as it was
    la, lb = one.template_labels(a), one.template_labels(b)
    V = a.num_verts
    assert torch.equal(torch.sort(la).values, torch.arange(V)) and torch.equal(torch.sort(lb).values, torch.arange(V))
    assert torch.equal(la, one_to_one_labels(torch.log_softmax(run.outputs(a), dim=1)))
    assert torch.equal(run.template_labels(a), run.outputs(a).argmax(1))
    p2p = one.point_map(a, b)
    inverse = torch.empty_like(la)
    inverse[la] = torch.arange(V)
    assert torch.equal(p2p, inverse[lb]) and len(torch.unique(p2p)) == V
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--task-option", "decode=one_to_one", "--no-progress"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["decode"] == "one_to_one" and 0.0 <= ev["argmax_accuracy"] <= 1.0
    fa, fb = tmp_path / "a.ply", tmp_path / "b.ply"
    save(Surface(a.operators.verts.double().numpy(), a.operators.faces.numpy()), fa)
    save(Surface(b.operators.verts.double().numpy(), b.operators.faces.numpy()), fb)
    assert main(["predict", str(run_dir), str(fa), str(fb), "--task-option", "decode=one_to_one", "--no-progress"]) == 0
    written = np.loadtxt(run_dir / "predictions" / "b__to__a.map.txt", dtype=np.int64)
    assert sorted(written.tolist()) == list(range(V))
