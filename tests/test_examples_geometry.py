"""examples/geometry_tour.py runs headless on small meshes and writes every picture it lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import load_module_file
from geodesic_nets import primitives
from geodesic_nets.geometry import holonomy, levi_civita_connection, vertex_frames

pytest.importorskip("pyvista")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "geometry_tour.py"


@pytest.fixture(scope="module")
def tour():
    return load_module_file(EXAMPLE, "geometry_tour")


def _png(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_tour_writes_every_listed_picture(tour, tmp_path):
    out = tmp_path / "tour"
    assert tour.main(["--out", str(out), "--quick", "--size", "200", "150"]) == 0
    listed = {line.split("``")[1] for line in tour.__doc__.splitlines() if line.startswith("* ``")}
    written = {p.name for p in out.glob("*.png")}
    assert listed == written and len(written) >= 11
    for name in ("geodesic.png", "frames.png", "transport.png", "labels.png", "features.png"):
        assert _png(out / name).shape == (150, 200, 3)  # single views: the requested size
    for name in written:
        img = _png(out / name)
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 30, name
        assert np.any(img < 250, axis=2).mean() > 0.05, name


def test_tour_transport_loop_has_the_expected_holonomy(tour):
    n_lat, n_lon, ring = 16, 24, 3
    globe = primitives.uv_sphere(n_lat, n_lon)
    loop = tour.latitude_loop(n_lat, n_lon, ring)
    assert loop[0] == loop[-1] and len(set(loop)) == n_lon
    conn = levi_civita_connection(globe.verts, globe.faces, vertex_frames(globe.verts, globe.faces))
    theta = np.pi * (ring + 1) / n_lat
    assert np.isclose(holonomy(conn, loop), 2 * np.pi * (1 - np.cos(theta)), atol=0.02)


def test_tour_twisted_map_is_the_identity_without_twist(tour):
    sphere = primitives.icosphere(2)
    blob = primitives.bumpy_sphere(2)
    assert np.array_equal(tour.twisted_map(sphere, blob, 0.0), np.arange(sphere.num_verts))
    assert not np.array_equal(tour.twisted_map(sphere, blob, 0.5), np.arange(sphere.num_verts))


def test_tour_smoothest_field_is_a_tangent_field_of_unit_mass(tour):
    torus = primitives.torus(24, 12)
    u = tour.smoothest_field(torus)
    assert u.shape == (torus.num_verts, 2) and np.all(np.isfinite(u))
    from geodesic_nets.geometry import vertex_areas

    mass = vertex_areas(torus.verts, torus.faces)
    assert np.isclose(np.sum(mass * np.sum(u * u, axis=1)), 1.0, atol=1e-6)


@pytest.mark.parametrize("page", ["ingestion.md", "geometry.md", "visualization.md"])
def test_docs_code_blocks_run(page, tmp_path, monkeypatch):
    """Every ```python block of the page runs, in order, in one namespace (files go to tmp)."""
    import re

    text = (EXAMPLE.parents[1] / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)
    if page == "visualization.md":
        for name in ("height.png", "eigen.png", "geodesic.png", "transport.png", "corr.png", "pca.png"):
            assert (tmp_path / name).stat().st_size > 1000
