"""The training examples (examples/train_classifier.py, train_correspondence.py, learned_features.py)
run end to end with tiny settings and leave consistent run directories, maps and pictures."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import load_module_file
from geodesic_nets import load, save
from geodesic_nets.data import SYNTHETIC_CLASSES
from geodesic_nets.primitives import bumpy_sphere
from geodesic_nets.tasks import load_run
from geodesic_nets.tasks.runner import load_datasets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _module(name: str):
    return load_module_file(EXAMPLES / f"{name}.py", f"example_{name}")


def _run_main(module, args: list[str]) -> str:
    """``module.main(args)`` must succeed; returns what it printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert module.main(args) == 0
    return buf.getvalue()


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _assert_picture(path: Path, size: tuple[int, int]) -> np.ndarray:
    img = _png(path)
    assert img.shape == (size[1], size[0], 3), path.name
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 30, f"{path.name} has almost no colours"
    assert np.any(img < 250, axis=2).mean() > 0.05, f"{path.name} is nearly blank"
    return img


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier")
    args = ["--out", str(out), "--epochs", "2", "--n-per-class", "4", "--width", "8"]
    module = _module("train_classifier")
    return module, out, args, _run_main(module, args)


def test_classifier_run_directory_and_report(classifier):
    module, out, args, text = classifier
    run_dir = out / "run"
    for name in ("experiment.json", "config.json", "environment.json", "metrics.csv", "checkpoints/last.pt"):
        assert (run_dir / name).is_file(), name
    m = _metrics(run_dir)
    ev = m["evaluation"]
    assert len(m["history"]) == 2 and ev["task"] == "classification"
    conf = np.array(ev["confusion_matrix"])
    assert conf.shape == (5, 5) and conf.sum() == ev["n"] == 5  # one test instance per class of 4
    assert ev["accuracy"] == pytest.approx(np.trace(conf) / conf.sum())
    assert f"test accuracy {ev['accuracy']:.1%} on 5 shapes after 2 epochs" in text
    # the printed confusion matrix is the one in metrics.json
    rows = [[int(v) for v in line.split()[1:]] for line in text.splitlines()
            if line.split() and line.split()[0] in SYNTHETIC_CLASSES and len(line.split()) == 6]
    assert rows == conf.tolist()


def test_classifier_classifies_its_files_like_the_loaded_model(classifier):
    module, out, args, text = classifier
    files = sorted((out / "shapes").glob("*.obj"))
    assert [f.name for f in files] == ["sphere.obj", "torus.obj"]
    run = load_run(out / "run")
    expected = {}
    for f, s in zip(files, run.samples(files)):
        assert s.num_verts == load(f).num_verts
        expected[f.name] = run.class_names[int(run.outputs(s)[0].argmax())]
    assert dict(re.findall(r"(\w+\.obj)\s+-> (\w+)", text)) == expected
    assert module.classify(out / "run", files) == expected


def test_classifier_resume_continues_and_a_second_start_is_refused(classifier, tmp_path, capsys):
    module, trained, args, _ = classifier
    out = tmp_path / "copy"
    shutil.copytree(trained, out)
    args = [a if a != str(trained) else str(out) for a in args]
    assert module.main(args) == 2  # the run directory holds a run: refused without --resume
    assert "already holds a run" in capsys.readouterr().err
    more = [a if a != "2" else "3" for a in args]  # --epochs 3
    assert module.main(more + ["--resume"]) == 0
    m = _metrics(out / "run")
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3]


@pytest.fixture(scope="module")
def correspondence(tmp_path_factory):
    out = tmp_path_factory.mktemp("correspondence")
    module = _module("train_correspondence")
    return out, _run_main(module, ["--out", str(out), "--epochs", "1", "--n-shapes", "8", "--width", "8"])


def test_correspondence_metrics_and_point_map(correspondence):
    out, _ = correspondence
    ev = _metrics(out / "run")["evaluation"]
    assert ev["task"] == "functional_maps" and ev["n_pairs"] == 2  # 2 test shapes, both directions
    assert 0.0 < ev["mean_geodesic_error"] < 1.0
    assert ev["mean_geodesic_error_x100"] == pytest.approx(100 * ev["mean_geodesic_error"])
    frac = ev["error_curve"]["fraction"]
    assert frac == sorted(frac) and 0.0 <= frac[0] <= frac[-1] <= 1.0
    # the written map is the loaded model's map for the first two test shapes, target -> source
    run = load_run(out / "run")
    test = load_datasets(run.experiment, ["test"], progress=False)["test"]
    (path,) = out.glob("*.map.txt")
    assert path.name == f"{test[1].name}__to__{test[0].name}.map.txt"
    p2p = np.loadtxt(path, dtype=np.int64)
    assert p2p.shape == (test[1].num_verts,)
    assert 0 <= p2p.min() and p2p.max() < test[0].num_verts
    assert np.array_equal(p2p, run.point_map(test[0], test[1]).numpy())


