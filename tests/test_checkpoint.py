"""Checkpoint files: round trip, atomic replacement, clear errors on bad files, generator states."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from geodesic_nets.errors import GeodesicNetsError
from geodesic_nets.tasks import checkpoint as ckpt_mod
from geodesic_nets.tasks.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from geodesic_nets.tasks.records import MetricsWriter, environment_record, flatten_entry, to_jsonable


def _state(value: float) -> dict:
    return {
        "model": {"w": torch.full((3, 2), value), "b": torch.arange(4)},
        "epoch": 3,
        "history": [{"epoch": 1, "train": {"loss": 0.5}, "val": None}],
        "best_metric": None,
        "rng": [capture_rng_state()],
    }


def test_round_trip(tmp_path):
    path = tmp_path / "c.pt"
    state = _state(1.5)
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert torch.equal(loaded["model"]["b"], state["model"]["b"])
    assert loaded["history"] == state["history"] and loaded["epoch"] == 3 and loaded["best_metric"] is None
    assert loaded["format_version"] == ckpt_mod.CHECKPOINT_FORMAT_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


@pytest.mark.parametrize("fail_in", ["replace", "save"])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fail_in):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1.0))
    if fail_in == "replace":
        def broken_replace(src, dst):
            raise OSError("disk gone")

        monkeypatch.setattr(ckpt_mod.os, "replace", broken_replace)
    else:
        real_save = torch.save

        def broken_save(obj, fh, *a, **k):
            fh.write(b"PK\x03\x04 half a zip")  # a crash after a partial write
            raise RuntimeError("killed mid-write")

        monkeypatch.setattr(ckpt_mod.torch, "save", broken_save)
    with pytest.raises((OSError, RuntimeError)):
        save_checkpoint(path, _state(2.0))
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.full((3, 2), 1.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_truncated_garbage_missing_and_foreign_files_name_the_file(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, _state(1.0))
    data = good.read_bytes()
    cases = {
        "truncated.pt": data[: len(data) // 2],
        "garbage.pt": os.urandom(256),
        "empty.pt": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=name) as info:
            load_checkpoint(tmp_path / name)
        assert isinstance(info.value, GeodesicNetsError) and info.value.path.endswith(name)
    with pytest.raises(CheckpointError, match="missing.pt.*no such"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt: not a geodesic_nets checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_loading_refuses_code_in_the_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    torch.save({"format": "geodesic_nets.checkpoint", "format_version": 1, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")


def test_rng_state_survives_a_file_round_trip(tmp_path):
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    torch.rand(5), np.random.rand(7), np.random.randn(), random.random()
    save_checkpoint(tmp_path / "rng.pt", {"rng": [capture_rng_state()]})
    expected = (torch.rand(4).tolist(), np.random.randn(3).tolist(), random.random())
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"][0])
    assert (torch.rand(4).tolist(), np.random.randn(3).tolist(), random.random()) == expected


# ---------------------------------------------------------------------- records


def test_metrics_writer_rewrites_from_history_and_appends(tmp_path):
    w = MetricsWriter(tmp_path)
    hist = [
        {"epoch": 1, "step": 2, "lr": 0.1, "train": {"loss": 1.0}, "val": None, "epoch_seconds": 0.5},
        {"epoch": 2, "step": 4, "lr": 0.1, "train": {"loss": 0.5}, "val": {"acc": 1.0, "cm": [[1]]}, "epoch_seconds": 0.5},
    ]
    w.append(hist[0])
    w.append(hist[1])  # new column: file rewritten with the wider header
    text = (tmp_path / "metrics.csv").read_text().splitlines()
    assert text[0] == "epoch,step,lr,train_loss,epoch_seconds,val_acc"
    assert text[1] == "1,2,0.1,1.0,0.5," and text[2] == "2,4,0.1,0.5,0.5,1.0"
    w.reset(hist[:1])  # a resumed run drops rows beyond its checkpoint
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 2
    w.write_json(history=hist, best=None, timings={}, environment={}, config={})
    w.close()


def test_flatten_and_jsonable():
    entry = {"epoch": np.int64(3), "train": {"loss": torch.tensor(0.25), "v": [1, 2]}, "val": None, "epoch_seconds": 1.0}
    assert flatten_entry(entry) == {"epoch": 3, "train_loss": 0.25, "epoch_seconds": 1.0}
    out = to_jsonable({"a": np.float32(0.5), 2: (torch.ones(2), np.arange(2)), "b": np.bool_(True)})
    assert out == {"a": 0.5, "2": [[1.0, 1.0], [0, 1]], "b": True}
    assert type(out["a"]) is float and type(out["2"][1][0]) is int
    with pytest.raises(TypeError, match="object"):
        to_jsonable({"x": object()})


def test_environment_record_is_json_and_names_versions():
    import json

    env = environment_record()
    json.dumps(env)
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert env["cpu_count"] >= 1 and env["timestamp"].endswith("+00:00")
    commit = env["git_commit"]
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)
