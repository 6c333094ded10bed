"""pyproject.toml declares what the package imports, with lower bounds CI can install and test."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

from conftest import load_module_file

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# import name -> distribution name, where they differ
DISTRIBUTION = {"igl": "libigl", "robust_laplacian": "robust-laplacian", "PIL": "pillow"}


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")


def _third_party_imports(package: Path) -> dict[str, str]:
    """Top-level modules imported anywhere in ``package`` (lazy imports included) -> a file importing it."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _lowest_constraints():
    return load_module_file(ROOT / ".ci" / "lowest_constraints.py", "lowest_constraints")


def test_every_imported_package_is_declared():
    declared = {_name(r) for r in PYPROJECT["dependencies"]}
    for extra in PYPROJECT["optional-dependencies"].values():
        declared |= {_name(r) for r in extra}
    imports = _third_party_imports(ROOT / "geodesic_nets")
    assert "torch" in imports and "igl" in imports  # the scan sees the package's imports
    missing = {top: where for top, where in imports.items()
               if DISTRIBUTION.get(top, top).lower().replace("_", "-") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_lowest_constraints_pin_every_requirement_at_its_lower_bound():
    lowest = _lowest_constraints()
    pins = dict(line.split("==") for line in lowest.lowest_pins(ROOT / "pyproject.toml", ["dev", "viz"]))
    wanted = list(PYPROJECT["dependencies"]) + PYPROJECT["optional-dependencies"]["dev"] \
        + PYPROJECT["optional-dependencies"]["viz"]
    for requirement in wanted:
        bound = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", requirement)
        assert bound, f"{requirement!r} has no lower bound"
        assert pins[_name(requirement)] == bound.group(1)


def test_lowest_constraints_pin_only_the_extras_asked_for(tmp_path):
    lowest = _lowest_constraints()
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\ndependencies = ["a>=1.0"]\n[project.optional-dependencies]\n'
                 'dev = ["b>=2.0"]\nother = ["c>=3.0"]\n')
    assert lowest.lowest_pins(p, ["dev"]) == ["a==1.0", "b==2.0"]


def test_lowest_constraints_refuse_a_requirement_without_lower_bound(tmp_path):
    lowest = _lowest_constraints()
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\ndependencies = ["numpy"]\n[project.optional-dependencies]\n')
    try:
        lowest.lowest_pins(bad, [])
    except SystemExit as exc:
        assert "no '>=' lower bound" in str(exc)
    else:
        raise AssertionError("a requirement without a lower bound was accepted")


def test_lowest_constraints_follow_python_version_markers(tmp_path):
    lowest = _lowest_constraints()
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\ndependencies = ["a>=1.0; python_version < \'3.0\'", '
                 '"b>=2.0; python_version >= \'3.0\'"]\n[project.optional-dependencies]\n')
    assert lowest.lowest_pins(p, []) == ["b==2.0"]
