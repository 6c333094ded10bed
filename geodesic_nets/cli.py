"""The ``geodesic-nets`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from .errors import GeodesicNetsError

__all__ = ["main", "build_parser"]


def _cmd_info(args: argparse.Namespace) -> int:
    from .io import inspect

    report = inspect(args.file)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return 0


def _cmd_precompute(args: argparse.Namespace) -> int:
    from .precompute import precompute_files
    from .settings import OperatorSettings

    settings = OperatorSettings(k_eig=args.k_eig, laplacian=args.laplacian, n_neighbors=args.n_neighbors,
                                patch_size=args.patch_size)
    results = precompute_files(args.inputs, cache_dir=args.cache, settings=settings, jobs=args.jobs,
                               progress=not args.quiet)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"FAILED {r.path}: {r.error}", file=sys.stderr)
    done = len(results) - len(failed)
    print(f"precomputed {done} of {len(results)} files into {args.cache}"
          + (f" ({len(failed)} failed)" if failed else ""))
    return 0 if done or not results else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(k_eig=args.k_eig, out_dir=args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geodesic-nets", description="Geometric deep learning on surfaces.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="validation report of a mesh or point cloud file")
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.set_defaults(func=_cmd_info)

    pre = sub.add_parser("precompute", help="compute and cache operators of many files in parallel")
    pre.add_argument("inputs", nargs="+", help="mesh or point cloud files")
    pre.add_argument("--cache", required=True, help="cache directory")
    pre.add_argument("--k-eig", type=int, default=128)
    pre.add_argument("--laplacian", choices=["cotan", "robust"], default="cotan")
    pre.add_argument("--n-neighbors", type=int, default=30)
    pre.add_argument("--patch-size", type=int, default=0, help="geodesic patch size (0: no patches)")
    pre.add_argument("--jobs", type=int, default=1, help="worker processes")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
    pre.set_defaults(func=_cmd_precompute)

    demo = sub.add_parser("demo", help="run the geometry pipeline on embedded generated meshes")
    demo.add_argument("--k-eig", type=int, default=64)
    demo.add_argument("--out", default=None, help="directory for metrics.json and the generated meshes")
    demo.set_defaults(func=_cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except GeodesicNetsError as exc:
        print(f"geodesic-nets: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # invalid option values
        print(f"geodesic-nets: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
