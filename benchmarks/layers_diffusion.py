"""Time and peak memory of DiffusionNet (width 128, 4 blocks, k_eig 128) forward and forward+backward.

Usage (one thread, as everywhere on the shared 2-core machines)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/layers_diffusion.py \
        [--sizes 5000 20000 100000] [--batch 8x5000] [--repeats 5] [--diffusion spectral] \
        [--impls ours reference] [--device cpu|cuda] [--out results.json] [--diffusion-net PATH]

Meshes are bumpy tori of about the requested vertex count (``benchmarks/precompute.py``); their
operators are computed once and kept in an operator cache (``--cache``, default a temporary
directory). Timing: one subprocess per configuration loads the operators, builds the batch and
both networks, and takes the median of ``--repeats`` interleaved runs (ours, reference, ours, ...)
of the forward (eval mode, no grad) and of forward + backward (train mode, dropout 0.5, summed
output as loss), so that load from other processes on a shared machine hits both alike. Memory:
a fresh subprocess per implementation runs one forward + backward; "peak MB" is the growth of its
ru_maxrss over its level before that call, i.e. the activations and the autograd graph.

``ours`` is :class:`geodesic_nets.nn.DiffusionNet`; on the CPU with k_eig <= width its blocks run
as one tiled autograd function each (``geodesic_nets/nn/diffusion/block.py``). ``reference`` is the
same network written the straightforward way (see ``_reference_model``), run under the same
conditions for a like-for-like ratio on a shared machine.

``diffusion-net`` (``--diffusion-net PATH``, default the environment variable ``DIFFUSION_NET_SRC``;
skipped when neither is set) is the peer itself: ``diffusion_net.layers.DiffusionNet`` imported at
run time from a checkout of https://github.com/nmwsharp/diffusion-net (the repository or its
``src`` folder; it is not on PyPI and is never copied into this project), built with the same
input/output sizes, ``C_width=128``, ``N_block=4``, its default MLP (``[128, 128]`` hidden, as ours),
gradient features with rotations, ``dropout=True`` (its fixed p = 0.5, before the 2nd and 3rd MLP
layers, as ours at 0.5) and ``diffusion_method='spectral'``. It is fed its own operators
(``diffusion_net.geometry.compute_operators`` on the same meshes, k_eig as ours, computed once per
process outside the timing, all tensors cast to float32). A batch of meshes with equal vertex
counts goes through it as one ``[B, N, C]`` batch (its own batching), otherwise mesh by mesh. It
is timed in the same process, interleaved (ours, diffusion-net, reference, ours, ...), its memory
measured the same way, and the checkout's git commit is written to the JSON. Its
``implicit_dense`` diffusion factors a dense (B, C, V, V) system (12.8 GB at 5k vertices, width
128), so with ``--diffusion implicit`` the peer is skipped with a message. With the peer the
table is followed by a comparison (fwd+bwd, peak MB and parameter counts side by side).

``--device cuda`` puts the networks, the inputs and the operators on the GPU, synchronizes
before and after every timed call, and adds "GPU peak MB" (``torch.cuda.max_memory_allocated``
during the memory case, reset at its start: the resident batch and model plus the forward +
backward) next to the RSS growth. ``--out FILE`` also writes the rows, the device name and the
command as JSON. Without either option the run and its printed table are as before.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _surfaces(spec: str):
    from precompute import bumpy_torus

    if "x" in spec:
        count, size = (int(s) for s in spec.split("x"))
        return [bumpy_torus(size, seed=i) for i in range(count)]
    return [bumpy_torus(int(spec))]


def _reference_model(in_channels: int, out_channels: int, width: int = 128, n_blocks: int = 4):
    """DiffusionNet written the straightforward way (as its reference implementation is organised):
    COO ``torch.sparse.mm`` for the two gradients, per-mesh spectral projections, four real C x C
    linear maps for the complex gradient mixing, ``torch.cat`` + ``nn.Dropout`` MLP."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.time = nn.Parameter(torch.zeros(c))
            self.a_re = nn.Linear(c, c, bias=False)
            self.a_im = nn.Linear(c, c, bias=False)
            self.mlp = nn.Sequential(nn.Linear(3 * c, c), nn.ReLU(), nn.Dropout(0.5), nn.Linear(c, c), nn.ReLU(),
                                     nn.Dropout(0.5), nn.Linear(c, c))

        def forward(self, x, batch):
            with torch.no_grad():
                self.time.data = torch.clamp(self.time, min=1e-8)
            outs = []
            sizes = batch.num_verts.tolist()
            for b, (xb, phi, m) in enumerate(zip(torch.split(x, sizes), torch.split(batch.evecs, sizes),
                                                 torch.split(batch.mass, sizes))):
                coefs = phi.t() @ (xb * m[:, None])
                coefs = coefs * torch.exp(-batch.evals[b][:, None] * self.time[None, :])
                outs.append(phi @ coefs)
            d = torch.cat(outs)
            gx = torch.sparse.mm(batch.gradient_x, d)
            gy = torch.sparse.mm(batch.gradient_y, d)
            bre = self.a_re(gx) - self.a_im(gy)
            bim = self.a_re(gy) + self.a_im(gx)
            f = torch.tanh(gx * bre + gy * bim)
            return x + self.mlp(torch.cat([x, d, f], 1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(in_channels, width)
            self.blocks = nn.ModuleList(Block(width) for _ in range(n_blocks))
            self.last = nn.Linear(width, out_channels)

        def forward(self, x, batch):
            h = self.first(x)
            for blk in self.blocks:
                h = blk(h, batch)
            return self.last(h)

    return Net()


def _diffusionnet_src(path: str | None):
    """The folder holding the ``diffusion_net`` package (repository or ``src`` given), or None."""
    from precompute import diffusionnet_src

    return diffusionnet_src(path)


def _diffusionnet_commit(src) -> str | None:
    head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], check=False, capture_output=True, text=True)
    return head.stdout.strip() or None


