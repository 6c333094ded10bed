"""Shared fixtures: one-thread BLAS/torch, seeded RNG, generated meshes, data and CUDA markers."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path

import numpy as np
import pytest

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    torch = None

from geodesic_nets import primitives

SHARED_DATA = Path(os.environ.get("GEODESIC_NETS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def load_module_file(path: Path, name: str):
    """Import the Python file ``path`` (a script, example or CI helper outside the package) as ``name``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_data_path(*parts: str) -> Path:
    """Path inside the shared benchmark data; the test is skipped when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"benchmark data not found at {p} (set GEODESIC_NETS_DATA)")
    return p


def pytest_collection_modifyitems(config, items):
    has_cuda = torch is not None and torch.cuda.is_available()
    skip_cuda = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip_cuda)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def sphere():
    return primitives.icosphere(3)


@pytest.fixture(scope="session")
def plane():
    return primitives.plane_grid(12, jitter=0.3)


@pytest.fixture(scope="session")
def torus_mesh():
    return primitives.torus(40, 20)


@pytest.fixture(scope="session")
def triangle():
    return primitives.single_triangle()


@pytest.fixture(scope="session")
def sphere_cloud():
    return primitives.sphere_point_cloud(1500)
