"""The package's layers import one way (see GUIDE.md): geometry never imports torch or nn."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "geodesic_nets"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names.add("." * node.level + mod)
    return names


@pytest.mark.parametrize("path", sorted((PKG / "geometry").glob("*.py")), ids=lambda p: p.name)
def test_geometry_is_numpy_only(path):
    bad = {n for n in _imports(path) if n.split(".")[0] == "torch" or "nn" in n.split(".")}
    assert not bad, f"{path.name} imports {bad}"
    up = {n for n in _imports(path) if n.startswith("..") and not n.startswith("...")}
    allowed = {"..errors", "..surface"}
    assert up <= allowed, f"{path.name} reaches up to {up - allowed}"


@pytest.mark.parametrize("path", sorted((PKG / "io").glob("*.py")), ids=lambda p: p.name)
def test_io_does_not_import_upper_layers(path):
    up = {n for n in _imports(path) if n.startswith("..")}
    bad = {n for n in up if n.split(".")[2:3] and n.split(".")[2] in {"operators", "cache", "nn", "tasks", "cli", "viz"}}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted((PKG / "nn").rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_nn_reads_no_files(path):
    names = _imports(path)
    bad = {n for n in names if n.lstrip(".").split(".")[0] in {"io", "cache", "cli", "tasks", "viz"} and n.startswith(".")}
    bad |= {n for n in names if n in {"geodesic_nets.io", "geodesic_nets.cache"}}
    assert not bad, f"{path.name} imports {bad}"
    src = path.read_text()
    assert "open(" not in src and "np.load(" not in src, f"{path.name} reads files"
