"""docs/operators.md, layers.md, tasks.md and cli.md: their code runs, their TOML is a valid
experiment, their option lists are the commands' own, and their example commands parse."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from geodesic_nets.cli import build_parser
from geodesic_nets.tasks import ExperimentConfig

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = ("operators.md", "layers.md", "tasks.md", "cli.md")


def _fenced(page: str) -> list[tuple[str, str]]:
    """``(language, text)`` of every fenced block of a page, in order."""
    blocks, lang, lines = [], None, []
    for line in (DOCS / page).read_text().splitlines(keepends=True):
        if line.startswith("```"):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, "".join(lines)))
                lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, f"{page}: unclosed code block"
    return blocks


def _blocks(page: str, lang: str = "python") -> list[str]:
    return [text for tag, text in _fenced(page) if tag == lang]


def _plain_blocks(page: str) -> list[str]:
    """Fenced blocks without a language tag."""
    return _blocks(page, "")


@pytest.mark.parametrize("page", ["operators.md", "layers.md", "tasks.md"])
def test_code_blocks_run(page, tmp_path, monkeypatch, capsys):
    """Every ```python block of the page runs, in order, in one namespace (files go to tmp)."""
    blocks = _blocks(page)
    assert blocks
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for block in blocks:
        exec(compile(block, page, "exec"), ns)
    out = capsys.readouterr().out
    if page == "operators.md":
        assert len(list((tmp_path / "operator_cache").glob("*.npz"))) == 1  # stored once, read back once
        assert ns["batch"].num_meshes == 3 and "642 32 (642, 32)" in out
    elif page == "layers.md":
        assert ns["err"] < 1e-10
        assert "torch.Size([3, 5])" in out and "562 torch.Size([562, 8])" in out
    else:
        metrics = json.loads((tmp_path / "runs" / "classifier" / "metrics.json").read_text())
        assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]  # two epochs, then one resumed
        assert metrics["evaluation"]["accuracy"] == ns["again"]["accuracy"]
        assert ns["errors"].max() == 0.0 and tuple(ns["C40"].shape) == (40, 40)


def test_printed_shapes_in_comments_are_right(tmp_path, monkeypatch, capsys):
    """Comments of the form ``# torch.Size([...])`` next to a print in layers.md match the output."""
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    expected, printed = [], []
    for block in _blocks("layers.md"):
        exec(compile(block, "layers.md", "exec"), ns)
        printed += capsys.readouterr().out.splitlines()
        for line in block.splitlines():
            m = re.match(r"\s*print\(.*\)\s+# (torch\.Size\(\[.*?\]\)|\d+ torch\.Size\(\[.*?\]\))", line)
            if m:
                expected.append(m.group(1))
    assert expected and all(e in printed for e in expected)


def test_toml_layout_is_a_valid_experiment(tmp_path):
    (toml,) = _blocks("tasks.md", "toml")
    path = tmp_path / "experiment.toml"
    path.write_text(toml)
    cfg = ExperimentConfig.from_toml(path)
    assert cfg.task == "classification" and cfg.dataset == "shrec11" and cfg.root == "/data/shrec11"
    assert cfg.dataset_options == {"n_train": 10, "seed": 0}
    assert cfg.model.name == "diffusion" and cfg.model.kwargs == {"dropout": 0.5}
    assert cfg.operators.k_eig == 128 and cfg.train.epochs == 60 and cfg.train.batch_size == 4
    assert cfg.task_options == {"label_smoothing": 0.2} and cfg.augment == {"rotate": "so3"}
    assert cfg.cache_dir == "operator_cache" and cfg.jobs == 2 and cfg.eval_split == "test"


# ---------------------------------------------------------------------------- cli.md
def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"main": parser, **sub.choices}


def _help_blocks() -> dict[str, str]:
    out = {}
    for block in _plain_blocks("cli.md"):
        m = re.match(r"usage: geodesic-nets( [\w-]+)? \[-h\]", block)
        if m:
            name = (m.group(1) or " main").strip()
            out[name] = block
    return out


def test_cli_page_documents_every_command_with_its_own_options():
    parsers, helps = _subparsers(), _help_blocks()
    assert set(helps) == set(parsers)
    text = (DOCS / "cli.md").read_text()
    for name, parser in parsers.items():
        if name != "main":
            assert f"## `geodesic-nets {name}`" in text
        options = {s for a in parser._actions for s in a.option_strings}
        documented = set(re.findall(r"(?<![\w,{-])(--?[A-Za-z][\w-]*)", helps[name]))
        assert documented == options, name
        for action in parser._actions:
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                assert "{" + ",".join(map(str, action.choices)) + "}" in helps[name], (name, action.dest)


@pytest.mark.skipif(not (3, 11) <= sys.version_info[:2] <= (3, 12), reason="argparse's help layout differs")
def test_cli_help_blocks_are_the_commands_help_verbatim(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    parsers, helps = _subparsers(), _help_blocks()
    for name, parser in parsers.items():
        assert helps[name].rstrip("\n") == parser.format_help().rstrip("\n"), name


def _commands(page: str) -> list[list[str]]:
    """The ``geodesic-nets ...`` command lines of a page's plain code blocks, as argv lists."""
    cmds = []
    for block in _plain_blocks(page):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].split(" > ")[0].strip()  # no comment, no redirection
            if "..." in line:
                continue
            if line.startswith("geodesic-nets "):
                cmds.append(shlex.split(line)[1:])
            elif "-m geodesic_nets " in line:
                cmds.append(shlex.split(line.split("-m geodesic_nets ", 1)[1]))
    return cmds


@pytest.mark.parametrize("page", ["cli.md", "tasks.md", "operators.md"])
def test_example_commands_parse(page):
    cmds = _commands(page)
    assert cmds
    if page == "cli.md":
        assert {c[0] for c in cmds} == set(_subparsers()) - {"main"}  # an example for every command
    parser = build_parser()
    for argv in cmds:
        args = parser.parse_args(argv)  # argparse exits (SystemExit) on an unknown or invalid option
        assert args.command == argv[0]


def test_referenced_files_exist():
    for page in PAGES:
        text = (DOCS / page).read_text()
        for image in re.findall(r"\]\((images/[\w.-]+)\)", text):
            assert (DOCS / image).is_file(), (page, image)
        for link in re.findall(r"\]\(([\w-]+\.md)\)", text):
            assert (DOCS / link).is_file(), (page, link)
        for script in re.findall(r"(examples/\w+\.py|benchmarks/\w+\.py)", text):
            assert (ROOT / script).is_file(), (page, script)
        for toml in re.findall(r"benchmarks/experiments/([a-z0-9_]+)\.toml", text):
            assert (ROOT / "benchmarks" / "experiments" / f"{toml}.toml").is_file(), (page, toml)
    for name in re.findall(r"run_experiments\.py ([a-z0-9_]+) --root", (DOCS / "tasks.md").read_text()):
        assert (ROOT / "benchmarks" / "experiments" / f"{name}.toml").is_file(), name
