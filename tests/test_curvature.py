"""Curvatures: Gauss-Bonnet and spheres of known radius."""

from __future__ import annotations

import igl
import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.curvature import angle_defect, gaussian_curvature, mean_curvature, principal_curvatures

from conftest import shared_data_path


def _arrays(s):
    return np.asarray(s.verts, dtype=np.float64), np.asarray(s.faces, dtype=np.int64)


@pytest.mark.parametrize(
    "mesh, chi",
    [
        (primitives.icosphere(3), 2),
        (primitives.uv_sphere(16, 32), 2),
        (primitives.torus(40, 20), 0),
        (primitives.plane_grid(10, jitter=0.3), 1),
        (primitives.single_triangle(), 1),
    ],
)
def test_gauss_bonnet_generated(mesh, chi):
    v, f = _arrays(mesh)
    assert angle_defect(v, f).sum() == pytest.approx(2 * np.pi * chi, abs=1e-9)


@pytest.mark.parametrize("name, chi", [("3holes.off", -4), ("fertility.off", -6), ("spot.obj", 2)])
def test_gauss_bonnet_real_meshes(name, chi):
    v, f = igl.read_triangle_mesh(str(shared_data_path("models", name)))
    v, f = np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)
    assert angle_defect(v, f).sum() == pytest.approx(2 * np.pi * chi, abs=1e-7)
    assert np.allclose(angle_defect(v, f), 2 * np.pi - np.bincount(f.ravel(), igl.internal_angles(v, f).ravel(), len(v)))


def test_flat_plane_has_zero_interior_curvature():
    v, f = _arrays(primitives.plane_grid(10, jitter=0.3))
    from geodesic_nets.geometry.elements import boundary_vertex_mask

    interior = ~boundary_vertex_mask(f, len(v))
    assert np.abs(gaussian_curvature(v, f)[interior]).max() < 1e-10
    assert np.abs(mean_curvature(v, f)[interior]).max() < 1e-10


@pytest.mark.parametrize("radius", [0.5, 2.0])
def test_sphere_curvatures(radius):
    v, f = _arrays(primitives.icosphere(4, radius=radius))
    k = gaussian_curvature(v, f)
    h = mean_curvature(v, f)
    assert np.allclose(k, 1 / radius**2, rtol=0.01)
    assert np.allclose(h, 1 / radius, rtol=0.01)
    # the barycentric area is right on average only (irregular vertices are off by ~15%)
    kb = gaussian_curvature(v, f, area="barycentric")
    assert np.median(kb) == pytest.approx(1 / radius**2, rel=0.01) and np.allclose(kb, 1 / radius**2, rtol=0.2)
    k1, k2 = principal_curvatures(v, f)
    assert np.all(k1 >= k2) and np.allclose(k1, 1 / radius, rtol=0.1) and np.allclose(k2, 1 / radius, rtol=0.1)
    # inward orientation flips the sign of H, not of K
    assert np.allclose(mean_curvature(v, f[:, ::-1]), -h)
    assert np.allclose(gaussian_curvature(v, f[:, ::-1]), k)


def test_torus_gaussian_curvature_sign():
    v, f = _arrays(primitives.torus(60, 30, major_radius=1.0, minor_radius=0.35))
    k = gaussian_curvature(v, f, area="voronoi")
    rho = np.hypot(v[:, 0], v[:, 1])
    assert np.all(k[rho > 1.2] > 0) and np.all(k[rho < 0.8] < 0)
    # closed form K = cos(phi) / (r (R + r cos(phi)))
    cos_phi = (rho - 1.0) / 0.35
    exact = cos_phi / (0.35 * (1.0 + 0.35 * cos_phi))
    assert np.abs(k - exact).max() < 0.05 * np.abs(exact).max()


def test_errors():
    v, f = _arrays(primitives.icosphere(1))
    with pytest.raises(GeometryError, match="point cloud"):
        angle_defect(v, None)
    with pytest.raises(GeometryError, match="empty"):
        gaussian_curvature(v, np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="area"):
        mean_curvature(v, f, area="mixed")
