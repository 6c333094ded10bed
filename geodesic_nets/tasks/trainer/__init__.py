"""The training loop: :func:`fit` trains a model on a :class:`~geodesic_nets.tasks.base.Task`.

One loop for one process and for ``torchrun`` data parallelism (DistributedDataParallel, NCCL on
CUDA, gloo on the CPU), with checkpoints that resume bit-exactly, a validation pass that never
disturbs the training's random streams, and a run directory of records (see
:mod:`geodesic_nets.tasks.records` for its layout).

The loop reads as its steps, one module each:

================  ====================================================================
module            step
================  ====================================================================
``setup``         check the inputs, resume or start (checkpoint, seeds), optimizer, DDP
                  wrapper, the loader
``epoch``         one training epoch (learning-rate schedule, steps, statistics)
``evaluation``    the validation pass, with the generator states preserved
``bookkeeping``   the epoch's record, checkpoints, metrics files and log line
``loop``          :func:`fit` and :class:`FitResult`, calling the steps above
================  ====================================================================

Every module logs to the ``geodesic_nets.tasks.trainer`` logger.
"""

from .evaluation import preserved_rng
from .loop import FitResult, fit
from .setup import seed_everything

__all__ = ["fit", "FitResult", "seed_everything", "preserved_rng"]
