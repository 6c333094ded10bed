"""Benchmark of the gauge-equivariant network (geodesic_nets.nn.gauge) on one CPU thread.

For each size: forward and forward+backward time (median over repeats; wall clock and the
process CPU time, which is what to read on a shared, loaded machine) and the peak
resident memory added by a forward+backward (each case runs in a fresh subprocess, so the
``ru_maxrss`` high-water mark is its own). Network: ``GaugeEquivariantNet`` with 16 scalar
inputs, hidden type orders 0..2 with 16 multiplicities each (80 channels), regular nonlinearity
(N = 11 samples), float32.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/layers_gauge.py [--layers 4] [--repeats 5]
        [--sizes 5000 20000 100000] [--batch 8x5000] [--device cpu|cuda] [--out results.json]
        [--gem-cnn PATH]

``--device cuda`` puts the network, the inputs and the batch's operators on the GPU, synchronizes
before and after every timed call (the "cpu" time is then the host's, waiting included) and adds
"GPU peak [MB]" (``torch.cuda.max_memory_allocated`` over the case, reset after its set-up: the
resident batch and network plus the runs). ``--out FILE`` also writes the rows, the device name
and the command as JSON. Without either option the run and its printed table are as before.

``--gem-cnn PATH`` (default the environment variable ``GEM_CNN_SRC``) names a checkout of
https://github.com/Qualcomm-AI-research/gauge-equivariant-mesh-cnn (the repository, i.e. the folder
holding its ``gem_cnn`` package; it is read from that path at run time, never copied into this
project). Each case then also runs GEM-CNN's own network, in its own fresh process right after
ours: ``layers / 2`` ``GemResNetBlock``s (two ``GemConv``s each, so as many convolutions as ours),
16 channels per order 0..2 (80 channels), regular nonlinearity with 11 samples, 2 radial rings, a
linear head on the order-0 part; inputs 16 scalars, float32, on its own pre-computation
(``compute_normals_edges_from_mesh``, ``SimpleGeometry``, ``GemPrecomp``; not timed, as our
``compute_operators`` is not). Its transforms import ``torch_scatter`` and ``torch_sparse``, which
have no wheel for the torch build here: where they do not import, ``benchmarks/peer_shims`` stands
in (torch's native ``scatter_reduce``; the timed ``GemConv`` uses neither), and the JSON says so.
The rows carry ``impl`` ("ours" or "gem_cnn"); a checkout that does not import is reported on
stderr, in the header and in the JSON (``gem_cnn``), and our rows are measured as before.
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


def gem_cnn_status(path: str | None) -> dict | None:
    """Where a GEM-CNN checkout is and whether it imports: ``None`` when no path is given, else a dict
    with ``src``, ``commit``, ``imports`` (bool), ``stand_ins`` and ``message``."""
    from pathlib import Path

    path = path or os.environ.get("GEM_CNN_SRC")
    if not path:
        return None
    p = Path(path).expanduser().resolve()
    out = {"src": str(p), "commit": None, "imports": False}
    if not (p / "gem_cnn" / "__init__.py").is_file():
        found = "does not exist" if not p.exists() else "holds no gem_cnn package (give the repository)"
        out["message"] = f"GEM-CNN peer skipped: {p} {found}"
        return out
    head = subprocess.run(["git", "-C", str(p), "rev-parse", "HEAD"], check=False, capture_output=True, text=True)
    out["commit"] = head.stdout.strip() or None
    try:
        out["stand_ins"] = _import_gem_cnn(str(p))
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
        out["message"] = f"GEM-CNN peer skipped: importing gem_cnn from {p} failed: {type(exc).__name__}: {exc}"
        return out
    out["imports"] = True
    stand = (f"; torch's native scatter stands in for {', '.join(out['stand_ins'])} in its pre-computation "
             "(benchmarks/peer_shims)") if out["stand_ins"] else ""
    out["message"] = f"GEM-CNN from {p} (commit {out['commit']}) measured in the same run{stand}"
    return out


def _time_network(forward, repeats: int, device: str) -> dict:
    """Median wall and process-CPU seconds of ``forward()`` without gradients and of forward+backward
    (of the mean squared output), ``repeats`` each, and the peak resident memory they added."""
    import torch

    from layers_diffusion import _sync

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fwd, fb, fwd_cpu, fb_cpu = [], [], [], []
    for _ in range(repeats):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            forward()
        _sync(device)
        fwd.append(time.perf_counter() - t0)
        fwd_cpu.append(time.process_time() - c0)
    for _ in range(repeats):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        forward().square().mean().backward()
        _sync(device)
        fb.append(time.perf_counter() - t0)
        fb_cpu.append(time.process_time() - c0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(fwd=statistics.median(fwd), fwd_bwd=statistics.median(fb), fwd_cpu=statistics.median(fwd_cpu),
                fwd_bwd_cpu=statistics.median(fb_cpu), peak_mb=(rss1 - rss0) / 1024.0)


def _case(n_meshes: int, n_verts: int, layers: int, repeats: int, nonlinearity: str, device: str = "cpu") -> dict:
    import torch

    from layers_diffusion import _sync

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
    gpu = device != "cpu"
    if gpu:
        batch, x, net = batch.to(device), x.to(device), net.to(device)
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
    timing = _time_network(lambda: net(x, batch), repeats, device)
    extra = {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20} if gpu else {}
    return dict(V=batch.total_verts, E=int(batch.edge_src.shape[0]), meshes=n_meshes, **timing, **extra)


def _gem_case(src: str, n_meshes: int, n_verts: int, layers: int, repeats: int, device: str = "cpu") -> dict:
    """GEM-CNN's own network on the same torus: ``layers / 2`` ``GemResNetBlock``s (two ``GemConv``s
    each, so as many convolutions as ours), 16 channels per order 0..2, 11 nonlinearity samples,
    2 radial rings, then a linear map of the order-0 part to 8 outputs; its own pre-computation
    (``compute_normals_edges_from_mesh``, ``SimpleGeometry``, ``GemPrecomp``), not timed."""
    import torch
    from torch_geometric.data import Batch, Data

    from layers_diffusion import _sync

    if layers % 2:
        raise SystemExit("--gem-cnn needs an even --layers (GEM-CNN's blocks hold two convolutions)")
    shims = _import_gem_cnn(src)
    from gem_cnn.nn import GemResNetBlock
    from gem_cnn.transform import GemPrecomp, SimpleGeometry, compute_normals_edges_from_mesh

    torch.set_num_threads(1)
    torch.manual_seed(0)
    s = _torus_for(n_verts)
    one = Data(pos=torch.tensor(s.verts, dtype=torch.float32), face=torch.tensor(s.faces.T, dtype=torch.long))
    one = GemPrecomp(n_rings=2, max_order=2)(SimpleGeometry()(compute_normals_edges_from_mesh(one)))
    data = Batch.from_data_list([one] * n_meshes)
    kw = dict(n_rings=2, band_limit=2, num_samples=11)
    blocks = torch.nn.ModuleList([GemResNetBlock(16, 16, 0 if i == 0 else 2, 2, **kw) for i in range(layers // 2)])
    head = torch.nn.Linear(16, 8)
    x = torch.randn(data.num_nodes, 16, 1)
    if device != "cpu":
        data, x, blocks, head = data.to(device), x.to(device), blocks.to(device), head.to(device)
        _sync(device)
        torch.cuda.reset_peak_memory_stats()

    def forward():
        h = x
        for block in blocks:
            h = block(h, data.edge_index, data.precomp, data.connection)
        return head(h[:, :, 0])

    timing = _time_network(forward, repeats, device)
    extra = {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20} if device != "cpu" else {}
    return dict(V=int(data.num_nodes), E=int(data.edge_index.shape[1]), meshes=n_meshes, stand_ins=shims,
                **timing, **extra)


def _import_gem_cnn(src: str) -> list[str]:
    """Put the checkout ``src`` on the path and import ``gem_cnn``; where ``torch_scatter`` or
    ``torch_sparse`` do not import, ``benchmarks/peer_shims`` stands in for them (see its README).
    Returns the names of the stand-ins used."""
    import importlib
    from pathlib import Path

    shims = []
    for mod in ("torch_scatter", "torch_sparse"):
        try:
            importlib.import_module(mod)
        except ImportError:
            shims.append(mod)
    if shims:
        sys.path.insert(0, str(Path(__file__).resolve().parent / "peer_shims"))
    sys.path.insert(0, src)
    for mod in ("gem_cnn", "gem_cnn.nn.gem_res_net_block", "gem_cnn.transform.gem_precomp"):
        importlib.import_module(mod)
    return shims


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sizes", type=int, nargs="*", default=[5000, 20000, 100000])
    p.add_argument("--batch", default="8x5000", help="BxV: a batch of B meshes of V vertices ('' to skip)")
    p.add_argument("--nonlinearity", choices=["regular", "norm"], default="regular")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N: network, inputs and operators")
    p.add_argument("--out", default=None, help="also write the rows, device name and command as JSON here")
    p.add_argument("--gem-cnn", default=None, metavar="PATH",
                   help="a checkout of Qualcomm-AI-research/gauge-equivariant-mesh-cnn (default $GEM_CNN_SRC): "
                        "its own network is measured beside ours, case by case; see the module docstring")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--case-gem", help=argparse.SUPPRESS)
    a = p.parse_args()
    from layers_diffusion import check_device, device_name, write_json

    check_device(p, a.device)
    if a.case:
        b, v = (int(t) for t in a.case.split("x"))
        print(json.dumps(_case(b, v, a.layers, a.repeats, a.nonlinearity, a.device)))
        return
    if a.case_gem:
        b, v = (int(t) for t in a.case_gem.split("x"))
        print(json.dumps(_gem_case(a.gem_cnn or os.environ["GEM_CNN_SRC"], b, v, a.layers, a.repeats, a.device)))
        return
    cases = [(1, v) for v in a.sizes]
    if a.batch:
        b, v = (int(t) for t in a.batch.split("x"))
        cases.append((b, v))
    gpu = a.device != "cpu"
    where = f"{a.device} ({device_name(a.device)})" if gpu else "1 thread"
    header = (f"GaugeEquivariantNet, {a.layers} layers, types 16x(0,1,2) = 80 channels, {a.nonlinearity} nonlinearity, "
              f"float32, {where}")
    gem = gem_cnn_status(a.gem_cnn)
    if gem is not None:
        print(gem["message"], file=sys.stderr)
        header += f"; {gem['message']}"
    print(header)
    print(f"{'meshes x V':>12} {'V total':>9} {'E':>9} {'fwd wall/cpu [s]':>17} {'fwd+bwd wall/cpu [s]':>21} {'peak [MB]':>10}"
          + (f" {'GPU peak [MB]':>14}" if gpu else ""))
    rows = []
    peer = gem is not None and gem["imports"]
    for b, v in cases:
        common = ["--layers", str(a.layers), "--repeats", str(a.repeats), *(["--device", a.device] if gpu else [])]
        r = _worker([sys.executable, __file__, "--case", f"{b}x{v}", "--nonlinearity", a.nonlinearity, *common])
        rows.append({"case": f"{b}x{v}", "impl": "ours", **r})
        _print_row(b, v, r, gpu)
        if peer:
            g = _worker([sys.executable, __file__, "--case-gem", f"{b}x{v}", "--gem-cnn", gem["src"], *common])
            rows.append({"case": f"{b}x{v}", "impl": "gem_cnn", **g})
            _print_row(b, v, g, gpu, label=f"GEM-CNN ({g['fwd_bwd'] / r['fwd_bwd']:.1f}x)")
        if a.out:  # after every case, so that a run cut short keeps what it measured
            write_json(a.out, "layers_gauge", a.device, header, vars(a), rows, {"gem_cnn": gem} if gem else None)


def _worker(cmd: list[str]) -> dict:
    """Run one case in a fresh process (its own peak memory) and return its JSON line."""
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def _print_row(b: int, v: int, r: dict, gpu: bool, label: str = "") -> None:
    fwd = f"{r['fwd']:.3f} / {r['fwd_cpu']:.3f}"
    fb = f"{r['fwd_bwd']:.3f} / {r['fwd_bwd_cpu']:.3f}"
    print(f"{f'{b} x {v}':>12} {r['V']:>9} {r['E']:>9} {fwd:>17} {fb:>21} {r['peak_mb']:>10.0f}"
          + (f" {r['gpu_peak_mb']:>14.0f}" if gpu else "") + (f"  {label}" if label else ""), flush=True)


if __name__ == "__main__":
    main()
