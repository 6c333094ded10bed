"""The ``geodesic-nets`` command line.

One module per group of sub-commands, each with a ``register(subparsers)`` function:
:mod:`.geometry` (info, precompute), :mod:`.train` (train, evaluate, predict),
:mod:`.show` (show), :mod:`.show_run` (show RUN_DIR --features, show-map), :mod:`.demo`;
:mod:`.options` holds what the drawing commands share. Imports run one way:
``show -> show_run -> options``.

Exit status: 0 on success, 1 for bad data or a failed run (any other ``GeodesicNetsError``,
:data:`EXIT_FAILURE`), 2 for a usage error (argparse's own, or an ``ArgumentError``: an option
value the package cannot take, :data:`EXIT_USAGE`). Anything else is a bug and keeps its traceback. ``-v`` (debug logging) goes before or after the sub-command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..errors import ArgumentError, GeodesicNetsError
from . import demo, geometry, show, show_run, train

__all__ = ["main", "build_parser", "EXIT_FAILURE", "EXIT_USAGE"]

#: exit status for bad data or a failed run (a GeodesicNetsError)
EXIT_FAILURE = 1
#: exit status for a usage error (argparse's, or an ArgumentError)
EXIT_USAGE = 2

_GROUPS = (geometry, train, show, show_run, demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geodesic-nets", description="Geometric deep learning on surfaces.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.register(sub)
    for command in sub.choices.values():  # -v after the sub-command too (unset there unless given)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log debug messages")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ArgumentError as exc:  # an option value the package cannot take: a usage error, like argparse's
        print(f"geodesic-nets: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GeodesicNetsError as exc:  # bad data, a failed run
        print(f"geodesic-nets: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
