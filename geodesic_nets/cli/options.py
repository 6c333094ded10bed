"""Pieces shared by the commands: option types (``KEY=VALUE`` lists, positive integers) and,
for the drawing commands (:mod:`.show`, :mod:`.show_run`), the ``--out`` check and showing or
writing the result."""

from __future__ import annotations

import argparse
import json

from ..errors import ArgumentError

__all__ = ["VIEWS", "key_values", "positive_int", "check_out", "finish"]

#: camera directions of ``--view``
VIEWS = ("iso", "xy", "xz", "yz", "-xy", "-xz", "-yz")


def key_values(items: list[str] | None) -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON when they are)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ArgumentError(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def positive_int(text: str) -> int:
    """argparse type: a positive integer (a number of pixels, frames, eigenpairs)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer number of pixels, got {text!r}")
    return value


def check_out(out: str | None) -> None:
    """``--out`` names a PNG, or there is a display to open a window on (ValueError otherwise)."""
    from .. import viz

    if out is None and not viz.has_display():
        raise ArgumentError("there is no display to open a window on (DISPLAY is not set): "
                         "pass --out FILE.png to write a picture instead")
    if out is not None and not str(out).lower().endswith(".png"):
        raise ArgumentError(f"--out must name a .png file, got {out!r}")


def finish(result, out: str | None, title: str) -> int:
    """Open the plot's window (no ``--out``) or report the file written; exit status 0."""
    if out is None:
        result.show(title=title)
    else:
        print(f"wrote {result}")
    return 0
