"""io sits below geometry (GUIDE.md): it measures triangles itself, exactly as geometry does."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.geometry.elements import face_areas
from geodesic_nets.io._areas import face_areas as io_face_areas

IO = Path(__file__).resolve().parents[1] / "geodesic_nets" / "io"


@pytest.mark.parametrize("path", sorted(IO.glob("*.py")), ids=lambda p: p.name)
def test_io_does_not_import_geometry(path):
    tree = ast.parse(path.read_text())
    mods = {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    bad = {m for m in mods if m.startswith("..geometry") or m.startswith("geodesic_nets.geometry")}
    assert not bad, f"{path.name} imports {bad}"


def test_io_face_areas_match_geometry_bit_for_bit():
    rng = np.random.default_rng(0)
    s = primitives.bumpy_sphere()
    f = np.concatenate([s.faces, [[0, 0, 1], [2, 2, 2]]])  # degenerate faces give 0
    v = s.verts * 10.0 ** rng.uniform(-3, 3)
    got = io_face_areas(v, f)
    assert got.dtype == np.float64 and got.shape == (len(f),)
    np.testing.assert_array_equal(got, face_areas(v, f))
    assert got[-1] == 0.0 and got[-2] == 0.0
    assert io_face_areas(v, np.zeros((0, 3), dtype=np.int64)).shape == (0,)
