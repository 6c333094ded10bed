"""The real benchmark files load with exactly the vertex list they store (skipped without data)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_data_path

from geodesic_nets.io import inspect, load

pytestmark = pytest.mark.shared_data

MODELS = sorted(os.listdir(SHARED_DATA / "models")) if (SHARED_DATA / "models").is_dir() else []


def _listed_counts(path) -> tuple[int, int | None]:
    """Vertex count and polygon count the file states, counted here independently of the readers."""
    with open(path, "rb") as fh:
        if path.suffix == ".off":
            tokens = []
            for line in fh:
                line = line.split(b"#")[0].strip()
                if line:
                    tokens.extend(line.split())
                if len(tokens) >= 3:
                    break
            return int(tokens[1]), int(tokens[2])
        nv = nf = 0
        for line in fh:
            if line.startswith(b"v "):
                nv += 1
            elif line.startswith(b"f "):
                nf += 1
        return nv, nf


@pytest.mark.parametrize("name", MODELS or ["<no shared data>"])
def test_every_model_loads_with_its_listed_vertex_count(name):
    path = shared_data_path("models", name)
    nv, _ = _listed_counts(path)
    s = load(path)
    assert s.num_verts == nv
    r = inspect(s)
    assert r.num_verts == nv and r.num_faces == s.num_faces and r.num_faces > 0
    assert r.total_area > 0 and r.num_out_of_range_faces == 0 and r.num_nonfinite_verts == 0
    assert isinstance(str(r), str)


def test_spot_keeps_its_2930_vertices_and_first_vertex():
    path = shared_data_path("models", "spot.obj")
    s = load(path)
    assert s.num_verts == 2930 and s.num_faces == 5856
    np.testing.assert_array_equal(s.verts[0], [0.348799, -0.334989, -0.0832331])
    r = inspect(s)
    assert r.genus == 0 and r.is_closed and r.is_valid


def test_bunny_keeps_unreferenced_vertices():
    s = load(shared_data_path("models", "stanford-bunny.obj"))
    assert s.num_verts == 35947
    r = inspect(s)
    assert r.num_unreferenced_verts > 0 and r.num_boundary_loops == 5 and r.genus == 0


@pytest.mark.parametrize("name, genus", [("3holes.off", 3), ("fertility.off", 4)])
def test_genus_of_classic_models(name, genus):
    assert inspect(load(shared_data_path("models", name))).genus == genus


def test_faust_and_shrec_samples():
    s = load(shared_data_path("faust", "tr_reg_000.off"))
    assert s.num_verts == 6890 and s.num_faces == 13776
    shrec = shared_data_path("shrec11")
    files = sorted(shrec.glob("*/train/*.obj"))[:5]
    assert files
    for f in files:
        nv, nf = _listed_counts(f)
        s = load(f)
        assert (s.num_verts, s.num_faces) == (nv, nf)
