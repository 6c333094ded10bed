"""``geodesic-nets info`` and ``geodesic-nets precompute``: file reports and operator caches."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def _cmd_info(args: argparse.Namespace) -> int:
    from ..io import inspect

    report = inspect(args.file)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return 0


def _cmd_precompute(args: argparse.Namespace) -> int:
    from ..precompute import precompute_files
    from ..settings import AnisotropicSettings, OperatorSettings

    aniso = AnisotropicSettings(n_orientations=args.anisotropic) if args.anisotropic else None
    settings = OperatorSettings(k_eig=args.k_eig, laplacian=args.laplacian, n_neighbors=args.n_neighbors,
                                patch_size=args.patch_size, anisotropic=aniso)
    results = precompute_files(args.inputs, cache_dir=args.cache, settings=settings, jobs=args.jobs,
                               progress=not args.no_progress, normalize=args.normalize, scheduler=args.scheduler)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"FAILED {r.path}: {r.error}", file=sys.stderr)
    done = len(results) - len(failed)
    print(f"precomputed {done} of {len(results)} files into {args.cache}"
          + (f" ({len(failed)} failed)" if failed else ""))
    return 0 if done or not results else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` and ``precompute`` sub-commands to ``sub``."""
    info = sub.add_parser("info", help="validation report of a mesh or point cloud file")
    info.add_argument("file", help="mesh or point cloud file")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.set_defaults(func=_cmd_info)

    pre = sub.add_parser("precompute", help="compute and cache operators of many files in parallel")
    pre.add_argument("inputs", nargs="+", help="mesh or point cloud files")
    pre.add_argument("--cache", required=True, help="cache directory")
    pre.add_argument("--k-eig", type=int, default=128, help="eigenpairs per shape")
    pre.add_argument("--laplacian", choices=["cotan", "robust"], default="cotan", help="Laplacian of meshes")
    pre.add_argument("--n-neighbors", type=int, default=30, help="neighbours per point of point clouds")
    pre.add_argument("--patch-size", type=int, default=0, help="geodesic patch size (0: no patches)")
    pre.add_argument("--anisotropic", type=int, default=0, metavar="N",
                     help="also the spectral ACNN kernels, N orientations (needs --patch-size; 0: none)")
    pre.add_argument("--normalize", action="store_true",
                     help="normalize each shape as the datasets do (centred, unit area), so that training "
                          "with the same --cache finds the entries")
    pre.add_argument("--jobs", type=int, default=1, help="worker processes")
    pre.add_argument("--scheduler", metavar="ADDRESS",
                     help="a Dask distributed scheduler (tcp://host:8786) whose workers do the work instead of "
                          "--jobs local processes; they must see the files and the cache at the same paths")
    pre.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true", help="no progress bar")
    pre.set_defaults(func=_cmd_precompute)
