"""Data-parallel training across processes started by ``torchrun`` (one process per device).

:func:`init_distributed` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group: NCCL on CUDA devices, gloo on the
CPU. Without those variables it describes a single process, and every helper here is then a
no-op, so the same training code runs with and without torchrun.

:class:`ShardedSampler` splits each epoch's permutation of the dataset between the processes so
that R processes with batches of B see, step by step, the same meshes as one process with
batches of R * B (see its notes for the exact condition).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Iterator, Sized

import numpy as np
import torch
from torch.utils.data import Sampler

from ..errors import ArgumentError, GeodesicNetsError

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup",
    "resolve_device",
    "ShardedSampler",
    "epoch_permutation",
    "all_reduce_mean",
    "broadcast_object",
    "all_gather_object",
    "barrier",
    "broadcast_module_state",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) run.

    Attributes
    ----------
    rank : int
        Global index of this process, 0 <= rank < world_size.
    world_size : int
        Number of processes.
    local_rank : int
        Index of this process on its node (selects the CUDA device).
    device : torch.device
        The device this process trains on.
    is_distributed : bool
        Whether a process group is in use (world_size > 1).
    owns_group : bool
        Whether :func:`init_distributed` created the process group (and :func:`cleanup` should
        destroy it) rather than finding one initialized by the caller.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    is_distributed: bool = False
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that evaluates and writes files."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GeodesicNetsError(f"environment variable {name} must be an integer, got {value!r}") from None


def resolve_device(pref: str, *, local_rank: int = 0, distributed: bool = False) -> torch.device:
    """The device a process trains on.

    Parameters
    ----------
    pref : str
        "auto" (``cuda:<local_rank>`` when CUDA is available, else the CPU), "cpu", "cuda"
        (``cuda:<local_rank>`` in a distributed run, the current CUDA device otherwise) or
        "cuda:N" (single-process runs only: under torchrun each process takes its local rank).
    local_rank : int
    distributed : bool
    """
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        pref = "cuda"
    if not pref.startswith("cuda"):
        raise ArgumentError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {pref!r}")
    if not torch.cuda.is_available():
        raise GeodesicNetsError(f"device {pref!r} requested but CUDA is not available in this torch build/machine")
    n = torch.cuda.device_count()
    if pref == "cuda":
        index = local_rank if distributed else torch.cuda.current_device()
    else:
        if distributed:
            raise GeodesicNetsError(
                f"device {pref!r} names one GPU, but this is a distributed run: use 'cuda' or 'auto' "
                "(each process takes cuda:LOCAL_RANK) and choose GPUs with CUDA_VISIBLE_DEVICES"
            )
        index = int(pref.split(":", 1)[1])
    if index >= n:
        raise GeodesicNetsError(f"device cuda:{index} requested but only {n} CUDA device(s) are visible")
    return torch.device("cuda", index)


def init_distributed(device_pref: str = "auto") -> DistInfo:
    """Join torchrun's process group, or describe a single process.

    A process group the caller already initialized is used as it is (and left to the caller to
    destroy). Otherwise, with ``WORLD_SIZE`` > 1 in the environment, the group is created with
    ``init_method="env://"``: backend NCCL when the device is CUDA (after
    ``torch.cuda.set_device``), gloo on the CPU.

    Parameters
    ----------
    device_pref : str
        See :func:`resolve_device`.

    Raises
    ------
    GeodesicNetsError
        torch.distributed is unavailable, or torchrun's variables are inconsistent.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = _env_int("LOCAL_RANK", rank)
        device = resolve_device(device_pref, local_rank=local_rank, distributed=world > 1)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return DistInfo(rank, world, local_rank, device, world > 1, owns_group=False)

    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        device = resolve_device(device_pref, local_rank=0, distributed=False)
        return DistInfo(0, 1, 0, device, False, owns_group=False)

    if not dist.is_available():
        raise GeodesicNetsError(f"WORLD_SIZE={world} but this torch build has no torch.distributed")
    rank = _env_int("RANK", -1)
    local_rank = _env_int("LOCAL_RANK", -1)
    if not 0 <= rank < world or local_rank < 0:
        raise GeodesicNetsError(
            f"WORLD_SIZE={world} needs RANK in [0, {world}) and LOCAL_RANK >= 0 (as torchrun sets them), "
            f"got RANK={os.environ.get('RANK')!r}, LOCAL_RANK={os.environ.get('LOCAL_RANK')!r}"
        )
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise GeodesicNetsError(f"WORLD_SIZE={world} but {', '.join(missing)} not set (launch with torchrun)")
    device = resolve_device(device_pref, local_rank=local_rank, distributed=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        if not dist.is_gloo_available():
            raise GeodesicNetsError("distributed training on the CPU needs the gloo backend, unavailable here")
        backend = "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "init_method": "env://", "rank": rank, "world_size": world}
    if device.type == "cuda" and "device_id" in inspect.signature(dist.init_process_group).parameters:
        kwargs["device_id"] = device  # eager NCCL init bound to this device (torch >= 2.3)
    dist.init_process_group(**kwargs)
    log.info("process group: backend %s, rank %d/%d, device %s", backend, rank, world, device)
    return DistInfo(rank, world, local_rank, device, True, owns_group=True)


def cleanup(info: DistInfo | None = None) -> None:
    """Destroy the process group (only one created by :func:`init_distributed` when ``info`` is given)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if info is not None and not info.owns_group:
        return
    dist.destroy_process_group()


def _group_active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _comm_device() -> torch.device:
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of ``range(n)`` used in ``epoch``: shape (n,), int64.

    Drawn from a generator seeded with a hash of ``(seed, epoch)`` (numpy's SeedSequence), so
    it depends on nothing but its arguments.
    """
    state = int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0]) & (2**63 - 1)
    g = torch.Generator().manual_seed(state)
    return torch.randperm(n, generator=g)


