"""Cost of the spectral ACNN kernels per mesh, stage by stage, beside SciPy's ARPACK eigensolver.

For bumpy tori of about ``--sizes`` vertices (patch_size 16), times the stages of
``anisotropic_heat_kernels`` for one orientation (principal directions once per mesh; per
orientation: the anisotropic Laplacian, its ``k`` smallest eigenpairs, the kernel at every patch
entry) and, as the reference for the dominant stage, the same eigenpairs from
``scipy.sparse.linalg.eigsh`` in shift-invert mode (``sigma = -1e-6 * mean diag``, the usual
recipe of spectral shape-analysis code). Also checks that both eigensolvers agree. Medians of
``--repeats``; one thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/anisotropic.py [--sizes 5000 20000] [--k 96] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import eigsh  # noqa: E402

from geodesic_nets import primitives  # noqa: E402
from geodesic_nets.geometry import (  # noqa: E402
    anisotropic_laplacian,
    eigen_basis,
    face_principal_directions,
    geodesic_patches,
    laplacian_and_mass,
    levi_civita_connection,
    vertex_frames,
)

PATCH, ALPHA, N_ORIENT = 16, 10.0, 8


def _torus(n: int):
    n_minor = max(int(round((n / 2) ** 0.5)), 3)
    s = primitives.torus(max(n // n_minor, 3), n_minor, minor_radius=0.3)
    rng = np.random.default_rng(0)  # small bumps: generic principal directions, no exact symmetry
    return s.verts * (1 + 0.01 * rng.standard_normal((s.num_verts, 1))), s.faces


def _median(fn, repeats):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--k", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"spectral ACNN kernels: alpha={ALPHA}, k={args.k}, patch_size={PATCH}, {N_ORIENT} orientations per mesh; "
          f"seconds, median of {args.repeats}, one thread")
    print(f"{'V':>7s} {'directions':>10s} {'laplacian':>9s} {'eigen ours':>10s} {'eigen eigsh':>11s} "
          f"{'kernels':>8s} {'per mesh ours':>13s} {'per mesh eigsh':>14s} {'max |dlambda|/lambda':>20s}")
    for n in args.sizes:
        v, f = _torus(n)
        _, M = laplacian_and_mass(v, f)
        mass = np.asarray(M.diagonal())
        frames = vertex_frames(v, f)
        patches = geodesic_patches(v, f, frames, levi_civita_connection(v, f, frames), k=PATCH)
        d, t_dir = _median(lambda: face_principal_directions(v, f), args.repeats)
        L, t_lap = _median(lambda: anisotropic_laplacian(v, f, d, anisotropy=ALPHA, angle=0.3), args.repeats)
        (ev, phi), t_ours = _median(lambda: eigen_basis(L, mass, args.k), args.repeats)
        sigma = -1e-6 * float(L.diagonal().mean())
        (ev_ref, _), t_ref = _median(lambda: eigsh(L.tocsc(), k=args.k, M=sp.diags(mass).tocsc(), sigma=sigma,
                                                   which="LM"), args.repeats)
        ev_ref = np.sort(ev_ref)
        c, q = patches.center, patches.neighbor
        decay = np.exp(-np.outer(ev, [1e-3, 2e-3]))
        _, t_ker = _median(lambda: (phi[c] * phi[q]) @ decay, args.repeats)
        err = float(np.max(np.abs(ev[1:] - ev_ref[1:]) / ev_ref[1:]))
        ours = t_dir + N_ORIENT * (t_lap + t_ours + t_ker)
        ref = t_dir + N_ORIENT * (t_lap + t_ref + t_ker)
        print(f"{len(v):7d} {t_dir:10.3f} {t_lap:9.3f} {t_ours:10.3f} {t_ref:11.3f} {t_ker:8.3f} {ours:13.2f} "
              f"{ref:14.2f} {err:20.1e}", flush=True)


if __name__ == "__main__":
    main()
