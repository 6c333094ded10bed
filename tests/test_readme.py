"""README.md's quick start runs as written, and its set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_start_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))  # all blocks, in order
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    ops, dist = namespace["ops"], namespace["dist"]
    assert ops.evecs.shape == (ops.num_verts, 64)
    assert dist[0] == 0 and (dist[1:] > 0).all()
    assert (tmp_path / "operator_cache").is_dir() and any((tmp_path / "operator_cache").glob("*.npz"))
    out = capsys.readouterr().out
    assert "manifold" in out and "torch.Size([3, 10])" in out
    evaluation = namespace["evaluation"]  # the training example: a finished run directory
    assert 0.0 <= evaluation["accuracy"] <= 1.0 and len(evaluation["confusion_matrix"]) == 5
    assert (tmp_path / "runs" / "quick" / "checkpoints" / "last.pt").is_file()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    test_cmd = [b.strip() for b in blocks if "pytest" in b]
    assert len(test_cmd) == 1 and test_cmd[0] in ci
