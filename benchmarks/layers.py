"""All layer families side by side in one run: diffusion, gauge-equivariant, patch (MoNet/GCNN).

Runs ``layers_diffusion.py`` (ours beside a straightforward DiffusionNet of the same size),
``layers_gauge.py`` (GEM-CNN style network, orders 0..2 x 16) and ``layers_patch.py`` (MoNet and
GCNN, beside PyG's GMMConv when ``torch_geometric`` is importable) one after the other with the
same sizes and repeats, then prints the published reference figures the issue compares against
(one CPU core; a DiffusionNet implementation of width 128 x 4 blocks and a GEM-CNN implementation
of width 16, forward + backward).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/layers.py [--sizes 5000 20000 100000] [--repeats 3]
        [--device cpu|cuda] [--out DIR] [--diffusion-net PATH] [--gem-cnn PATH]

``--device cuda`` runs all three on the GPU (networks, PyG's included, inputs and operators; see
each script). ``--out DIR`` makes each write its JSON (rows, device name, command) to
``DIR/layers_diffusion.json``, ``DIR/layers_gauge.json`` and ``DIR/layers_patch.json``. Without
them the run and its output are as before. ``--diffusion-net PATH`` (a nmwsharp/diffusion-net
checkout; default ``$DIFFUSION_NET_SRC``, which the children read themselves) adds DiffusionNet's
own network beside ours in ``layers_diffusion.py``; ``--gem-cnn PATH`` (default ``$GEM_CNN_SRC``)
is passed to ``layers_gauge.py``, which then measures GEM-CNN's own network beside ours.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

REFERENCE = """\
Reference figures (forward + backward, one core, from the issue):
  DiffusionNet-style, width 128 x 4 blocks: 0.67 s @ 5k, 1.96 s @ 20k, 16.8 s @ 100k (3.9 GB peak)
  GEM-CNN-style, width 16:                  0.87 s @ 5k, 5.0 s @ 20k, 31.8 s @ 100k (4.7 GB peak)"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["5000", "20000", "100000"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N, passed to each benchmark")
    ap.add_argument("--out", default=None, metavar="DIR", help="directory for each benchmark's JSON")
    ap.add_argument("--diffusion-net", default=None, metavar="PATH",
                    help="nmwsharp/diffusion-net checkout for layers_diffusion.py (default $DIFFUSION_NET_SRC)")
    ap.add_argument("--gem-cnn", default=None, metavar="PATH",
                    help="GEM-CNN checkout for layers_gauge.py (default $GEM_CNN_SRC): its network is measured too")
    args = ap.parse_args()
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    runs = [
        ("diffusion", ["layers_diffusion.py", "--sizes", *args.sizes]),
        ("gauge", ["layers_gauge.py", "--sizes", *args.sizes]),
        ("patch", ["layers_patch.py", "--sizes", *args.sizes]),
    ]
    if args.diffusion_net:
        runs[0] = ("diffusion", [*runs[0][1], "--diffusion-net", args.diffusion_net])
    if args.gem_cnn:
        runs[1] = ("gauge", [*runs[1][1], "--gem-cnn", args.gem_cnn])
    if args.device != "cpu":
        runs = [(name, [*cmd, "--device", args.device]) for name, cmd in runs]
    if args.out:
        runs = [(name, [*cmd, "--out", str(Path(args.out) / f"layers_{name}.json")]) for name, cmd in runs]
    failed = []
    for name, cmd in runs:
        print(f"\n===== {name}: {' '.join(cmd)} --repeats {args.repeats}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:], "--repeats", str(args.repeats)], env=env)
        if code:
            failed.append(name)
    print("\n" + REFERENCE)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
