"""Subprocess of tests/test_trainer.py's SIGKILL test (not a test module): trains the toy problem
and, on a given call of the loss, writes a marker file and waits to be killed mid-epoch.

Usage: python tests/kill_worker.py RUN_DIR MARKER CALL
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from geodesic_nets.tasks.trainer import fit  # noqa: E402
from training_toy import ToyClassification, make_model, make_samples  # noqa: E402
from kill_config import KILL_CONFIG  # noqa: E402


class WaitToBeKilled(ToyClassification):
    def __init__(self, marker: Path, call: int) -> None:
        super().__init__()
        self.marker, self.at = marker, call

    def loss(self, model, sb):
        if self.calls + 1 == self.at:
            self.marker.write_text(str(os.getpid()))
            time.sleep(600)  # the parent kills this process here, in the middle of an epoch
        return super().loss(model, sb)


if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, marker, call = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    fit(make_model(), WaitToBeKilled(marker, call), make_samples(4), config=KILL_CONFIG, run_dir=run_dir,
        val_set=make_samples(4))
