"""Benchmark of the gauge-equivariant network (geodesic_nets.nn.gauge) on one CPU thread.

For each size: forward and forward+backward time (median over repeats; wall clock and the
process CPU time, which is what to read on a shared, loaded machine) and the peak
resident memory added by a forward+backward (each case runs in a fresh subprocess, so the
``ru_maxrss`` high-water mark is its own). Network: ``GaugeEquivariantNet`` with 16 scalar
inputs, hidden type orders 0..2 with 16 multiplicities each (80 channels), regular nonlinearity
(N = 11 samples), float32.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/layers_gauge.py [--layers 4] [--repeats 5]
        [--sizes 5000 20000 100000] [--batch 8x5000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _torus_for(n_verts: int):
    from geodesic_nets import primitives

    n_minor = max(8, int(round((n_verts / 2) ** 0.5)))
    n_major = max(8, int(round(n_verts / n_minor)))
    return primitives.torus(n_major, n_minor)


def _case(n_meshes: int, n_verts: int, layers: int, repeats: int, nonlinearity: str) -> dict:
    import torch

    from geodesic_nets import compute_operators
    from geodesic_nets.batch import MeshBatch
    from geodesic_nets.nn.gauge import FieldType, GaugeEquivariantNet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ops = compute_operators(_torus_for(n_verts), k_eig=4)
    batch = MeshBatch.from_operators([ops] * n_meshes, dtype=torch.float32)
    x = torch.randn(batch.total_verts, 16)
    net = GaugeEquivariantNet(
        FieldType.scalars(16), FieldType.regular(2, 16), 8, n_layers=layers, outputs="vertices", nonlinearity=nonlinearity
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fwd, fb, fwd_cpu, fb_cpu = [], [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            net(x, batch)
        fwd.append(time.perf_counter() - t0)
        fwd_cpu.append(time.process_time() - c0)
    for _ in range(repeats):
        net.zero_grad(set_to_none=True)
        t0, c0 = time.perf_counter(), time.process_time()
        net(x, batch).square().mean().backward()
        fb.append(time.perf_counter() - t0)
        fb_cpu.append(time.process_time() - c0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(
        V=batch.total_verts,
        E=int(batch.edge_src.shape[0]),
        meshes=n_meshes,
        fwd=statistics.median(fwd),
        fwd_bwd=statistics.median(fb),
        fwd_cpu=statistics.median(fwd_cpu),
        fwd_bwd_cpu=statistics.median(fb_cpu),
        peak_mb=(rss1 - rss0) / 1024.0,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sizes", type=int, nargs="*", default=[5000, 20000, 100000])
    p.add_argument("--batch", default="8x5000", help="BxV: a batch of B meshes of V vertices ('' to skip)")
    p.add_argument("--nonlinearity", choices=["regular", "norm"], default="regular")
    p.add_argument("--case", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.case:
        b, v = (int(t) for t in a.case.split("x"))
        print(json.dumps(_case(b, v, a.layers, a.repeats, a.nonlinearity)))
        return
    cases = [(1, v) for v in a.sizes]
    if a.batch:
        b, v = (int(t) for t in a.batch.split("x"))
        cases.append((b, v))
    print(f"GaugeEquivariantNet, {a.layers} layers, types 16x(0,1,2) = 80 channels, {a.nonlinearity} nonlinearity, float32, 1 thread")
    print(f"{'meshes x V':>12} {'V total':>9} {'E':>9} {'fwd wall/cpu [s]':>17} {'fwd+bwd wall/cpu [s]':>21} {'peak [MB]':>10}")
    for b, v in cases:
        cmd = [sys.executable, __file__, "--case", f"{b}x{v}", "--layers", str(a.layers), "--repeats", str(a.repeats),
               "--nonlinearity", a.nonlinearity]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        fwd = f"{r['fwd']:.3f} / {r['fwd_cpu']:.3f}"
        fb = f"{r['fwd_bwd']:.3f} / {r['fwd_bwd_cpu']:.3f}"
        print(f"{f'{b} x {v}':>12} {r['V']:>9} {r['E']:>9} {fwd:>17} {fb:>21} {r['peak_mb']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