class ShardedSampler(Sampler[int]):
    """This process's share of a deterministic per-epoch order of a dataset.

    Each epoch's order is ``epoch_permutation(N, seed, epoch)`` (or ``arange(N)`` without
    shuffling), padded by repeating its first elements to a multiple of ``num_replicas`` (as
    ``torch.utils.data.DistributedSampler`` does, so every process takes the same number of
    steps); rank r takes positions ``r, r + R, r + 2R, ...``.

    Notes
    -----
    With batches of B per process, step i of the R processes covers positions ``[i R B, (i+1)
    R B)`` of the padded order, i.e. the same meshes as step i of one process with batches of
    R B. The averaged gradient equals that single process's gradient when every process has the
    same number of meshes in every step, i.e. when ``N % R == 0`` (no padding). Otherwise the
    padded duplicates are trained on twice and the last steps differ slightly.

    Parameters
    ----------
    data : Sized or int
        The dataset (or its length N >= 1).
    num_replicas : int
        R, number of processes.
    rank : int
    seed : int
    shuffle : bool
    """

    def __init__(
        self, data: Sized | int, *, num_replicas: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True
    ) -> None:
        n = data if isinstance(data, int) else len(data)
        if n < 1:
            raise ArgumentError("cannot sample from an empty dataset")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ArgumentError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas}, {rank}")
        self.num_items = int(n)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0
        self.num_samples = math.ceil(self.num_items / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def global_order(self) -> torch.Tensor:
        """The padded order of this epoch shared by all ranks: shape (total_size,), int64."""
        if self.shuffle:
            order = epoch_permutation(self.num_items, self.seed, self.epoch)
        else:
            order = torch.arange(self.num_items)
        pad = self.total_size - self.num_items
        if pad:
            order = torch.cat([order, order.repeat(math.ceil(pad / self.num_items))[:pad]])
        return order

    def __iter__(self) -> Iterator[int]:
        return iter(self.global_order()[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


def all_reduce_mean(values: dict[str, float], *, weight: float = 1.0) -> dict[str, float]:
    """Weighted mean over the processes of each value: ``sum_r w_r v_r / sum_r w_r``.

    Every process must pass the same keys. Without a process group, ``values`` come back as
    floats unchanged.
    """
    if not _group_active():
        return {k: float(v) for k, v in values.items()}
    import torch.distributed as dist

    keys = sorted(values)
    t = torch.tensor([float(values[k]) * weight for k in keys] + [float(weight)], dtype=torch.float64)
    t = t.to(_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t = t.cpu()
    total = float(t[-1])
    return {k: float(t[i]) / total if total else float("nan") for i, k in enumerate(keys)}


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every process (pickled); ``obj`` itself without a group."""
    if not _group_active():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (pickled); ``[obj]`` without a group."""
    if not _group_active():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_module_state(module: torch.nn.Module, src: int = 0) -> None:
    """Overwrite every process's parameters and buffers with those of rank ``src`` (in place).

    Used after the main process alone ran a model (evaluation), in case the forward changed its
    state (DiffusionNet clamps its diffusion times in place). No-op without a group.
    """
    if not _group_active():
        return
    import torch.distributed as dist

    with torch.no_grad():
        for t in module.state_dict().values():
            dist.broadcast(t, src=src)


def barrier() -> None:
    """Wait for every process (no-op without a group)."""
    if _group_active():
        import torch.distributed as dist

        dist.barrier()
