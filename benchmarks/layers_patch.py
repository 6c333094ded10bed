"""Speed and memory of the patch networks (MoNet, GCNN, ACNN) on one CPU thread.

For tori of about 5k, 20k and 100k vertices and a batch of 8 x 5k (patch_size 16), times a
``PatchNet`` forward and forward+backward (median of ``--repeats``; ACNN with its closed-form
kernels, and with the spectral kernels, whose one-off precomputation per mesh is reported too) and the peak memory of one
forward+backward above the resident set before it (each configuration runs in a fresh process so
that ``ru_maxrss`` is its own). When ``torch_geometric`` is importable the same network built from
PyG's ``GMMConv`` on the patch graph (mean aggregation, pseudo-coordinates ``(rho, theta)``) is
timed too, and the same with PyG's ``FeaStConv`` (8 heads) and ``SplineConv`` (which needs the
compiled ``pyg-lib``/``torch_spline_conv``; without them its row says so); otherwise those rows
are skipped.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/layers_patch.py [--sizes 5000 20000 100000] [--repeats 5]
        [--batch 8] [--models monet gcnn ...] [--device cpu|cuda] [--out results.json]

``--device cuda`` puts every network (PyG's included), the inputs and the batch's patch operators on
the GPU, synchronizes before and after every timed call and adds "GPU peak MiB"
(``torch.cuda.max_memory_allocated`` over the timed runs, reset after the warm-up: the resident
batch and network plus the runs). ``--out FILE`` also writes the rows, the device name and the
command as JSON; ``--batch 0`` leaves out the batched configuration. Without these options the
run and its printed table are as before.

Results of ``--repeats 3`` on the 2-core development machine, shared with other jobs (load ~2-5,
so timings are noisy to +-50 %; torch 2.13 CPU, torch_geometric 2.8.1):

    PatchNet width=32 layers=4 in=16 out=8 patch_size=16, float32, 1 thread, median of 3; peak = max RSS during the runs minus RSS before them
    model    config         V         P    fwd ms  fwd+bwd ms  peak MiB
    monet    5k          5000     80000      54.5       183.3      88.7
    gcnn     5k          5000     80000     278.8       856.6     116.6
    pyg_gmm  5k          5000     80000    1053.8      2282.8     580.5
    monet    20k        20000    320000     197.5       801.8     324.2
    gcnn     20k        20000    320000     665.7      2040.1     461.3
    pyg_gmm  20k        20000    320000    2050.2      4713.6    2265.1
    monet    100k       99904   1598464    2121.8      5371.8    1328.3
    gcnn     100k       99904   1598464    4469.5     12657.8    2200.7
    pyg_gmm  100k       99904   1598464   14775.8     49190.7   10843.5
    monet    8x5k       40000    640000     400.2      2046.1     538.6
    gcnn     8x5k       40000    640000    1841.4      4894.8     925.1
    pyg_gmm  8x5k       40000    640000    4900.8     11922.0    4298.3
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from geodesic_nets import AnisotropicSettings, primitives  # noqa: E402
from geodesic_nets.batch import MeshBatch  # noqa: E402
from geodesic_nets.nn.patch import PatchGather, PatchNet  # noqa: E402
from geodesic_nets.operators import compute_operators  # noqa: E402

WIDTH, LAYERS, IN, OUT, PATCH = 32, 4, 16, 8, 16
#: Kernels of the spectral ACNN rows (the kernel layout of the closed-form ACNN: 1 alpha, 2 t, 8 theta).
ANISO = AnisotropicSettings(n_orientations=8, anisotropy=(10.0,), times=(1.0, 2.0), k_eig=96)


def _torus(n: int, seed: int = 0):
    n_minor = max(int(round((n / 2) ** 0.5)), 3)
    return primitives.torus(max(n // n_minor, 3), n_minor, minor_radius=0.3 + 0.01 * seed)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PygNet(torch.nn.Module):
    """Same residual layout as PatchNet with PyG layers on the patch graph.

    ``kind="gmm"``: GMMConv (MoNet, 8 Gaussians on the pseudo-coordinates (rho, theta));
    ``kind="feast"``: FeaStConv (8 heads, soft assignment from feature differences; no
    pseudo-coordinates); ``kind="spline"``: SplineConv (B-spline kernels on (rho, theta / 2 pi + 1/2),
    needs the compiled ``torch_spline_conv`` package).
    """

    def __init__(self, kind: str = "gmm") -> None:
        super().__init__()
        from torch_geometric import nn as gnn

        self.kind = kind
        self.lin_in = torch.nn.Linear(IN, WIDTH)
        if kind == "gmm":
            make = lambda: gnn.GMMConv(WIDTH, WIDTH, dim=2, kernel_size=8)  # noqa: E731
        elif kind == "feast":
            make = lambda: gnn.FeaStConv(WIDTH, WIDTH, heads=8)  # noqa: E731
        else:
            make = lambda: gnn.SplineConv(WIDTH, WIDTH, dim=2, kernel_size=5)  # noqa: E731
        self.layers = torch.nn.ModuleList(make() for _ in range(LAYERS))
        self.lin_out = torch.nn.Linear(WIDTH, OUT)

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        pg = PatchGather.from_batch(batch)
        keep = pg.quadrature > 0
        src = pg.index[keep]
        dst = torch.arange(pg.num_verts, device=pg.index.device)[:, None].expand_as(pg.index)[keep]
        edge_index = torch.stack([src, dst])  # (2, P) neighbour -> centre
        pseudo = torch.stack([pg.rho[keep], pg.theta[keep]], 1)  # (P, 2)
        if self.kind == "spline":  # SplineConv wants pseudo-coordinates in [0, 1]
            rho = pseudo[:, 0] / pseudo[:, 0].max().clamp_min(1e-12)
            pseudo = torch.stack([rho, pseudo[:, 1] / (2 * torch.pi) + 0.5], 1).clamp(0, 1)
        h = torch.relu(self.lin_in(x))
        for layer in self.layers:
            args = (h, edge_index) if self.kind == "feast" else (h, edge_index, pseudo)
            h = h + torch.relu(layer(*args))
        return self.lin_out(h)


def _one(model_name: str, sizes: list[int], repeats: int, device: str = "cpu") -> dict:
    from layers_diffusion import _sync

    torch.set_num_threads(1)
    torch.manual_seed(0)
    spectral = model_name == "acnn_spectral"
    t0 = time.perf_counter()
    members = [compute_operators(_torus(n, i), k_eig=16, patch_size=PATCH, anisotropic=ANISO if spectral else None)
               for i, n in enumerate(sizes)]
    kernel_s = sum(m.timings.get("anisotropic", 0.0) for m in members)
    batch = MeshBatch.from_operators(members, dtype=torch.float32)
    x = torch.randn(batch.total_verts, IN)
    if model_name.startswith("pyg_"):
        net = _PygNet(model_name[4:])
    elif spectral:
        net = PatchNet("acnn", IN, OUT, width=WIDTH, n_layers=LAYERS, layer_kwargs={"spectral": ANISO})
    else:
        net = PatchNet(model_name, IN, OUT, width=WIDTH, n_layers=LAYERS)
    gpu = device != "cpu"
    if gpu:
        batch, x, net = batch.to(device), x.to(device), net.to(device)
    fwd, fb = [], []
    with torch.no_grad():
        net(x, batch)  # warm-up
    if gpu:
        _sync(device)
        torch.cuda.reset_peak_memory_stats()
    base = _rss_bytes()
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        with torch.no_grad():
            net(x, batch)
        _sync(device)
        fwd.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        net(x, batch).square().mean().backward()
        _sync(device)
        fb.append(time.perf_counter() - t0)
        net.zero_grad(set_to_none=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    extra = {"gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20} if gpu else {}
    return dict(
        V=batch.total_verts,
        P=len(batch.patch_center),
        fwd_ms=1e3 * statistics.median(fwd),
        fwd_bwd_ms=1e3 * statistics.median(fb),
        peak_mib=max(peak - base, 0) / 2**20,
        kernel_s=kernel_s,
        **extra,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    ap.add_argument("--batch", type=int, default=8, help="members of the batched configuration (each 5k; 0: none)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", nargs="+", help="subset of the rows (default all available)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N: networks, inputs and operators")
    ap.add_argument("--out", default=None, help="also write the rows, device name and command as JSON here")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from layers_diffusion import check_device, device_name, write_json

    check_device(ap, args.device)
    if args.child:
        model, sizes = args.child
        print(json.dumps(_one(model, [int(s) for s in sizes.split(",")], args.repeats, args.device)))
        return
    try:
        import torch_geometric  # noqa: F401

        models = ["monet", "gcnn", "acnn", "acnn_spectral", "pyg_gmm", "pyg_feast", "pyg_spline"]
    except ImportError:
        models = ["monet", "gcnn", "acnn", "acnn_spectral"]
        print("torch_geometric not importable: skipping the GMMConv comparison")
    if args.models:
        models = [m for m in args.models if m in models]
    configs = [(f"{n / 1000:g}k", [n]) for n in args.sizes]
    if args.batch > 0:
        configs.append((f"{args.batch}x5k", [5000] * args.batch))
    gpu = args.device != "cpu"
    where = f"{args.device} ({device_name(args.device)})" if gpu else "1 thread"
    header = (f"PatchNet width={WIDTH} layers={LAYERS} in={IN} out={OUT} patch_size={PATCH}, float32, {where}, "
              f"median of {args.repeats}; peak = max RSS during the runs minus RSS before them; "
              f"kernels s = precomputing the spectral ACNN kernels ({ANISO}), once per mesh, cached")
    print(header)
    print(f"{'model':14s} {'config':7s} {'V':>8s} {'P':>9s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'peak MiB':>9s} "
          f"{'kernels s':>9s}" + (f" {'GPU peak MiB':>12s}" if gpu else ""))
    rows = []
    for name, sizes in configs:
        for model in models:
            cmd = [sys.executable, __file__, "--repeats", str(args.repeats), "--child", model, ",".join(map(str, sizes)),
                   *(["--device", args.device] if gpu else [])]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                err = res.stderr.strip().splitlines()[-1:]
                print(f"{model:14s} {name:7s} failed: {err}")
                rows.append({"model": model, "config": name, "error": err[0] if err else f"exit {res.returncode}"})
            else:
                r = json.loads(res.stdout.strip().splitlines()[-1])
                rows.append({"model": model, "config": name, **r})
                kern = f"{r['kernel_s']:9.1f}" if model == "acnn_spectral" else f"{'-':>9s}"
                print(f"{model:14s} {name:7s} {r['V']:8d} {r['P']:9d} {r['fwd_ms']:9.1f} {r['fwd_bwd_ms']:11.1f} "
                      f"{r['peak_mib']:9.1f} {kern}" + (f" {r['gpu_peak_mib']:12.1f}" if gpu else ""), flush=True)
            if args.out:  # after every row, so that a run cut short keeps what it measured
                write_json(args.out, "layers_patch", args.device, header, vars(args), rows)


if __name__ == "__main__":
    main()