def _peer_model(spec: str, k_eig: int, src, in_channels: int, out_channels: int, width: int = 128,
                n_blocks: int = 4, dropout: float = 0.5):
    """DiffusionNet's own network and its own operators for the meshes of ``spec``, as a module
    called like ours (``model(x, batch)``; ``batch`` is ignored, the peer's operators are held)."""
    import torch
    from torch import nn

    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    import diffusion_net

    ops = []
    for s in _surfaces(spec):  # outside the timing
        _frames, mass, L, evals, evecs, gx, gy = diffusion_net.geometry.compute_operators(
            torch.tensor(s.verts, dtype=torch.float64), torch.tensor(s.faces, dtype=torch.int64), k_eig)
        ops.append([t.to(torch.float32) for t in (mass, L, evals, evecs, gx, gy)])
    sizes = [int(o[0].shape[0]) for o in ops]
    stacked = len(ops) > 1 and len(set(sizes)) == 1
    if stacked:  # its own [B, N, C] batching (sparse operators stacked along a batch dimension)
        ops = [[torch.stack([o[i] for o in ops]) for i in range(6)]]

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = diffusion_net.layers.DiffusionNet(
                in_channels, out_channels, C_width=width, N_block=n_blocks, dropout=dropout > 0,
                with_gradient_features=True, with_gradient_rotations=True, diffusion_method="spectral")
            self.ops = ops
            self.batching = "one [B, N, C] batch" if stacked else ("mesh by mesh" if len(sizes) > 1 else "one mesh")

        def _apply(self, fn, *args, **kwargs):  # .to(device) moves the held operators too
            super()._apply(fn, *args, **kwargs)
            self.ops = [[fn(t) for t in o] for o in self.ops]
            return self

        def forward(self, x, batch=None):
            if stacked:
                mass, L, evals, evecs, gx, gy = self.ops[0]
                out = self.net(x.reshape(len(sizes), sizes[0], -1), mass, L=L, evals=evals, evecs=evecs,
                               gradX=gx, gradY=gy)
                return out.reshape(x.shape[0], -1)
            outs = []
            for xb, (mass, L, evals, evecs, gx, gy) in zip(torch.split(x, sizes), self.ops):
                outs.append(self.net(xb, mass, L=L, evals=evals, evecs=evecs, gradX=gx, gradY=gy))
            return torch.cat(outs)

    if dropout not in (0, 0.5):
        print(f"note: DiffusionNet's dropout is fixed at p = 0.5, ours is {dropout}", file=sys.stderr)
    return Peer()


