"""Data parallelism: the sharded sampler's global order, single-process helpers, and a 2-process
gloo run (torchrun) that must match one process with twice the batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from geodesic_nets.errors import GeodesicNetsError
from geodesic_nets.tasks.distributed import (
    ShardedSampler,
    all_gather_object,
    all_reduce_mean,
    barrier,
    broadcast_object,
    epoch_permutation,
    init_distributed,
    resolve_device,
)

TESTS = Path(__file__).resolve().parent


def _batches(sampler: ShardedSampler, batch_size: int) -> list[list[int]]:
    idx = list(sampler)
    return [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]


@pytest.mark.parametrize("n", [8, 12])
def test_r_processes_see_the_batches_of_one_process(n):
    for epoch in range(3):
        one = ShardedSampler(n, num_replicas=1, rank=0, seed=7)
        one.set_epoch(epoch)
        big = _batches(one, 4)
        shards = []
        for r in range(2):
            s = ShardedSampler(n, num_replicas=2, rank=r, seed=7)
            s.set_epoch(epoch)
            shards.append(_batches(s, 2))
        assert len(shards[0]) == len(shards[1]) == len(big)
        for step, batch in enumerate(big):
            assert sorted(shards[0][step] + shards[1][step]) == sorted(batch)
        assert sorted(list(one)) == list(range(n))


def test_sampler_order_depends_on_seed_and_epoch_only():
    a = ShardedSampler(10, seed=1)
    b = ShardedSampler(list(range(10)), seed=1)
    a.set_epoch(4), b.set_epoch(4)
    assert list(a) == list(b)
    orders = set()
    for epoch in range(5):
        a.set_epoch(epoch)
        orders.add(tuple(a))
    assert len(orders) == 5
    c = ShardedSampler(10, seed=2)
    c.set_epoch(4), a.set_epoch(4)
    assert list(c) != list(a)
    assert torch.equal(epoch_permutation(10, 1, 4), torch.tensor(list(a)))
    assert list(ShardedSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]


def test_sampler_pads_to_equal_shares():
    n, r = 7, 3
    shards = [list(ShardedSampler(n, num_replicas=r, rank=k, seed=0)) for k in range(r)]
    assert [len(s) for s in shards] == [3, 3, 3]
    order = ShardedSampler(n, num_replicas=r, seed=0).global_order().tolist()
    assert order[n:] == order[: 9 - n]  # padding repeats the start of the permutation
    assert sorted(set(sum(shards, []))) == list(range(n))
    with pytest.raises(ValueError, match="empty"):
        ShardedSampler(0)
    with pytest.raises(ValueError, match="rank"):
        ShardedSampler(4, num_replicas=2, rank=2)


def test_single_process_helpers_are_identities(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.is_distributed, info.is_main) == (0, 1, False, True)
    assert info.device == torch.device("cpu")
    assert all_reduce_mean({"a": 2.0, "b": 3}, weight=5.0) == {"a": 2.0, "b": 3.0}
    assert broadcast_object({"x": 1}) == {"x": 1}
    assert all_gather_object(3) == [3]
    barrier()


def test_bad_launch_environment_is_reported(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(GeodesicNetsError, match="MASTER_ADDR"):
        init_distributed("cpu")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(GeodesicNetsError, match="RANK"):
        init_distributed("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_request_without_cuda_is_an_error():
    with pytest.raises(GeodesicNetsError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_twice_the_batch(tmp_path):
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with the gloo backend is unavailable")
    sys.path.insert(0, str(TESTS))
    from ddp_worker import ddp_config
    from training_toy import ToyClassification, make_model, make_samples

    from geodesic_nets.tasks.trainer import fit

    epochs = 2
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS)}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), str(TESTS / "ddp_worker.py"), str(tmp_path), str(tmp_path / "ddp_run"),
        str(epochs),
    ]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"torchrun did not finish in 120 s:\n{exc.stderr}")
    if proc.returncode != 0:
        pytest.fail(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")

    ranks = [torch.load(tmp_path / f"params_rank{r}.pt", weights_only=True) for r in range(2)]
    hist = [json.loads((tmp_path / f"history_rank{r}.json").read_text()) for r in range(2)]
    for k in ranks[0]:
        assert torch.equal(ranks[0][k], ranks[1][k]), f"ranks disagree on {k}"
    assert hist[0] == hist[1]  # metrics and best epoch agreed through broadcasts

    model = make_model(dropout=0.0, seed=0)
    single = fit(
        model, ToyClassification(augment=False), make_samples(4), config=ddp_config(epochs, 2),
        run_dir=tmp_path / "single", val_set=make_samples(4),
    )
    ref = model.state_dict()
    moved = 0.0
    for k in ref:
        assert ranks[0][k].dtype == torch.float64
        torch.testing.assert_close(ranks[0][k], ref[k], rtol=1e-9, atol=1e-10, msg=f"parameter {k}")
        moved = max(moved, float((ref[k] - make_model(dropout=0.0, seed=0).state_dict()[k].double()).abs().max()))
    assert moved > 1e-3  # the comparison is between trained parameters, not two initializations
    assert [e["train"]["loss"] for e in hist[0]["history"]] == pytest.approx(
        [e["train"]["loss"] for e in single.history], rel=1e-9
    )
    assert [e["step"] for e in hist[0]["history"]] == [e["step"] for e in single.history] == [4, 8]

    # only rank 0 wrote the run directory, with one row per epoch
    run = tmp_path / "ddp_run"
    assert (run / "checkpoints" / "last.pt").is_file()
    assert len((run / "metrics.csv").read_text().splitlines()) == epochs + 1
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
