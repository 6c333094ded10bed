"""The training configuration shared by the SIGKILL test of tests/test_trainer.py and its subprocess
(tests/kill_worker.py); no tests here."""

from geodesic_nets.tasks.config import TrainConfig

KILL_CONFIG = TrainConfig(epochs=4, warmup_epochs=1, batch_size=2, lr=1e-2, progress=False, tensorboard=False,
                          device="cpu")
