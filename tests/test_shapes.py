"""Shape generators have one home (geodesic_nets.shapes) and one random rotation."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from geodesic_nets import primitives, shapes
from geodesic_nets.data import augment, synthetic_meshes
from geodesic_nets.geometry.rotations import random_rotation_matrix
from geodesic_nets.testing import random_rotation

SHAPES = Path(__file__).resolve().parents[1] / "geodesic_nets" / "shapes"


@pytest.mark.parametrize("path", sorted(SHAPES.glob("*.py")), ids=lambda p: p.name)
def test_shapes_sit_beside_geometry(path):
    tree = ast.parse(path.read_text())
    mods = {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    up = {m.lstrip(".").split(".")[0] for m in mods if m.startswith("..")}
    assert up <= {"errors", "surface", "geometry"}, f"{path.name} reaches up to {up}"
    assert not any(m.split(".")[0] == "torch" for m in mods), f"{path.name} imports torch"


def test_old_import_paths_are_the_same_objects():
    for name in primitives.__all__:
        assert getattr(primitives, name) is getattr(shapes, name)
    for name in synthetic_meshes.__all__:
        if name != "random_rotation_matrix":
            assert getattr(synthetic_meshes, name) is getattr(shapes, name)
    assert synthetic_meshes.random_rotation_matrix is random_rotation_matrix


def test_random_rotation_matrix_is_seeded_and_haar():
    r = random_rotation_matrix(3)
    assert r.shape == (3, 3) and r.dtype == np.float64
    np.testing.assert_array_equal(r, random_rotation_matrix(np.random.default_rng(3)))
    np.testing.assert_array_equal(r, random_rotation(3))  # testing's is a caller
    rng = np.random.default_rng(0)
    rs = np.stack([random_rotation_matrix(rng) for _ in range(3000)])
    np.testing.assert_allclose(rs @ rs.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rs.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rs), 1.0, atol=1e-12)
    assert np.abs(rs.mean(0)).max() < 0.06  # Haar: E[R] = 0, E[tr(R)^2] = 1
    assert (np.trace(rs, axis1=1, axis2=2) ** 2).mean() == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="seed"):
        random_rotation_matrix(1.5)


def test_augment_rotation_calls_the_numpy_sampler():
    g = torch.Generator().manual_seed(4)
    seed = int(torch.randint(0, 2**62, (), generator=torch.Generator().manual_seed(4)))
    r = augment.random_rotation_matrix(g, dtype=torch.float32)
    assert r.dtype == torch.float32
    torch.testing.assert_close(r, torch.from_numpy(random_rotation_matrix(seed)).float())
