"""``geodesic-nets demo``: the embedded default job."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(k_eig=args.k_eig, out_dir=args.out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command to ``sub``."""
    demo = sub.add_parser("demo", help="run the geometry pipeline on embedded generated meshes")
    demo.add_argument("--k-eig", type=int, default=64)
    demo.add_argument("--out", default=None, help="directory for metrics.json and the generated meshes")
    demo.set_defaults(func=_cmd_demo)
