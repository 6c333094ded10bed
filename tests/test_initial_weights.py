"""Fine-tuning: a training that starts from trained weights (``TrainConfig.init_from``)."""

from __future__ import annotations

import json

import pytest
import torch

from geodesic_nets.cli import main
from geodesic_nets.errors import ArgumentError, GeodesicNetsError
from geodesic_nets.tasks.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from geodesic_nets.tasks.config import TrainConfig
from geodesic_nets.tasks.initial_weights import initial_weights_path, load_initial_weights
from geodesic_nets.tasks.pretrained import export_pretrained, weights_digest
from geodesic_nets.tasks.runner import load_run

TINY = ["--task", "functional_maps", "--dataset", "synthetic_correspondence", "--epochs", "1", "--batch-size", "2",
        "--features", "wks", "--dataset-option", "n_shapes=6", "--k-eig", "40", "--depth", "1", "--no-progress"]


def _train(out, *extra) -> None:
    assert main(["train", *TINY, *extra, "--out", str(out)]) == 0


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """A finished one-epoch run (seed 0, width 8)."""
    run = tmp_path_factory.mktemp("init") / "first"
    _train(run, "--width", "8", "--seed", "0")
    return run


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def test_a_run_starts_from_another_runs_weights(first, tmp_path):
    # a learning rate too small to move the weights: the second run ends where the first did
    _train(tmp_path / "tuned", "--width", "8", "--seed", "1", "--lr", "1e-12", "--init-from", str(first))
    _train(tmp_path / "fresh", "--width", "8", "--seed", "1", "--lr", "1e-12")
    start, tuned, fresh = _weights(first), _weights(tmp_path / "tuned"), _weights(tmp_path / "fresh")
    for k, v in start.items():
        # the learned diffusion times are clamped to their minimum (1e-8) before each training forward
        expected = v.clamp(min=1e-8) if k.endswith("diffusion.time") else v
        torch.testing.assert_close(tuned[k], expected, rtol=0, atol=1e-6)
    assert any(not torch.allclose(fresh[k], v) for k, v in start.items() if v.is_floating_point())
    record = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert record["record"]["initial_weights"] == {"source": str(first),
                                                   "path": str(first / "checkpoints" / "last.pt"),
                                                   "sha256": weights_digest(start)}
    assert record["train"]["init_from"] == str(first)
    # it resumes like any run (the source is loaded again, then the run's own checkpoint)
    assert main(["train", *TINY, "--width", "8", "--seed", "1", "--lr", "1e-12", "--init-from", str(first),
                 "--epochs", "2", "--resume", "--out", str(tmp_path / "tuned")]) == 0
    assert load_checkpoint(tmp_path / "tuned" / "checkpoints" / "last.pt")["epoch"] == 2


def test_a_pretrained_file_is_a_source_and_its_digest_is_checked(first, tmp_path):
    path = export_pretrained(first, tmp_path / "model.pt", description="test")
    model = load_run(first).model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    record = load_initial_weights(model, path)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, _weights(first)[k])
    assert record["path"] == str(path)
    state = load_checkpoint(path)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    save_checkpoint(tmp_path / "edited.pt", {**state, "model": {**state["model"], key: state["model"][key] * 2}})
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_initial_weights(model, tmp_path / "edited.pt")


def test_weights_of_another_network_or_no_source_are_refused(first, tmp_path, capsys):
    assert main(["train", *TINY, "--width", "16", "--init-from", str(first), "--out", str(tmp_path / "wider")]) != 0
    assert "do not fit the model this experiment builds" in capsys.readouterr().err
    with pytest.raises(GeodesicNetsError, match="no run directory, no .pt file and no shipped"):
        initial_weights_path(tmp_path / "nothing_here")
    assert initial_weights_path("shrec11").name == "shrec11.pt"  # a shipped model by name
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(GeodesicNetsError, match="no checkpoints/last.pt"):
        initial_weights_path(tmp_path / "empty_run")
    save_checkpoint(tmp_path / "no_model.pt", {"epoch": 3})
    with pytest.raises(CheckpointError, match="no model weights"):
        load_initial_weights(load_run(first).model, tmp_path / "no_model.pt")
    with pytest.raises(ArgumentError, match="init_from"):
        TrainConfig(init_from="  ")
