"""The training loop: learning, run-directory records, determinism, exact resumption, config."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from geodesic_nets.errors import GeodesicNetsError
from geodesic_nets.tasks.checkpoint import CheckpointError, load_checkpoint
from geodesic_nets.tasks.config import TrainConfig, load_toml
from geodesic_nets.tasks.trainer import fit, preserved_rng, seed_everything

from training_toy import ToyClassification, make_model, make_samples


@pytest.fixture(scope="module")
def samples():
    return make_samples(4)


def _quiet(**kw) -> TrainConfig:
    base = dict(batch_size=2, lr=1e-2, progress=False, tensorboard=False, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _assert_same_params(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"parameter {k} differs"


def _csv_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_fit_learns_and_writes_the_run_dir(samples, tmp_path):
    model = make_model(dropout=0.0)
    record = {"dataset": "toy", "model": {"width": 8}}
    result = fit(
        model, ToyClassification(augment=False), samples, config=_quiet(epochs=20), run_dir=tmp_path,
        val_set=samples, record=record,
    )
    losses = [e["train"]["loss"] for e in result.history]
    assert len(losses) == 20
    assert losses[-1] < 0.8 * losses[0]
    assert result.best_metric == 1.0 and result.last_metrics["accuracy"] == 1.0
    assert result.best_epoch == min(e["epoch"] for e in result.history if e["val"]["accuracy"] == 1.0)

    rows = _csv_rows(tmp_path / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 21))
    assert {"epoch", "step", "lr", "train_loss", "train_accuracy", "val_accuracy", "val_loss", "epoch_seconds"} <= rows[0].keys()
    assert "val_per_class" not in rows[0]  # lists stay in metrics.json
    assert [float(r["train_loss"]) for r in rows] == pytest.approx(losses, rel=1e-12)
    assert int(rows[-1]["step"]) == 20 * 4

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["history"]) == 20
    assert metrics["best"] == {"metric": "accuracy", "value": 1.0, "epoch": result.best_epoch}
    assert metrics["last"]["val"]["per_class"] == [0.0, 1.0]
    assert metrics["config"]["record"] == record
    config = json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_dict(config["train"]) == _quiet(epochs=20) and config["record"] == record
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["torch"] == torch.__version__ and env["python"]

    last = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert last["epoch"] == 20 and last["global_step"] == 80
    _assert_same_params(model, _loaded(last))
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["epoch"] == result.best_epoch == best["best_epoch"]
    # best.pt holds the weights that scored the best metric
    task = ToyClassification(augment=False)
    score = task.evaluate(_loaded(best).eval(), samples, device=torch.device("cpu"), dtype=torch.float32)
    assert score["accuracy"] == result.best_metric
    assert score["loss"] == pytest.approx(result.history[result.best_epoch - 1]["val"]["loss"], rel=1e-6)


def _loaded(state) -> torch.nn.Module:
    m = make_model(dropout=0.0, seed=123)
    m.load_state_dict(state["model"])
    return m


def test_runs_are_reproducible_and_validation_does_not_change_training(samples, tmp_path):
    cfg = _quiet(epochs=3)
    a, b, c = make_model(), make_model(), make_model()
    fit(a, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "a", val_set=samples)
    fit(b, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "b", val_set=samples)
    fit(c, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "c")  # no validation
    _assert_same_params(a, b)
    _assert_same_params(a, c)
    assert not (tmp_path / "c" / "checkpoints" / "best.pt").exists()
    d = make_model()
    fit(d, ToyClassification(), samples, config=cfg.replace(seed=1), run_dir=tmp_path / "d")
    assert not torch.equal(a.first.weight, d.first.weight)


def test_resume_with_more_epochs_matches_an_uninterrupted_run(samples, tmp_path):
    # "step" decays per epoch independently of the total, so 2 + 2 epochs must equal 4.
    cfg = _quiet(epochs=4, schedule="step", step_epochs=1, warmup_epochs=1)
    full = make_model()
    ref = fit(full, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "full", val_set=samples)

    part = make_model()
    fit(part, ToyClassification(), samples, config=cfg.replace(epochs=2), run_dir=tmp_path / "part", val_set=samples)
    resumed = make_model(seed=99)  # different initial weights: all must come from the checkpoint
    out = fit(resumed, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "part", val_set=samples, resume=True)
    _assert_same_params(full, resumed)
    assert [e["train"] for e in out.history] == [e["train"] for e in ref.history]
    assert len(_csv_rows(tmp_path / "part" / "metrics.csv")) == 4


def test_killed_run_resumes_from_the_last_complete_epoch(samples, tmp_path):
    cfg = _quiet(epochs=4, warmup_epochs=1)  # cosine over the whole run
    full = make_model()
    fit(full, ToyClassification(), samples, config=cfg, run_dir=tmp_path / "full", val_set=samples)

    run = tmp_path / "killed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        # 4 steps per epoch: call 11 is the third step of epoch 3
        fit(make_model(), ToyClassification(crash_at_call=11), samples, config=cfg, run_dir=run, val_set=samples)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    assert len(_csv_rows(run / "metrics.csv")) == 2

    with pytest.raises(GeodesicNetsError, match="resume=True"):
        fit(make_model(), ToyClassification(), samples, config=cfg, run_dir=run, val_set=samples)

    resumed = make_model(seed=5)
    result = fit(resumed, ToyClassification(), samples, config=cfg, run_dir=run, val_set=samples, resume=True)
    _assert_same_params(full, resumed)
    assert [e["epoch"] for e in result.history] == [1, 2, 3, 4]
    assert [int(r["epoch"]) for r in _csv_rows(run / "metrics.csv")] == [1, 2, 3, 4]
    assert len(result.epoch_seconds) == 4


def test_resume_refuses_a_different_configuration(samples, tmp_path):
    cfg = _quiet(epochs=1)
    fit(make_model(), ToyClassification(), samples, config=cfg, run_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"lr: 0\.01 in the checkpoint, 0\.02 now") as info:
        fit(make_model(), ToyClassification(), samples, config=cfg.replace(lr=2e-2, epochs=3), run_dir=tmp_path, resume=True)
    assert "last.pt" in str(info.value)
    # progress, tensorboard and log_every cannot change the result: allowed
    fit(make_model(), ToyClassification(), samples, config=cfg.replace(epochs=2, progress=True, log_every=1),
        run_dir=tmp_path, resume=True)
    assert len(_csv_rows(tmp_path / "metrics.csv")) == 2


def test_resume_without_a_checkpoint_starts_a_new_run(samples, tmp_path):
    a, b = make_model(), make_model()
    fit(a, ToyClassification(), samples, config=_quiet(epochs=1), run_dir=tmp_path / "a", resume=True)
    fit(b, ToyClassification(), samples, config=_quiet(epochs=1), run_dir=tmp_path / "b")
    _assert_same_params(a, b)


def test_csv_header_grows_when_validation_starts(samples, tmp_path):
    fit(make_model(), ToyClassification(), samples, config=_quiet(epochs=3, eval_every=2), run_dir=tmp_path,
        val_set=samples)
    rows = _csv_rows(tmp_path / "metrics.csv")
    assert [r["val_accuracy"] != "" for r in rows] == [False, True, True]  # epoch 2 and the last one
    assert rows[0]["train_loss"] != ""


def test_float64_training_and_gradient_clipping(samples, tmp_path):
    model = make_model()
    fit(model, ToyClassification(), [s for s in samples[:2]], config=_quiet(epochs=1, dtype="float64", grad_clip=0.5),
        run_dir=tmp_path)
    assert all(p.dtype == torch.float64 for p in model.parameters())


class _NanTask(ToyClassification):
    def loss(self, model, sb):
        loss, stats = super().loss(model, sb)
        return loss * float("nan"), stats


def test_non_finite_loss_is_reported(samples, tmp_path):
    with pytest.raises(GeodesicNetsError, match="non-finite training loss"):
        fit(make_model(), _NanTask(), samples, config=_quiet(epochs=1), run_dir=tmp_path)


def test_preserved_rng_restores_every_generator():
    import random

    import numpy as np

    def draws():
        return torch.rand(3).tolist(), float(np.random.rand()), random.random()

    seed_everything(0)
    expected = draws()
    seed_everything(0)
    with preserved_rng():
        draws()
        draws()
    assert draws() == expected


# ---------------------------------------------------------------------- TrainConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0), ("batch_size", 0), ("lr", -1.0), ("lr", float("nan")), ("weight_decay", -0.1),
        ("schedule", "linear"), ("grad_clip", 0.0), ("seed", -1), ("eval_every", 0), ("device", "gpu"),
        ("device", "cuda:x"), ("dtype", "float16"), ("num_workers", -1), ("step_gamma", 1.5), ("epochs", 2.0),
        ("progress", "yes"),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_config_dict_round_trip_and_unknown_keys():
    cfg = TrainConfig(epochs=3, schedule="step", grad_clip=1.0, device="cuda:1", dtype="float64")
    d = json.loads(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    assert cfg.torch_dtype == torch.float64


def test_learning_rate_schedules():
    spe = 10
    cos = TrainConfig(epochs=5, lr=1.0, warmup_epochs=1)
    assert [cos.learning_rate(s, spe) for s in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert cos.learning_rate(9, spe) == pytest.approx(1.0)
    assert cos.learning_rate(10, spe) == pytest.approx(1.0)  # cosine starts at its peak
    assert cos.learning_rate(30, spe) == pytest.approx(0.5)  # halfway through the 40 cosine steps
    assert cos.learning_rate(50, spe) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(epochs=9, lr=1.0, schedule="step", step_epochs=3, step_gamma=0.5)
    assert [step.learning_rate(e * spe, spe) for e in (0, 2, 3, 6, 8)] == [1.0, 1.0, 0.5, 0.25, 0.25]
    assert TrainConfig(lr=0.3, schedule="constant").learning_rate(123, spe) == 0.3
    assert all(math.isfinite(cos.learning_rate(s, 1)) for s in range(5))


def test_load_toml(tmp_path):
    good = tmp_path / "run.toml"
    good.write_text('[train]\nepochs = 3\nlr = 0.01\nschedule = "step"\n')
    cfg = TrainConfig.from_dict(load_toml(good)["train"])
    assert cfg.epochs == 3 and cfg.schedule == "step"
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3\n")
    with pytest.raises(GeodesicNetsError, match="bad.toml"):
        load_toml(bad)
    with pytest.raises(GeodesicNetsError, match="missing.toml"):
        load_toml(tmp_path / "missing.toml")


def test_sigkilled_process_resumes_to_bit_identical_weights(samples, tmp_path):
    """A real SIGKILL in the middle of epoch 3 of a training process: the checkpoint on disk is the
    complete epoch 2, and resuming gives exactly the weights of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from kill_config import KILL_CONFIG

    full = make_model()
    fit(full, ToyClassification(), make_samples(4), config=KILL_CONFIG, run_dir=tmp_path / "full",
        val_set=make_samples(4))
    run, marker = tmp_path / "killed", tmp_path / "marker"
    here = Path(__file__).resolve().parent
    proc = subprocess.Popen([sys.executable, str(here / "kill_worker.py"), str(run), str(marker), "11"],
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():  # 4 steps per epoch: call 11 is the third step of epoch 3
            assert proc.poll() is None, "the worker ended before reaching the kill point"
            assert time.monotonic() < deadline, "the worker did not reach the kill point"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]  # nothing half-written
    resumed = make_model(seed=5)
    fit(resumed, ToyClassification(), make_samples(4), config=KILL_CONFIG, run_dir=run, val_set=make_samples(4),
        resume=True)
    _assert_same_params(full, resumed)
