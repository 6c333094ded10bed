"""One process of the data-parallel test (tests/test_distributed.py), launched by torchrun.

Usage: ``python -m torch.distributed.run --nproc_per_node R tests/ddp_worker.py OUT_DIR RUN_DIR EPOCHS``.
Trains the toy problem with ``fit`` (batch 1 per process, float64, no dropout, no augmentation)
and writes ``OUT_DIR/params_rank<r>.pt`` and ``OUT_DIR/history_rank<r>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

from geodesic_nets.tasks.config import TrainConfig  # noqa: E402
from geodesic_nets.tasks.trainer import fit  # noqa: E402

from training_toy import ToyClassification, make_model, make_samples  # noqa: E402


def ddp_config(epochs: int, batch_size: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=1e-2, warmup_epochs=1, dtype="float64", device="cpu",
        progress=False, tensorboard=False, grad_clip=1.0,
    )


def main(out_dir: str, run_dir: str, epochs: str) -> None:
    samples = make_samples(4)
    model = make_model(dropout=0.0, seed=0)
    result = fit(
        model, ToyClassification(augment=False), samples, config=ddp_config(int(epochs), 1), run_dir=run_dir,
        val_set=samples,
    )
    rank = int(os.environ["RANK"])
    out = Path(out_dir)
    torch.save(model.state_dict(), out / f"params_rank{rank}.pt")
    history = [{k: v for k, v in e.items() if not k.endswith("seconds")} for e in result.history]
    (out / f"history_rank{rank}.json").write_text(
        json.dumps({"history": history, "best_epoch": result.best_epoch, "best_metric": result.best_metric})
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
