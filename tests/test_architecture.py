"""The package's layers import one way, with no cycles, as docs/architecture.md describes.

The import graph is read from the source (``ast``), counting imports inside functions too (a lazy
import is still a dependency); only imports under ``if TYPE_CHECKING:`` are left out.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "geodesic_nets"
DOC = PKG.parent / "docs" / "architecture.md"

#: Lowest layer first. A module may import modules of its own component and of lower layers;
#: two components of one layer are independent of each other. Mirrors docs/architecture.md.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer)
    for layer in (
        {"errors", "atomic"},
        {"settings", "cache", "version", "validation"},
        {"surface"},
        {"io", "geometry"},
        {"shapes"},
        {"operators", "primitives"},
        {"batch", "precompute"},
        {"nn", "data", "pyg"},
        {"tasks", "testing", "viz"},
        {"demo"},
        {"cli", "<root>"},
        {"__main__"},
    )
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


@lru_cache(maxsize=1)
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the package modules it imports (a name imported from a package maps to its
    submodule when there is one, else to the package)."""
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, frozenset[str]] = {}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("geodesic_nets"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("geodesic_nets"):
                    continue
                for a in node.names:
                    deps.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)
        graph[mod] = frozenset(d if d in modules else d.rsplit(".", 1)[0] for d in deps) - {mod}
    return graph


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _layer(component: str) -> int:
    for i, layer in enumerate(LAYERS):
        if component in layer:
            return i
    raise AssertionError(f"component {component!r} has no layer: add it to LAYERS and docs/architecture.md")


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_document_exists_and_names_every_component():
    text = DOC.read_text()
    for comp in {_component(m) for m in import_graph()} - {"<root>", "__main__"}:
        assert f"`{comp}" in text, f"docs/architecture.md does not place {comp}"


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_imports_run_down_the_layers():
    bad = []
    for mod, deps in import_graph().items():
        src = _component(mod)
        for dep in deps:
            dst = _component(dep)
            if dst == src:
                continue
            if dst == "<root>" or _layer(dst) >= _layer(src):
                bad.append(f"{mod} -> {dep}")
    assert not bad, "imports against the layer order (docs/architecture.md):\n" + "\n".join(sorted(bad))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted((PKG / "geometry").rglob("*.py")), ids=lambda p: p.name)
def test_geometry_is_numpy_only(path):
    bad = {n for n in _imports(path) if n.split(".")[0] == "torch"}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted((PKG / "nn").rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_nn_reads_no_files(path):
    src = path.read_text()
    assert "open(" not in src and "np.load(" not in src and "torch.load(" not in src, f"{path.name} reads files"


def test_version_has_one_home_matching_pyproject():
    import tomllib

    from geodesic_nets.version import __version__

    project = tomllib.loads((PKG.parent / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
