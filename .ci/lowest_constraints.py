"""Print pip constraints that pin every declared dependency to its lower bound.

Reads ``pyproject.toml`` (the runtime dependencies and the extras named on the command line) and
writes one ``name==version`` line for each ``name>=version`` requirement, so that CI can install
the oldest versions the package claims to support and run the whole test suite against them.
Requirements whose environment marker does not apply to this Python are skipped, as pip would.

Usage: python3 .ci/lowest_constraints.py dev viz > lowest.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(?:;\s*(.+))?$")


def _marker_applies(marker: str | None) -> bool:
    if not marker:
        return True
    m = re.fullmatch(r"python_version\s*(<|<=|>|>=|==)\s*'(\d+)\.(\d+)'", marker.strip())
    if m is None:
        raise SystemExit(f"lowest_constraints: cannot evaluate the marker {marker!r}")
    here, there = sys.version_info[:2], (int(m.group(2)), int(m.group(3)))
    return {"<": here < there, "<=": here <= there, ">": here > there, ">=": here >= there,
            "==": here == there}[m.group(1)]


def lowest_pins(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for req in requirements:
        m = _REQUIREMENT.match(req)
        if m is None:
            raise SystemExit(f"lowest_constraints: {req!r} has no '>=' lower bound")
        name, version, marker = m.groups()
        if _marker_applies(marker):
            pins[name.lower().replace("_", "-")] = version
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(lowest_pins(root / "pyproject.toml", sys.argv[1:])))
