"""benchmarks/run_experiments.py: which published figures an experiment is compared with."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import load_module_file

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run_experiments.py"


def test_variants_take_the_published_figures_of_the_experiment_they_extend():
    runner = load_module_file(SCRIPT, "run_experiments_script")
    assert runner.published_for("human_seg") is runner.PUBLISHED["human_seg"]
    assert runner.published_for("human_seg_hks") is runner.PUBLISHED["human_seg"]
    assert runner.published_for("faust_r_supervised") is runner.PUBLISHED["faust_r"]  # the longest base wins
    assert runner.published_for("faust_100") is runner.PUBLISHED["faust"]
    assert runner.published_for("synthetic_acnn_closed") == {}
    assert runner.published_for("human_segmentation") == {}  # a base name must end at an underscore


def test_summarize_only_reports_every_scalar_metric_over_seeds(tmp_path, capsys):
    """A summary of finished runs: the headline metric and every other scalar one, mean +- std."""
    import json

    from geodesic_nets.tasks.experiment import ExperimentConfig

    runner = load_module_file(SCRIPT, "run_experiments_script")
    base = ExperimentConfig.from_toml(SCRIPT.parent / "experiments" / "human_seg_hks.toml")
    values = {0: (0.90, 0.93), 1: (0.92, 0.95)}
    for seed, (vertex, meshcnn) in values.items():
        run_dir = tmp_path / "runs" / "human_seg_hks" / f"seed_{seed}"
        base.replace(train=base.train.replace(seed=seed, epochs=7)).save(run_dir)
        ev = {"task": "segmentation", "vertex_accuracy": vertex, "edge_accuracy_meshcnn": meshcnn, "seconds": 1.5,
              "n_meshes": 18}
        (run_dir / "metrics.json").write_text(json.dumps({"evaluation": ev, "history": [{"epoch_seconds": 2.0}]}))
    assert runner.main(["human_seg_hks", "--seeds", "0", "1", "--summarize-only", "--runs", str(tmp_path / "runs"),
                        "--out", str(tmp_path / "out")]) == 0
    out = json.loads((tmp_path / "out" / "human_seg_hks.json").read_text())
    assert out["summary"]["mean"] == 91.0 and out["metric"] == "vertex_accuracy x100"
    assert set(out["metrics"]) == {"vertex_accuracy", "edge_accuracy_meshcnn"}  # not the timing, not the count
    assert out["metrics"]["edge_accuracy_meshcnn"]["mean"] == 0.94
    assert abs(out["metrics"]["edge_accuracy_meshcnn"]["std"] - 0.0141421356) < 1e-8
    assert [r["epochs"] for r in out["runs"]] == [7, 7]
    assert out["published"]["compare_with"] == "edge_accuracy_meshcnn"
    assert "edge_accuracy_meshcnn: 0.9400 +- 0.0141" in capsys.readouterr().out


def test_a_second_stage_starts_each_seed_from_the_same_seed_of_the_first():
    runner = load_module_file(SCRIPT, "run_experiments_script")
    assert runner.init_source("{runs}/faust_100_gem/seed_{seed}", 2, "/r") == "/r/faust_100_gem/seed_2"
    assert runner.init_source("faust_labeling", 2, "/r") == "faust_labeling"
    import pytest

    with pytest.raises(SystemExit, match="only {seed} and {runs}"):
        runner.init_source("{runs}/{name}/seed_{seed}", 0, "/r")


def test_every_second_stage_extends_an_experiment_with_the_same_network_and_data():
    """A stage with ``init_from`` names its first stage, whose dataset, model and operators it repeats."""
    import re

    from geodesic_nets.tasks.experiment import ExperimentConfig

    stages = 0
    for path in sorted((SCRIPT.parent / "experiments").glob("*.toml")):
        cfg = ExperimentConfig.from_toml(path)
        if cfg.train.init_from is None:
            continue
        stages += 1
        m = re.fullmatch(r"\{runs\}/(\w+)/seed_\{seed\}", cfg.train.init_from)
        assert m, f"{path.name}: init_from should read {{runs}}/FIRST_STAGE/seed_{{seed}}"
        first = ExperimentConfig.from_toml(path.parent / f"{m.group(1)}.toml")
        a, b = cfg.to_dict(), first.to_dict()
        assert {k: v for k, v in a.items() if k != "train"} == {k: v for k, v in b.items() if k != "train"}, path.name
    assert stages >= 1


def test_threads_must_be_positive(tmp_path):
    runner = load_module_file(SCRIPT, "run_experiments_script")
    with pytest.raises(SystemExit, match="--threads"):
        runner.main(["human_seg_hks", "--threads", "0", "--summarize-only", "--runs", str(tmp_path)])


def test_summarize_only_keeps_the_recorded_seeds_whose_runs_are_elsewhere(tmp_path):
    """Seed 0 was trained on another machine (only the summary JSON has it), seed 1 here."""
    import json

    from geodesic_nets.tasks.experiment import ExperimentConfig

    runner = load_module_file(SCRIPT, "run_experiments_script")
    base = ExperimentConfig.from_toml(SCRIPT.parent / "experiments" / "human_seg_hks.toml")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    seed0 = {"seed": 0, "run_dir": "/elsewhere/seed_0", "evaluation": {"task": "segmentation", "vertex_accuracy": 0.90},
             "wall_seconds": 10.0, "median_epoch_seconds": 1.0, "epochs": 7}
    (out_dir / "human_seg_hks.json").write_text(json.dumps({"runs": [seed0], "environment": {"git_commit": "abc"}}))
    run_dir = tmp_path / "runs" / "human_seg_hks" / "seed_1"
    base.replace(train=base.train.replace(seed=1, epochs=7)).save(run_dir)
    ev = {"task": "segmentation", "vertex_accuracy": 0.92}
    (run_dir / "metrics.json").write_text(json.dumps({"evaluation": ev, "history": [{"epoch_seconds": 2.0}]}))
    args = ["human_seg_hks", "--seeds", "0", "1", "--summarize-only", "--runs", str(tmp_path / "runs"),
            "--out", str(out_dir)]
    with pytest.raises(SystemExit, match="--keep-recorded"):
        runner.main(args)
    assert runner.main([*args, "--keep-recorded"]) == 0
    out = json.loads((out_dir / "human_seg_hks.json").read_text())
    assert out["summary"]["n"] == 2 and abs(out["summary"]["mean"] - 91.0) < 1e-9
    first, second = out["runs"]
    assert first["recorded_in"] == str(out_dir / "human_seg_hks.json")
    assert first["environment"] == {"git_commit": "abc"} and first["run_dir"] == "/elsewhere/seed_0"
    assert "recorded_in" not in second
    with pytest.raises(SystemExit, match="only goes with --summarize-only"):
        runner.main(["human_seg_hks", "--keep-recorded", "--runs", str(tmp_path / "runs")])