def _sync(device: str) -> None:
    if device != "cpu":
        import torch

        torch.cuda.synchronize()


def check_device(ap: argparse.ArgumentParser, device: str) -> None:
    """Exit with a usage error unless ``device`` is ``cpu``, or ``cuda``/``cuda:N`` with CUDA available."""
    if device == "cpu":
        return
    if device != "cuda" and not (device.startswith("cuda:") and device[5:].isdigit()):
        ap.error(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    import torch

    if not torch.cuda.is_available():
        ap.error(f"--device {device}: torch.cuda.is_available() is False")


def device_name(device: str) -> str:
    """``torch.cuda.get_device_name()`` for a CUDA device, else ``"cpu"``."""
    if device == "cpu":
        return "cpu"
    import torch

    return torch.cuda.get_device_name(torch.device(device))


def _setup(spec: str, cache: str, diffusion: str, k_eig: int, impls: list[str], device: str = "cpu",
           dn_src=None):
    import torch

    from geodesic_nets import compute_operators
    from geodesic_nets.batch import MeshBatch
    from geodesic_nets.nn.diffusion import DiffusionNet

    torch.set_num_threads(1)
    ops = [compute_operators(s, k_eig=k_eig, cache=cache) for s in _surfaces(spec)]
    batch = MeshBatch.from_operators(ops, dtype=torch.float32)
    del ops
    torch.manual_seed(0)
    x = torch.randn(batch.total_verts, 16)
    models = {}
    for impl in impls:
        if impl == "ours":
            models[impl] = DiffusionNet(16, 8, width=128, n_blocks=4, diffusion=diffusion, dropout=0.5)
        elif impl == "diffusion-net":
            models[impl] = _peer_model(spec, k_eig, dn_src, 16, 8)
        else:
            models[impl] = _reference_model(16, 8)
    if device != "cpu":
        batch, x = batch.to(device), x.to(device)
        models = {impl: m.to(device) for impl, m in models.items()}
        _sync(device)
    return batch, x, models


def _runners(model, x, batch):
    import torch

    def fwd() -> None:
        model.eval()
        with torch.no_grad():
            model(x, batch)

    def fwd_bwd() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        model(x, batch).sum().backward()

    return {"fwd": fwd, "fwd_bwd": fwd_bwd}


def _child_memory(spec: str, cache: str, diffusion: str, k_eig: int, impl: str, device: str = "cpu",
                  dn_src=None) -> dict:
    """Peak resident memory of one forward + backward (fresh process, one implementation); on a GPU
    also the peak allocated GPU memory (reset after the set-up, so resident batch + model + the call)."""
    batch, x, models = _setup(spec, cache, diffusion, k_eig, [impl], device, dn_src)
    if device != "cpu":
        import torch

        torch.cuda.reset_peak_memory_stats()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MB (Linux: kB)
    _runners(models[impl], x, batch)["fwd_bwd"]()
    _sync(device)
    out = {"spec": spec, "impl": impl, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - base}
    if device != "cpu":
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _child_time(spec: str, cache: str, repeats: int, diffusion: str, k_eig: int, impls: list[str],
                device: str = "cpu", dn_src=None) -> list[dict]:
    """Medians of interleaved runs (ours, [diffusion-net,] reference, ours, ...): load on a shared
    machine hits all alike."""
    batch, x, models = _setup(spec, cache, diffusion, k_eig, impls, device, dn_src)
    runs = {impl: _runners(m, x, batch) for impl, m in models.items()}
    times: dict[tuple[str, str], list[float]] = {}
    for name in ("fwd_bwd", "fwd"):
        for impl in impls:
            runs[impl][name]()  # warm-up
        for _ in range(repeats):
            for impl in impls:
                _sync(device)
                t0 = time.perf_counter()
                runs[impl][name]()
                _sync(device)
                times.setdefault((impl, name), []).append(time.perf_counter() - t0)
    return [
        {"spec": spec, "V": batch.total_verts, "impl": impl,
         "fwd": statistics.median(times[(impl, "fwd")]), "fwd_bwd": statistics.median(times[(impl, "fwd_bwd")]),
         "params": sum(p.numel() for p in models[impl].parameters()),
         **({"batching": models[impl].batching} if impl == "diffusion-net" else {})}
        for impl in impls
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=["5000", "20000", "100000"])
    ap.add_argument("--batch", nargs="*", default=["8x5000"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--diffusion", default="spectral", choices=["spectral", "implicit"])
    ap.add_argument("--k-eig", type=int, default=128)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--impls", nargs="*", default=["ours", "reference"], choices=["ours", "diffusion-net", "reference"],
                    help="'diffusion-net' is added (after ours) whenever --diffusion-net or $DIFFUSION_NET_SRC is set")
    ap.add_argument("--diffusion-net", default=None, metavar="PATH",
                    help="a checkout of nmwsharp/diffusion-net, the repository or its src folder "
                         "(default $DIFFUSION_NET_SRC; the peer is skipped when neither is set)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N: model, inputs and operators")
    ap.add_argument("--out", default=None, help="also write the rows, device name and command as JSON here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--impl", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cache = args.cache or os.path.join(tempfile.gettempdir(), "geodesic_nets_bench_cache")
    check_device(ap, args.device)
    dn_src = _diffusionnet_src(args.diffusion_net)
    if args.child:
        if args.impl:
            print(json.dumps(_child_memory(args.child, cache, args.diffusion, args.k_eig, args.impl, args.device,
                                           dn_src)))
        else:
            print(json.dumps(_child_time(args.child, cache, args.repeats, args.diffusion, args.k_eig, args.impls,
                                         args.device, dn_src)))
        return
    extra = {}
    if dn_src is not None and args.diffusion != "spectral":
        msg = ("DiffusionNet's implicit_dense diffusion factors a dense (B, C, V, V) system "
               "(12.8 GB at 5k vertices, width 128): the peer is skipped with --diffusion implicit")
        print(f"note: {msg}", file=sys.stderr)
        extra["diffusion_net_skipped"] = msg
        args.impls = [i for i in args.impls if i != "diffusion-net"]
        dn_src = None
    elif dn_src is not None:
        if "diffusion-net" not in args.impls:
            args.impls.insert(1 if "ours" in args.impls else 0, "diffusion-net")
        extra["diffusion_net_src"] = str(dn_src)
        extra["diffusion_net_commit"] = _diffusionnet_commit(dn_src)
        import sklearn  # noqa: F401  (diffusion_net.utils imports it: fail here, before any case)
    elif "diffusion-net" in args.impls:
        ap.error("--impls diffusion-net needs --diffusion-net PATH or $DIFFUSION_NET_SRC")

    from geodesic_nets import compute_operators

    gpu = args.device != "cpu"
    where = f"{args.device} ({device_name(args.device)})" if gpu else "1 thread"
    header = (f"DiffusionNet width 128 x 4 blocks, k_eig {args.k_eig}, {args.diffusion}, float32, {where}, "
              f"median of {args.repeats}")
    if "diffusion-net" in args.impls:
        commit = extra.get("diffusion_net_commit")
        header += f"; diffusion-net = nmwsharp/diffusion-net{' @ ' + commit[:7] if commit else ''}"
    rows = []
    for spec in [*args.sizes, *args.batch]:
        for s in _surfaces(spec):  # fill the cache outside the timed subprocess
            compute_operators(s, k_eig=args.k_eig, cache=cache)
        common = ["--diffusion", args.diffusion, "--k-eig", str(args.k_eig), "--cache", cache]
        if args.device != "cpu":
            common += ["--device", args.device]
        if dn_src is not None:
            common += ["--diffusion-net", str(dn_src)]
        mem = {}
        for impl in args.impls:
            cmd = [sys.executable, __file__, "--child", spec, "--impl", impl, *common]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            mem[impl] = json.loads(res.stdout.strip().splitlines()[-1])
        cmd = [sys.executable, __file__, "--child", spec, "--repeats", str(args.repeats), "--impls", *args.impls, *common]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        for r in json.loads(res.stdout.strip().splitlines()[-1]):
            m = mem[r["impl"]]
            rows.append({**r, "peak_mb": m["peak_mb"], **({"gpu_peak_mb": m["gpu_peak_mb"]} if "gpu_peak_mb" in m else {})})
        if args.out:  # after every case, so that a run cut short keeps what it measured
            write_json(args.out, "layers_diffusion", args.device, header, vars(args), rows, extra)
        print(f"done {spec}", file=sys.stderr)
    print(header)
    print(f"{'mesh':>10} {'V':>8} {'impl':>13} {'fwd s':>8} {'fwd+bwd s':>10} {'peak MB':>9}"
          + (f" {'GPU peak MB':>12}" if gpu else ""))
    for r in rows:
        print(f"{r['spec']:>10} {r['V']:>8} {r['impl']:>13} {r['fwd']:>8.3f} {r['fwd_bwd']:>10.3f} {r['peak_mb']:>9.0f}"
              + (f" {r['gpu_peak_mb']:>12.0f}" if gpu else ""))
    if "diffusion-net" in args.impls:
        _print_comparison(rows, gpu)


def _print_comparison(rows: list[dict], gpu: bool) -> None:
    """Forward + backward, peak memory and parameters of ours, DiffusionNet and the reference side by side."""
    by = {}
    for r in rows:
        by.setdefault((r["spec"], r["V"]), {})[r["impl"]] = r
    impls = [i for i in ("ours", "diffusion-net", "reference") if any(i in d for d in by.values())]
    mem = "gpu_peak_mb" if gpu else "peak_mb"
    print(f"\nforward + backward [s] | {'GPU ' if gpu else ''}peak MB | parameters: " + " / ".join(impls))
    print(f"{'mesh':>10} {'V':>8} {'fwd+bwd s':>22} {'DN/ours':>8} {'peak MB':>18} {'params':>24}")
    for (spec, v), d in by.items():
        t = " / ".join(f"{d[i]['fwd_bwd']:.3f}" if i in d else "-" for i in impls)
        m = " / ".join(f"{d[i][mem]:.0f}" if i in d else "-" for i in impls)
        n = " / ".join(f"{d[i]['params']}" if i in d else "-" for i in impls)
        ratio = (f"{d['diffusion-net']['fwd_bwd'] / d['ours']['fwd_bwd']:.2f}x"
                 if "ours" in d and "diffusion-net" in d else "-")
        print(f"{spec:>10} {v:>8} {t:>22} {ratio:>8} {m:>18} {n:>24}")


def write_json(path: str, benchmark: str, device: str, header: str, args: dict, rows: list[dict],
               extra: dict | None = None) -> None:
    """The rows of a layer benchmark with the device name, versions and command, as JSON at ``path``."""
    import platform

    import torch

    record = {
        "benchmark": benchmark,
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "host": platform.node(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": {k: v for k, v in args.items() if k not in ("child", "impl", "case")},
        "header": header,
        **(extra or {}),
        "rows": rows,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
