"""One error policy (docs/architecture.md): every raise is a GeodesicNetsError; the CLI maps kinds to exit codes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from geodesic_nets import errors
from geodesic_nets.cli import EXIT_FAILURE, EXIT_USAGE, main
from geodesic_nets.errors import ArgumentError, GeodesicNetsError

PKG = Path(__file__).resolve().parents[1] / "geodesic_nets"

#: (module, exception name): raises that are deliberately not GeodesicNetsErrors.
EXEMPT = {
    ("geodesic_nets.testing", "AssertionError"),  # assertion helpers for pytest
    ("geodesic_nets.nn.gauge.testing", "AssertionError"),
    ("geodesic_nets.batch", "AssertionError"),  # an unreachable branch (the registry's Literal)
    ("geodesic_nets", "AttributeError"),  # module __getattr__ protocol
    ("geodesic_nets.cli.options", "argparse.ArgumentTypeError"),  # argparse's own usage errors
    ("geodesic_nets.cli.show", "argparse.ArgumentTypeError"),
    ("geodesic_nets.validation", "error"),  # the caller's class, typed type[GeodesicNetsError]
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _raised_names():
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                yield _module_name(path), ast.unparse(node.exc.func), node.lineno


def test_every_raise_is_a_package_error():
    bad = []
    for mod, name, line in _raised_names():
        if (mod, name) in EXEMPT:
            continue
        module = importlib.import_module(mod)
        cls = getattr(module, name.split(".")[-1], None) or getattr(errors, name, None)
        if not (isinstance(cls, type) and issubclass(cls, GeodesicNetsError)):
            bad.append(f"{mod}:{line} raises {name}")
    assert not bad, "\n".join(bad)


def test_the_scan_sees_raises():
    names = {name for _, name, _ in _raised_names()}
    assert {"ArgumentError", "GeometryError", "MeshFormatError"} <= names


def test_argument_errors_are_also_the_builtin_kinds():
    assert issubclass(ArgumentError, ValueError) and issubclass(ArgumentError, TypeError)
    assert issubclass(errors.IndexOutOfRangeError, IndexError)
    assert issubclass(errors.DependencyError, ImportError)


@pytest.fixture
def command(monkeypatch):
    """Run ``geodesic-nets info X`` with the info command raising the given exception."""
    from geodesic_nets.cli import geometry as cli_geometry

    def run(exc: BaseException) -> int:
        def boom(args):
            raise exc

        monkeypatch.setattr(cli_geometry, "_cmd_info", boom)
        return main(["info", "whatever.obj"])

    return run


def test_cli_exit_codes_follow_the_error_kind(command, capsys):
    assert command(ArgumentError("k_eig must be positive")) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "geodesic-nets: error: k_eig must be positive"
    assert command(errors.GeometryError("mesh.obj: empty mesh")) == EXIT_FAILURE
    assert command(errors.DatasetError("no shapes/ folder")) == EXIT_FAILURE
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        command(ZeroDivisionError("bug"))


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info"])
    assert exc.value.code == EXIT_USAGE
