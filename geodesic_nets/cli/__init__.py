"""The ``geodesic-nets`` command line.

One module per group of sub-commands, each with a ``register(subparsers)`` function:
:mod:`.geometry` (info, precompute), :mod:`.train` (train, evaluate, predict),
:mod:`.show` (show), :mod:`.show_run` (show RUN_DIR --features, show-map), :mod:`.demo`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..errors import GeodesicNetsError
from . import demo, geometry, show, show_run, train

__all__ = ["main", "build_parser"]

_GROUPS = (geometry, train, show, show_run, demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geodesic-nets", description="Geometric deep learning on surfaces.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.register(sub)
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
