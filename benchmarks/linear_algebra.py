"""The package's sparse Cholesky and eigensolver against the libraries that could replace them.

Usage (one thread, as everywhere on the shared 2-core machines)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/linear_algebra.py \\
        [--sizes 5000 20000 100000 1000000] [--k 128] [--repeats 3] [--eig-max 100000]

On the bumpy tori of ``benchmarks/precompute.py`` (cotan Laplacian ``L``, lumped mass ``M``), with
the shift the package's eigensolver uses (``sigma = -0.05 * 4 pi k / area``):

* **factor**: factorize ``L - sigma M`` and solve for a block of 16 right-hand sides (the block
  eigensolver's unit of work), for each backend: the package's ``SparseCholesky`` (nested
  dissection, supernodal-free), CHOLMOD through ``scikit-sparse`` (supernodal; needs SuiteSparse),
  CHOLMOD-free ``cholespy`` (a wheel, no compiler), and SciPy's SuperLU (``splu``, the fallback).
* **eig**: the ``k`` smallest eigenpairs of ``(L, M)`` to the package's tolerance: the package's
  block Krylov-Schur solver on each factorization backend, SciPy ``eigsh`` in shift-invert mode
  with a CHOLMOD solve as ``OPinv`` (what DiffusionNet does, with SuperLU), and ``lobpcg``
  preconditioned by the same CHOLMOD solve (sizes up to ``--eig-max``).

Backends whose package is not installed are reported as missing. Every row is a median over
``--repeats`` runs (one at 1M vertices); backends are interleaved inside each repeat. Eigenvalues of
every backend are compared with the package's (max relative difference). Writes
``benchmarks/results/linear_algebra.json`` with the versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from precompute import bumpy_torus  # noqa: E402

RHS = 16


def _cholmod_factor(A: sp.csc_matrix) -> Callable[[np.ndarray], np.ndarray]:
    from sksparse.cholmod import cholesky

    f = cholesky(A)
    return f.solve_A


def _cholespy_factor(A: sp.csc_matrix) -> Callable[[np.ndarray], np.ndarray]:
    import torch
    from cholespy import CholeskySolverD, MatrixType

    c = A.tocsc()
    solver = CholeskySolverD(
        A.shape[0], torch.as_tensor(c.indptr.astype(np.int32)), torch.as_tensor(c.indices.astype(np.int32)),
        torch.as_tensor(c.data), MatrixType.CSC,
    )

    def solve(b: np.ndarray) -> np.ndarray:
        bt = torch.as_tensor(np.ascontiguousarray(b))
        x = torch.zeros_like(bt)
        solver.solve(bt, x)
        return x.numpy()

    return solve


def _ours_factor(A: sp.csc_matrix) -> Callable[[np.ndarray], np.ndarray]:
    from geodesic_nets.geometry.sparse_cholesky import SparseCholesky

    return SparseCholesky(A).solve


def _superlu_factor(A: sp.csc_matrix) -> Callable[[np.ndarray], np.ndarray]:
    lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A")
    return lu.solve


FACTORS: dict[str, Callable[[sp.csc_matrix], Callable]] = {
    "ours": _ours_factor,
    "cholmod": _cholmod_factor,
    "cholespy": _cholespy_factor,
    "superlu": _superlu_factor,
}


def available(name: str) -> bool:
    try:
        if name == "cholmod":
            import sksparse.cholmod  # noqa: F401
        elif name == "cholespy":
            import cholespy  # noqa: F401
        return True
    except ImportError:
        return False


def pencil(n: int, k: int) -> tuple[sp.csr_matrix, np.ndarray, float]:
    from geodesic_nets.geometry import laplacian_and_mass

    s = bumpy_torus(n)
    L, M = laplacian_and_mass(s.verts, s.faces)
    mass = M.diagonal()
    sigma = -0.05 * 4 * np.pi * k / mass.sum()
    return L.tocsr(), mass, sigma


def time_factor(name: str, A: sp.csc_matrix, b: np.ndarray) -> dict[str, Any]:
    t0 = time.perf_counter()
    solve = FACTORS[name](A)
    t1 = time.perf_counter()
    x = solve(b)
    t2 = time.perf_counter()
    res = np.linalg.norm(A @ x - b) / np.linalg.norm(b)
    return {"factor_s": t1 - t0, "solve16_s": t2 - t1, "residual": float(res)}


def eig_block(L, mass, k, backend: str) -> tuple[np.ndarray, int]:
    from geodesic_nets.geometry.spectral import EigenSolver

    # the package's own choices by name; scikit-sparse's CHOLMOD is not one of them: plugged in
    choice = {"ours": "builtin", "cholmod": "builtin"}.get(backend, backend)
    es = EigenSolver(L, mass, factorization=choice)
    if backend == "cholmod":
        es._set_sigma(k)
        shifted = (es.L - es.sigma * sp.diags(es.mass)).tocsc()
        solve = FACTORS[backend](shifted)

        class _Plug:
            def solve(self, b):
                return solve(np.asarray(b, dtype=np.float64))

        es._chol = _Plug()
    evals, _ = es.solve(k, method="block")
    return evals, es.num_solves


def _counted_shifted_solve(L, mass, k, backend: str):
    """(sigma, a solve with L - sigma M by ``backend`` that counts right-hand sides, the count)."""
    sigma = -0.05 * 4 * np.pi * k / mass.sum()
    solve = FACTORS[backend]((L - sigma * sp.diags(mass)).tocsc())
    count = [0]

    def counted(x):
        count[0] += x.shape[1] if x.ndim == 2 else 1
        return solve(x)

    return sigma, counted, count


def eig_eigsh_cholmod(L, mass, k, backend: str = "cholmod") -> tuple[np.ndarray, int]:
    n = L.shape[0]
    sigma, solve, count = _counted_shifted_solve(L, mass, k, backend)
    op = spla.LinearOperator((n, n), matvec=solve, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    evals = spla.eigsh(L, k=k, M=sp.diags(mass).tocsc(), sigma=sigma, OPinv=op, tol=1e-8, v0=v0,
                       return_eigenvectors=False)
    return np.sort(evals), count[0]


def eig_lobpcg_cholmod(L, mass, k, backend: str = "cholmod") -> tuple[np.ndarray, int]:
    n = L.shape[0]
    _, prec, count = _counted_shifted_solve(L, mass, k, backend)
    X = np.random.default_rng(0).standard_normal((n, k + 16))
    evals, _ = spla.lobpcg(L, X, B=sp.diags(mass).tocsr(), M=spla.LinearOperator((n, n), matmat=prec, matvec=prec),
                           largest=False, tol=1e-8, maxiter=200)
    return np.sort(evals)[:k], count[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000, 1000000])
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eig-max", type=int, default=100000, help="largest size for the eigensolver comparison")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "linear_algebra.json")
    args = ap.parse_args()
    backends = [b for b in FACTORS if available(b)]
    missing = [b for b in FACTORS if b not in backends]
    rows: list[dict] = []
    for n in args.sizes:
        L, mass, sigma = pencil(n, args.k)
        A = (L - sigma * sp.diags(mass)).tocsc()
        b = np.random.default_rng(1).standard_normal((A.shape[0], RHS))
        reps = 1 if n >= 500000 else args.repeats
        runs: dict[str, list[dict]] = {bk: [] for bk in backends}
        for _ in range(reps):
            for bk in backends:
                runs[bk].append(time_factor(bk, A, b))
        for bk in backends:
            row = {"kind": "factor", "V": A.shape[0], "backend": bk}
            for key in ("factor_s", "solve16_s", "residual"):
                row[key] = statistics.median(r[key] for r in runs[bk])
            rows.append(row)
            print(f"factor V={row['V']:>8} {bk:>9}: factor {row['factor_s']:.3f} s, 16 solves {row['solve16_s']:.4f} s,"
                  f" residual {row['residual']:.1e}", flush=True)
        if n > args.eig_max:
            continue
        methods: list[tuple[str, Callable]] = [(f"block+{bk}", lambda L, m, k, bk=bk: eig_block(L, m, k, bk))
                                               for bk in backends]
        if "cholmod" in backends:
            methods += [("eigsh+cholmod", eig_eigsh_cholmod)]
            if n <= 5000:  # 20-40x slower than the rest (27 s at 5k, 75 s at 20k on the first runs)
                methods += [("lobpcg+cholmod", eig_lobpcg_cholmod)]
        times: dict[str, list[float]] = {m: [] for m, _ in methods}
        results: dict[str, tuple] = {}
        for _ in range(reps):
            for name, fn in methods:
                t0 = time.perf_counter()
                results[name] = fn(L, mass, args.k)
                times[name].append(time.perf_counter() - t0)
        ref = results["block+ours"][0]
        for name, _ in methods:
            ev, solves = results[name]
            # max |difference| relative to the largest eigenvalue (the first is ~0, so per-value
            # relative differences would be noise)
            err = float(np.max(np.abs(ev - ref)) / np.abs(ref).max())
            row = {"kind": "eig", "V": A.shape[0], "backend": name, "seconds": statistics.median(times[name]),
                   "solves": int(solves), "max_eval_diff_over_lambda_max": err}
            rows.append(row)
            print(f"eig    V={row['V']:>8} {name:>15}: {row['seconds']:.3f} s, {solves} solves, eval diff {err:.1e} of lambda_max",
                  flush=True)
    versions = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}
    from importlib.metadata import PackageNotFoundError, version

    # the installed distributions' versions (cholespy 2.x still says 1.0.0 in its __version__)
    for mod, dist in (("sksparse", "scikit-sparse"), ("cholespy", "cholespy")):
        try:
            versions[mod] = version(dist)
        except PackageNotFoundError:
            versions[mod] = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "k": args.k, "repeats": args.repeats,
                                    "threads": 1, "missing": missing, "versions": versions,
                                    "machine": platform.machine(), "rows": rows}, indent=2))
    print("written", args.out)


if __name__ == "__main__":
    main()