def test_correspondence_report_matches_the_metrics(correspondence):
    out, text = correspondence
    ev = _metrics(out / "run")["evaluation"]
    lines = {line.split("mean geodesic error")[0].strip(): line
             for line in text.splitlines() if "mean geodesic error x100" in line}
    assert set(lines) == {"learned features", "raw WKS descriptors", "learned + ZoomOut to 48"}
    assert f"x100 {ev['mean_geodesic_error_x100']:6.2f} (std over pairs {ev['pair_error_std_x100']:.2f})" in lines[
        "learned features"]
    within = ev["error_curve"]["fraction"][ev["error_curve"]["radii"].index(0.05)]
    assert f"{within:.0%} within 0.05" in lines["learned features"]
    for line in lines.values():
        assert 0.0 < float(re.search(r"x100\s+([\d.]+)", line).group(1)) < 100.0


def test_learned_features_trains_and_draws_three_pictures(tmp_path, capsys):
    pytest.importorskip("pyvista")
    module = _module("learned_features")
    assert module.main(["--out", str(tmp_path), "--epochs", "1", "--size", "300", "150"]) == 0
    text = capsys.readouterr().out
    _assert_picture(tmp_path / "features.png", (150, 150))
    corr = _assert_picture(tmp_path / "correspondence.png", (300, 150))
    _assert_picture(tmp_path / "error_map.png", (150, 150))
    # both halves of the correspondence picture show a coloured shape
    for half in (corr[:, :150], corr[:, 150:]):
        assert np.any(half < 250, axis=2).mean() > 0.05
    mean_error = float(re.search(r"mean error x100 ([\d.]+)", text).group(1))
    assert 0.0 < mean_error < 100.0
    assert _metrics(tmp_path / "run")["evaluation"]["task"] == "functional_maps"


def test_learned_features_true_map_on_identical_shapes_is_exact():
    module = _module("learned_features")
    from geodesic_nets.data import ShapeSample

    base = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(1))
    a = ShapeSample("a", operators=None, extra={"base_points": base})
    b = ShapeSample("b", operators=None, extra={"base_points": base[perm]})
    assert np.array_equal(module.true_map(a, b), perm.numpy())  # target vertex i sits on source vertex perm[i]
    assert module.true_map(a, ShapeSample("c", operators=None)) is None


def test_learned_features_of_loaded_runs(correspondence, classifier, tmp_path, capsys):
    pytest.importorskip("pyvista")
    module = _module("learned_features")
    a, b = tmp_path / "a.obj", tmp_path / "b.obj"
    save(bumpy_sphere(2, seed=1), a)
    save(bumpy_sphere(2, seed=2), b)
    out = tmp_path / "files"
    assert module.main(["--out", str(out), "--run", str(correspondence[0] / "run"), "--files", str(a), str(b),
                        "--size", "240", "120"]) == 0
    _assert_picture(out / "features.png", (120, 120))
    _assert_picture(out / "correspondence.png", (240, 120))
    assert not (out / "error_map.png").exists()  # no ground truth for files
    assert not (out / "run").exists()  # nothing trained

    cls_out = classifier[1]
    capsys.readouterr()
    out = tmp_path / "cls"
    assert module.main(["--out", str(out), "--run", str(cls_out / "run"), "--size", "240", "120"]) == 0
    assert "predicts no correspondence" in capsys.readouterr().out
    _assert_picture(out / "features.png", (120, 120))
    assert not (out / "correspondence.png").exists()


@pytest.mark.parametrize("name, bench", [("train_classifier", "shrec11"), ("train_correspondence", "faust_r")])
def test_root_selects_the_benchmark_configuration(name, bench, tmp_path):
    from geodesic_nets.tasks import ExperimentConfig

    module = _module(name)
    reference = ExperimentConfig.from_toml(EXAMPLES.parent / "benchmarks" / "experiments" / f"{bench}.toml")
    root = tmp_path / bench
    cfg = module.experiment(module.parse_args(["--root", str(root), "--seed", "3", "--out", str(tmp_path)]))
    assert (cfg.dataset, cfg.root, cfg.task) == (bench, str(root), reference.task)
    assert cfg.model == reference.model and cfg.operators == reference.operators
    assert cfg.task_options == reference.task_options
    assert cfg.train.replace(progress=True) == reference.train.replace(seed=3)  # its epochs unless --epochs
    assert cfg.cache_dir == str(tmp_path / "operator_cache")
    if bench == "shrec11":  # the seed also draws the split
        assert cfg.dataset_options == {**reference.dataset_options, "seed": 3}
    short = module.experiment(module.parse_args(["--root", str(root), "--epochs", "2", "--out", str(tmp_path)]))
    assert short.train.epochs == 2
    synthetic = module.experiment(module.parse_args(["--out", str(tmp_path)]))
    assert synthetic.dataset.startswith("synthetic_") and synthetic.root is None
