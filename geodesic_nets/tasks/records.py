"""What a training run leaves behind besides checkpoints: metrics (CSV, JSON, TensorBoard) and
a record of the software and hardware it ran on.

Run directory written by :func:`geodesic_nets.tasks.fit` (main process only)::

    run_dir/
      config.json        {"train": TrainConfig.to_dict(), "record": caller's record, "world_size": R}
      environment.json   environment_record()
      metrics.csv        one row per completed epoch (flattened scalars, see flatten_entry)
      metrics.json       history, best, last, timings, environment, config (rewritten every epoch)
      checkpoints/last.pt, checkpoints/best.pt
      tensorboard/       only when the tensorboard package is importable and enabled

Every JSON file is written atomically.
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import io
import json
import logging
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import atomic_write
from ..errors import ArgumentError

__all__ = ["environment_record", "MetricsWriter", "flatten_entry", "to_jsonable", "write_json"]

log = logging.getLogger(__name__)


def to_jsonable(obj: Any) -> Any:
    """``obj`` with tensors, numpy values and tuples turned into plain Python (lists, floats, ints).

    Dict keys become strings. Raises TypeError for anything else that JSON cannot hold.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj.item() if isinstance(obj, np.generic) else (int(obj) if isinstance(obj, int) else float(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    raise ArgumentError(f"cannot store a {type(obj).__name__} in JSON metrics: {obj!r}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` (made JSON-able) to ``path`` atomically, indented, keys in insertion order."""
    text = json.dumps(to_jsonable(obj), indent=2) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _git_commit(start: Path) -> str | None:
    """Commit of the git checkout holding ``start`` (read from .git, no subprocess), or None."""
    for d in (start, *start.parents):
        git = d / ".git"
        if git.is_file():  # worktree or submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = (d / text.split(":", 1)[1].strip()).resolve()
        if not git.is_dir():
            continue
        try:
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref:"):
                return head or None
            ref = head.split(":", 1)[1].strip()
            common = git
            if (git / "commondir").is_file():
                common = (git / (git / "commondir").read_text().strip()).resolve()
            for base in (git, common):
                if (base / ref).is_file():
                    return (base / ref).read_text().strip()
            for base in (git, common):
                packed = base / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        parts = line.split()
                        if len(parts) == 2 and parts[1] == ref:
                            return parts[0]
        except OSError:
            return None
        return None
    return None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", None)


def environment_record() -> dict[str, Any]:
    """Versions, platform and hardware of this process, as a JSON-able dict.

    Keys: ``python``, ``torch``, ``numpy``, ``scipy``, ``geodesic_nets``, ``git_commit`` (of the
    checkout holding the package, None when not installed from a git checkout), ``platform``,
    ``machine``, ``cpu_count``, ``torch_threads``, ``cuda`` (None, or the CUDA version and the
    device names), ``timestamp`` (UTC, ISO 8601).
    """
    from ..version import __version__

    cuda = None
    if torch.cuda.is_available():
        cuda = {
            "version": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        }
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "geodesic_nets": __version__,
        "git_commit": _git_commit(Path(__file__).resolve().parent),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": cuda,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, np.generic)) or (isinstance(v, torch.Tensor) and v.numel() == 1)


def flatten_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One CSV row of a history entry.

    ``{"epoch", "step", "lr", "train": {...}, "val": {...} or None, "epoch_seconds"}`` becomes
    ``epoch, step, lr, train_<key>..., val_<key>..., epoch_seconds``; only scalar values are kept
    (lists and nested dicts such as a confusion matrix stay in metrics.json).
    """
    row: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if _is_scalar(v):
                    row[f"{key}_{k}"] = to_jsonable(v) if not isinstance(v, torch.Tensor) else v.item()
        elif value is None or _is_scalar(value):
            if value is not None:
                row[key] = to_jsonable(value)
    # epoch_seconds last, whatever the entry's order
    if "epoch_seconds" in row:
        row["epoch_seconds"] = row.pop("epoch_seconds")
    return row


def _format(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return str(v)


class MetricsWriter:
    """Writes ``metrics.csv``, ``metrics.json`` and (optionally) TensorBoard scalars of a run.

    Parameters
    ----------
    run_dir : path-like
    tensorboard : bool
        Also write TensorBoard event files under ``run_dir/tensorboard`` when the ``tensorboard``
        package is importable (silently skipped otherwise, with a debug log line).

    Notes
    -----
    The CSV header comes from the first row and grows when a later row brings new columns (e.g.
    validation metrics with ``eval_every > 1``): the file is then rewritten, atomically, with
    empty cells where a row has no value. Otherwise rows are appended.
    """

    def __init__(self, run_dir: str | os.PathLike, *, tensorboard: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "metrics.csv"
        self.json_path = self.run_dir / "metrics.json"
        self._rows: list[dict[str, Any]] = []
        self._columns: list[str] = []
        self._tb = None
        if tensorboard:
            if importlib.util.find_spec("tensorboard") is None:
                log.debug("tensorboard is not installed: no TensorBoard scalars")
            else:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def reset(self, history: list[dict[str, Any]]) -> None:
        """Rewrite metrics.csv from ``history`` (a fresh run: empty; a resumed run: the
        checkpoint's history, which drops rows of an epoch that did not complete)."""
        self._rows = [flatten_entry(e) for e in history]
        self._columns = []
        for row in self._rows:
            self._columns += [k for k in row if k not in self._columns]
        self._rewrite()

    def append(self, entry: dict[str, Any]) -> None:
        """Add one epoch's history entry (CSV row and TensorBoard scalars)."""
        row = flatten_entry(entry)
        self._rows.append(row)
        new = [k for k in row if k not in self._columns]
        if new or not self.csv_path.exists():
            self._columns += new
            self._rewrite()
        else:
            with open(self.csv_path, "a", newline="") as fh:
                csv.writer(fh).writerow([_format(row[c]) if c in row else "" for c in self._columns])
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("epoch", "step"):
                    self._tb.add_scalar(k.replace("_", "/", 1), float(v), int(row.get("epoch", 0)))
            self._tb.flush()

    def _rewrite(self) -> None:
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        if self._columns:
            w.writerow(self._columns)
        for row in self._rows:
            w.writerow([_format(row[c]) if c in row else "" for c in self._columns])
        data = buf.getvalue().encode("utf-8")
        atomic_write(self.csv_path, lambda fh: fh.write(data))

    def write_json(
        self,
        *,
        history: list[dict[str, Any]],
        best: dict[str, Any] | None,
        timings: dict[str, Any],
        environment: dict[str, Any],
        config: dict[str, Any],
    ) -> None:
        """Rewrite metrics.json: ``{"history", "best", "last", "timings", "environment", "config"}``."""
        write_json(
            self.json_path,
            {
                "history": history,
                "best": best,
                "last": history[-1] if history else None,
                "timings": timings,
                "environment": environment,
                "config": config,
            },
        )

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
