"""``geodesic-nets demo``: the embedded default job."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(k_eig=args.k_eig, out_dir=args.out, train=not args.geometry_only, epochs=args.epochs,
             pictures=not args.no_pictures)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command to ``sub``."""
    demo = sub.add_parser("demo", help="geometry, training and pictures on embedded generated meshes")
    demo.add_argument("--k-eig", type=int, default=64, help="eigenpairs per shape")
    demo.add_argument("--out", default=None, help="output directory (default data/demo)")
    demo.add_argument("--epochs", type=int, default=None, help="epochs of each training")
    demo.add_argument("--geometry-only", action="store_true", help="skip the training part")
    demo.add_argument("--no-pictures", action="store_true", help="do not render PNGs")
    demo.set_defaults(func=_cmd_demo)
