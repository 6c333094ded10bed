"""The fused linear head + cross-entropy against the unfused expression, forward and backward.

Usage (one thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/linear_cross_entropy.py \\
        [--rows 27560] [--features 256] [--classes 6890] [--repeats 3] [--out FILE]

The default sizes are those of ``faust_100_gem`` (4 FAUST shapes of 6890 vertices a step, a
256-wide hidden layer, 6890 classes). Three ways to get the weighted loss
``sum_i w_i CE_i`` and its gradients with respect to the input, the weight and the bias, float32:

* ``unfused``: ``F.linear`` then ``F.cross_entropy(..., reduction="none")``, weighted and summed
  (the (N, K) logits, their log-softmax and its gradient held in memory);
* ``per_row``: :func:`geodesic_nets.nn.linear_cross_entropy` weighted and summed by the caller
  (its backward recomputes each block's logits);
* ``weighted``: :func:`geodesic_nets.nn.weighted_linear_cross_entropy` (the gradients formed in
  the forward).

Each repeat runs the three in turn (interleaved); the table gives the median seconds of forward
plus backward and the largest difference of each fused form's loss and gradients from the
unfused one's, relative to the largest entry. Writes JSON with the versions to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from geodesic_nets.nn import linear_cross_entropy, weighted_linear_cross_entropy  # noqa: E402


def _unfused(x, w, b, t, rw):
    return (F.cross_entropy(F.linear(x, w, b), t, reduction="none") * rw).sum()


def _per_row(x, w, b, t, rw):
    return (linear_cross_entropy(x, w, b, t)[0] * rw).sum()


def _weighted(x, w, b, t, rw):
    return weighted_linear_cross_entropy(x, w, b, t, rw)[0]


METHODS = {"unfused": _unfused, "per_row": _per_row, "weighted": _weighted}


def _problem(N: int, C: int, K: int):
    g = torch.Generator().manual_seed(0)
    x = (0.3 * torch.randn(N, C, generator=g)).requires_grad_()
    w = (0.05 * torch.randn(K, C, generator=g)).requires_grad_()
    b = torch.zeros(K, requires_grad=True)
    t = torch.randint(0, K, (N,), generator=g)
    rw = torch.full((N,), 1.0 / N)
    return (x, w, b), t, rw


def _run(fn, params, t, rw):
    t0 = time.perf_counter()
    loss = fn(*params, t, rw)
    grads = torch.autograd.grad(loss, params)
    return time.perf_counter() - t0, [loss.detach(), *grads]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=27560)
    p.add_argument("--features", type=int, default=256)
    p.add_argument("--classes", type=int, default=6890)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="JSON file for the results")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    params, t, rw = _problem(args.rows, args.features, args.classes)
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    outputs = {}
    for _ in range(args.repeats):
        for name, fn in METHODS.items():
            dt, outputs[name] = _run(fn, params, t, rw)
            times[name].append(dt)
    rows = []
    for name in METHODS:
        diff = max(float((a - r).abs().max() / r.abs().max()) for a, r in zip(outputs[name], outputs["unfused"]))
        rows.append({"method": name, "median_s": statistics.median(times[name]), "times_s": times[name],
                     "max_rel_diff_vs_unfused": diff})
        print(f"{name:9s} {statistics.median(times[name]):8.3f} s   max rel. diff from unfused {diff:.1e}")
    if args.out:
        record = {"command": " ".join(["benchmarks/linear_cross_entropy.py", *sys.argv[1:]]),
                  "rows_N": args.rows, "features_C": args.features, "classes_K": args.classes,
                  "repeats": args.repeats, "threads": torch.get_num_threads(), "dtype": "float32",
                  "versions": {"python": platform.python_version(), "torch": torch.__version__},
                  "machine": platform.machine(), "platform": platform.platform(), "results": rows}
        with open(args.out, "w") as f:
            json.dump(record, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
