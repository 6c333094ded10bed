"""benchmarks/run_experiments.py: which published figures an experiment is compared with."""

from __future__ import annotations

from pathlib import Path

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
