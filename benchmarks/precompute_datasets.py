"""Dataset-scale throughput of ``geodesic-nets precompute``: meshes per second and peak memory.

Usage (one BLAS thread per process)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/precompute_datasets.py \\
        [--data ../shared/data] [--datasets faust_r shrec11] [--jobs 1 2] [--k 128] [--repeats 1]

For each dataset and ``--jobs`` value, runs the command line exactly as a user would
(``geodesic-nets precompute FILES --cache EMPTY_DIR --k-eig K --jobs J --normalize --no-progress``)
in a fresh process with an empty cache, and reports the wall time, meshes per second, and the
peak resident memory of the largest process (the command itself or one of its workers, from
``getrusage(RUSAGE_CHILDREN)``). FAUST_r: its 100 shapes (``shapes/*.off``, ~5k vertices);
SHREC'11: its 600 meshes (``*/*/*.obj``). Datasets missing under ``--data`` are skipped. Writes
``benchmarks/results/precompute_datasets.json`` with the command lines and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: dataset -> (folder under --data, glob of its files)
DATASETS = {"faust_r": ("faust_r", "shapes/*.off"), "shrec11": ("shrec11", "*/*/*.obj")}


#: runs the command given as its arguments, then prints the largest RSS of its process tree (KiB)
_WRAPPER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)


def files_of(data: Path, name: str) -> list[Path]:
    folder, pattern = DATASETS[name]
    root = data / folder
    found = sorted(root.glob(pattern))
    if not found:  # some copies keep one more level (e.g. shrec11/shrec_16/...)
        found = sorted(root.glob("*/" + pattern))
    return found


def run(files: list[Path], jobs: int, k: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, "-m", "geodesic_nets", "precompute", *map(str, files), "--cache", cache,
               "--k-eig", str(k), "--jobs", str(jobs), "--normalize", "--no-progress"]
        # A fresh wrapper process per case, so that its RUSAGE_CHILDREN covers this case only.
        wrapper = [sys.executable, "-c", _WRAPPER, *cmd]
        t0 = time.perf_counter()
        out = subprocess.run(wrapper, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - t0
        peak_kb = int(out.stderr.strip().splitlines()[-1].split()[-1])
        entries = len(list(Path(cache).glob("*.npz")))
    return {"jobs": jobs, "files": len(files), "entries": entries, "seconds": seconds,
            "meshes_per_s": len(files) / seconds, "peak_rss_mb": peak_kb / 1024.0,
            "returncode": out.returncode, "stdout_tail": out.stdout.strip().splitlines()[-1:],
            "command": " ".join(cmd[:4] + [f"<{len(files)} files>"] + cmd[4 + len(files):])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path(os.environ.get("GEODESIC_NETS_DATA", ROOT.parent / "shared" / "data")))
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--k", type=int, default=128)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "results" / "precompute_datasets.json")
    args = p.parse_args()
    rows = []
    for name in args.datasets:
        files = files_of(args.data, name)
        if not files:
            print(f"{name}: no files under {args.data} (skipped)")
            continue
        for jobs in args.jobs:
            runs = [run(files, jobs, args.k) for _ in range(args.repeats)]
            best = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
            best = dict(best, dataset=name, seconds_all=[r["seconds"] for r in runs])
            rows.append(best)
            print(f"{name:8} jobs={jobs}: {best['files']} files in {best['seconds']:.1f} s "
                  f"({best['meshes_per_s']:.2f} meshes/s), peak RSS {best['peak_rss_mb']:.0f} MB, "
                  f"{best['entries']} entries, exit {best['returncode']}", flush=True)
    import numpy
    import scipy
    import torch

    meta = {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "k": args.k, "threads_per_process": 1, "cpus": os.cpu_count(),
            "repeats": args.repeats, "statistic": "median of repeats"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print("written", args.out)


if __name__ == "__main__":
    main()
