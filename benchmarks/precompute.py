"""Time and peak memory of the full operator bundle, beside a straightforward reference pipeline.

Usage (one BLAS thread, as everywhere on the shared 2-core machines)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/precompute.py \
        [--sizes 5000 20000 100000 1000000] [--k 128] [--naive-max 100000] [--repeats 3]

Each (pipeline, size) runs in a fresh subprocess so its peak resident memory (ru_maxrss) is its
own. The meshes are bumpy tori (a torus of revolution pushed along its normals by a seeded smooth
field, so that no symmetry makes the spectrum degenerate) with about the requested vertex count.

* ours: ``geodesic_nets.compute_operators`` (Laplacian and mass, k eigenpairs, frames,
  Levi-Civita connection, tangent gradient).
* diffusionnet: DiffusionNet's own ``diffusion_net.geometry.compute_operators`` (mass, cotan
  Laplacian, eigenpairs by ``eigsh`` shift-invert, frames and the gradient matrices; it has no
  connection), imported from a checkout of https://github.com/nmwsharp/diffusion-net named by
  ``--diffusion-net PATH`` (its ``src`` folder, or the repository) or the environment variable
  ``DIFFUSION_NET_SRC``; it is not on PyPI and is never copied into this project. Skipped when
  neither is given.
* naive: the same quantities written the obvious way: libigl cotan Laplacian and mass,
  ``scipy.sparse.linalg.eigsh(L + eps I, k, M, sigma=eps)`` (as DiffusionNet does), then Python
  loops over vertices for frames and the least-squares gradient and over edges for the transport.

Where the 5k case goes (``compute_operators`` of a 5,000-vertex bumpy torus, k=128: 0.34-0.39 s,
of which the eigenpairs 0.29-0.34 s), from
``OMP_NUM_THREADS=1 python -m cProfile -s tottime benchmarks/precompute.py --worker ours --n 5000
--k 128 --repeats 3`` (2026-12-07): of the eigensolve, the block Krylov method's dense products
(Gram-Schmidt against the basis, Ritz vectors at a restart) 47 %, the right-hand-side solves with
the CHOLMOD factor (cholespy) 17 %, the Ritz extractions (dense eigensolves of the projected
matrix) 15 %, Cholesky-QR of the new blocks 8 %, the factorization 5 %; the Laplacian, frames,
connection and gradient together 0.04-0.05 s.
Before this session the Ritz extraction ran after every block with LAPACK's subset driver and
took 45 % of the solve, and the sign convention's ``evecs**3`` (a ``pow`` call) another 70 ms.

Prints a table and writes the rows as JSON with the versions of the libraries to
``benchmarks/results/precompute.json``. Each process times ``--repeats`` runs (one at 1M
vertices) and reports their median; the pipelines' processes alternate, ``--rounds`` times per
size, and the table gives the median over rounds, with the ratio DiffusionNet / ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

HERE = Path(__file__).resolve().parent


def bumpy_torus(n_verts: int, seed: int = 0):
    """A torus with about ``n_verts`` vertices (aspect 2:1 grid), displaced along its normals."""
    from geodesic_nets import Surface, primitives
    from geodesic_nets.geometry import vertex_normals

    n_minor = max(3, int(round((n_verts / 2) ** 0.5)))
    n_major = max(3, int(round(n_verts / n_minor)))
    t = primitives.torus(n_major, n_minor, 1.0, 0.4)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(12, 3)) * 0.8
    amp = rng.uniform(-0.04, 0.04, 12)
    d2 = ((t.verts[:, None, :] - centers[None]) ** 2).sum(-1)
    bump = (amp[None] * np.exp(-d2 / 0.1)).sum(1)
    n = vertex_normals(t.verts, t.faces)
    return Surface(t.verts + bump[:, None] * n, t.faces, name=f"bumpy_torus({t.num_verts})")


# ------------------------------------------------------------------------- naive reference
def naive_pipeline(verts: np.ndarray, faces: np.ndarray, k: int) -> dict:
    import igl
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    timings = {}
    t0 = time.perf_counter()
    L = -igl.cotmatrix(verts, faces)
    M = igl.massmatrix(verts, faces, igl.MASSMATRIX_TYPE_BARYCENTRIC)
    timings["laplacian"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    eps = 1e-8
    evals, evecs = eigsh(L + eps * sp.identity(L.shape[0]), k=k, M=M, sigma=eps)
    timings["eigen"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    V = len(verts)
    normals = igl.per_vertex_normals(verts, faces)
    adj = igl.adjacency_list(faces)
    bx = np.zeros((V, 3))
    by = np.zeros((V, 3))
    for i in range(V):  # frame: project the first neighbour's edge
        e = verts[adj[i][0]] - verts[i]
        e = e - normals[i] * (e @ normals[i])
        bx[i] = e / np.linalg.norm(e)
        by[i] = np.cross(normals[i], bx[i])
    timings["frames"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    transport = {}
    for i in range(V):  # minimal rotation of the tangent plane along every edge
        for j in adj[i]:
            axis = np.cross(normals[i], normals[j])
            s, c = np.linalg.norm(axis), normals[i] @ normals[j]
            x = bx[i]
            if s > 1e-12:
                a = axis / s
                x = x * c + np.cross(a, x) * s + a * (a @ x) * (1 - c)
            transport[(i, j)] = np.arctan2(x @ by[j], x @ bx[j])
    timings["connection"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows, cols, vals = [], [], []
    for i in range(V):  # least-squares gradient over the one ring, in the tangent plane
        nb = np.asarray(adj[i])
        d = verts[nb] - verts[i]
        A = np.stack([d @ bx[i], d @ by[i]], 1)
        P = np.linalg.pinv(A)  # (2, n)
        w = P[0] + 1j * P[1]
        rows += [i] * (len(nb) + 1)
        cols += list(nb) + [i]
        vals += list(w) + [-w.sum()]
    G = sp.csr_matrix((vals, (rows, cols)), shape=(V, V))
    timings["gradient"] = time.perf_counter() - t0
    assert G.shape == (V, V) and len(transport) > 0
    return timings


def diffusionnet_src(path: str | None) -> Path | None:
    """The folder to put on ``sys.path`` so that ``import diffusion_net`` finds the checkout."""
    path = path or os.environ.get("DIFFUSION_NET_SRC")
    if not path:
        return None
    p = Path(path).expanduser().resolve()
    if (p / "src" / "diffusion_net").is_dir():
        return p / "src"
    if (p / "diffusion_net").is_dir():
        return p
    raise SystemExit(f"no diffusion_net package under {p} (give the repository or its src folder)")


def diffusionnet_pipeline(surface, k: int, src: Path) -> dict:
    sys.path.insert(0, str(src))
    import torch
    from diffusion_net.geometry import compute_operators

    t0 = time.perf_counter()
    compute_operators(torch.tensor(surface.verts), torch.tensor(surface.faces), k)
    return {"all": time.perf_counter() - t0}


def ours_pipeline(surface, k: int) -> dict:
    from geodesic_nets import compute_operators

    return dict(compute_operators(surface, k_eig=k).timings)


def worker(args) -> None:
    surface = bumpy_torus(args.n)
    runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        if args.worker == "ours":
            stages = ours_pipeline(surface, args.k)
        elif args.worker == "diffusionnet":
            stages = diffusionnet_pipeline(surface, args.k, diffusionnet_src(args.diffusion_net))
        else:
            stages = naive_pipeline(surface.verts, surface.faces, args.k)
        runs.append((time.perf_counter() - t0, stages))
    total = statistics.median(r[0] for r in runs)
    stages = {s: statistics.median(r[1][s] for r in runs) for s in runs[0][1]}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"pipeline": args.worker, "verts": surface.num_verts, "seconds": total,
                      "stages": stages, "peak_rss_mb": peak_mb, "repeats": args.repeats}))


def run_one(pipeline: str, n: int, k: int, repeats: int, dn: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", pipeline, "--n", str(n), "--k", str(k), "--repeats", str(repeats)]
    if dn:
        cmd += ["--diffusion-net", dn]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"pipeline": pipeline, "verts": n, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict | None:
    """The run with the median time (lower median), or the first failure."""
    if not runs:
        return None
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000, 1000000])
    p.add_argument("--k", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--naive-max", type=int, default=100000, help="largest size the naive pipeline runs on")
    p.add_argument("--rounds", type=int, default=2, help="alternations of the pipelines' processes per size")
    p.add_argument("--diffusion-net", help="a checkout of nmwsharp/diffusion-net (default $DIFFUSION_NET_SRC)")
    p.add_argument("--worker", choices=["ours", "naive", "diffusionnet"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    dn = diffusionnet_src(args.diffusion_net)
    rows = []
    for n in args.sizes:
        reps = 1 if n >= 500000 else args.repeats
        rounds: dict[str, list[dict]] = {"ours": [], "diffusionnet": []}
        for _ in range(args.rounds if n < 500000 else 1):
            rounds["ours"].append(run_one("ours", n, args.k, reps))
            if dn is not None:
                rounds["diffusionnet"].append(run_one("diffusionnet", n, args.k, reps, str(dn)))
        naive = run_one("naive", n, args.k, 1) if n <= args.naive_max else None
        row = {"size": n, "ours": _median_run(rounds["ours"]), "naive": naive,
               "diffusionnet": _median_run(rounds["diffusionnet"]) if dn is not None else None,
               "rounds": rounds}
        rows.append(row)
        print(f"done {n}", file=sys.stderr, flush=True)

    stage_names = ["laplacian", "eigen", "frames", "connection", "gradient"]
    hdr = f"{'verts':>9} | {'pipeline':8} | {'total s':>8} | " + " | ".join(f"{s[:6]:>7}" for s in stage_names) + f" | {'peak MB':>8}"
    print(f"\nOperator bundle, k={args.k}, one thread; median of {args.repeats} runs (1 run at >= 500k)\n")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        for name in ("ours", "diffusionnet", "naive"):
            res = r[name]
            if res is None:
                print(f"{r['size']:>9} | {name[:8]:8} | skipped")
                continue
            if "error" in res:
                print(f"{res['verts']:>9} | {res['pipeline']:8} | failed: {res['error']}")
                continue
            st = " | ".join(f"{res['stages'].get(s, float('nan')):7.2f}" for s in stage_names)
            print(f"{res['verts']:>9} | {res['pipeline'][:8]:8} | {res['seconds']:8.2f} | {st} | {res['peak_rss_mb']:8.0f}")
        if r["diffusionnet"] and "seconds" in r["diffusionnet"] and "seconds" in r["ours"]:
            ratio = r["diffusionnet"]["seconds"] / r["ours"]["seconds"]
            print(f"{r['size']:>9} | DiffusionNet / ours: {ratio:.2f}x")
    import igl
    import scipy

    meta = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "machine": platform.machine(), "k": args.k, "threads": os.environ.get("OMP_NUM_THREADS")}
    try:
        import geodesic_nets

        meta["geodesic_nets"] = geodesic_nets.__version__
    except ImportError:  # pragma: no cover
        pass
    if dn is not None:
        head = subprocess.run(["git", "-C", str(dn), "rev-parse", "HEAD"], capture_output=True, text=True)
        meta["diffusion_net_commit"] = head.stdout.strip() or None
    out = HERE / "results" / "precompute.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
