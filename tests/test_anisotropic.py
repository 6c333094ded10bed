"""Anisotropic Laplacians and heat kernels: closed forms (cylinder spectrum, flat anisotropic
Gaussian, torus principal directions), the isotropic limit, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry import eigen_basis, face_normals
from geodesic_nets.geometry.anisotropic import (
    anisotropic_heat_kernels,
    anisotropic_laplacian,
    face_principal_directions,
    weyl_time_unit,
)
from geodesic_nets.geometry.laplacian import laplacian_and_mass


def _cylinder(n_around: int, n_along: int, radius: float = 1.0, height: float = 3.0):
    """Open cylinder about the z axis (intrinsically a flat rectangle, periodic one way)."""
    th = np.arange(n_around) * 2 * np.pi / n_around
    z = np.linspace(0.0, height, n_along)
    verts = np.stack(
        [np.tile(radius * np.cos(th), n_along), np.tile(radius * np.sin(th), n_along), np.repeat(z, n_around)], axis=1
    )
    i, j = np.meshgrid(np.arange(n_along - 1), np.arange(n_around), indexing="ij")
    a = i * n_around + j
    b = i * n_around + (j + 1) % n_around
    c, d = a + n_around, b + n_around
    faces = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return verts, faces


def _circumferential(verts, faces):
    cen = verts[faces].mean(axis=1)
    t = np.stack([-cen[:, 1], cen[:, 0], np.zeros(len(cen))], axis=1)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def _cylinder_spectrum(along_circle: float, along_axis: float, radius: float, height: float, k: int):
    """Eigenvalues of -div(A grad) on the open cylinder, Neumann ends: a (n/r)^2 + b (m pi/h)^2."""
    vals = []
    for n in range(12):
        for m in range(12):
            lam = along_circle * (n / radius) ** 2 + along_axis * (m * np.pi / height) ** 2
            vals += [lam] * (1 if n == 0 else 2)  # cos and sin around the circle
    return np.sort(vals)[:k]


@pytest.fixture(scope="module")
def cylinder():
    return _cylinder(48, 36)


def test_isotropic_limit_is_the_cotan_laplacian():
    s = primitives.torus(24, 12)
    d = face_principal_directions(s.verts, s.faces)
    L_iso = anisotropic_laplacian(s.verts, s.faces, d, anisotropy=1.0, angle=0.7)
    L, _ = laplacian_and_mass(s.verts, s.faces)
    assert abs(L_iso - L).max() < 1e-12 * abs(L).max()


def test_anisotropic_laplacian_is_symmetric_psd_with_constants_in_the_kernel():
    s = primitives.bumpy_sphere(2, seed=1)
    d = np.random.default_rng(0).normal(size=(s.num_faces, 3))  # arbitrary: projected inside
    L = anisotropic_laplacian(s.verts, s.faces, d, anisotropy=7.0, angle=0.3)
    assert abs(L - L.T).max() < 1e-12 * abs(L).max()
    np.testing.assert_allclose(L @ np.ones(s.num_verts), 0.0, atol=1e-10 * abs(L).max())
    assert np.linalg.eigvalsh(L.toarray()).min() > -1e-10 * abs(L).max()
    # A stiffer direction stores more energy: x^T L x grows with alpha for every x.
    L2 = anisotropic_laplacian(s.verts, s.faces, d, anisotropy=14.0, angle=0.3)
    x = np.random.default_rng(1).normal(size=(s.num_verts, 5))
    assert (np.einsum("vi,vi->i", x, (L2 - L) @ x) > 0).all()


def test_principal_directions_of_a_cylinder_run_around_it(cylinder):
    v, f = cylinder
    d = face_principal_directions(v, f)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(d * face_normals(v, f), axis=1), 0.0, atol=1e-12)
    assert np.abs(np.sum(d * _circumferential(v, f), axis=1)).min() > 0.999


def test_principal_directions_of_a_torus_run_around_the_tube():
    """Maximum curvature 1/r is around the tube (the meridian); along the ring it is cos/(R + r cos)."""
    s = primitives.torus(48, 24)
    v, f = s.verts, s.faces
    d = face_principal_directions(v, f)
    cen = v[f].mean(axis=1)
    ring = np.stack([-cen[:, 1], cen[:, 0], np.zeros(len(cen))], axis=1)  # along the big circle
    ring /= np.linalg.norm(ring, axis=1, keepdims=True)
    # A meridian direction is orthogonal to the ring direction: |d . ring| ~ 0.
    assert np.quantile(np.abs(np.sum(d * ring, axis=1)), 0.95) < 0.05


def test_flat_faces_fall_back_to_their_first_edge():
    s = primitives.plane_grid(6)
    d = face_principal_directions(s.verts, s.faces)
    e = s.verts[s.faces[:, 1]] - s.verts[s.faces[:, 0]]
    np.testing.assert_allclose(d, e / np.linalg.norm(e, axis=1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("angle, along_circle, along_axis", [(0.0, 5.0, 1.0), (np.pi / 2, 1.0, 5.0)])
def test_cylinder_spectrum_matches_the_closed_form_and_converges(angle, along_circle, along_axis):
    """Conductivity 5 along the principal direction (around) at angle 0, along the axis at pi / 2."""
    errors = []
    for n_around, n_along in ((24, 18), (48, 36)):
        v, f = _cylinder(n_around, n_along)
        _, M = laplacian_and_mass(v, f)
        L = anisotropic_laplacian(v, f, face_principal_directions(v, f), anisotropy=5.0, angle=angle)
        evals, _ = eigen_basis(L, np.asarray(M.diagonal()), 10)
        exact = _cylinder_spectrum(along_circle, along_axis, 1.0, 3.0, 10)
        errors.append(np.abs(evals[1:] - exact[1:]) / exact[1:])
    assert errors[1].max() < 2e-2, errors[1]
    assert errors[1].max() < 0.5 * errors[0].max()  # O(h^2): about a quarter


@pytest.mark.parametrize("alpha", [1.0, 4.0])
def test_heat_kernel_on_a_plane_is_the_anisotropic_gaussian(alpha):
    """Far from the boundary, h_t(x, y) = exp(-(du^2 / alpha + dw^2) / 4t) / (4 pi t sqrt(alpha))."""
    s = primitives.plane_grid(40)
    v, f = s.verts, s.faces
    _, M = laplacian_and_mass(v, f)
    lo, hi = v.min(0), v.max(0)
    area = float(np.prod((hi - lo)[:2]))
    c0 = int(np.argmin(((v - (lo + hi) / 2) ** 2).sum(1)))
    near = np.nonzero(((v - v[c0]) ** 2).sum(1) < (0.15 * (hi - lo)[0]) ** 2)[0]
    d = np.zeros((len(f), 3))
    d[:, 0] = 1.0  # u along x at theta_0, along y at theta_1 = pi / 2
    k, tau = 200, 4.0
    h = anisotropic_heat_kernels(v, f, np.asarray(M.diagonal()), np.full(len(near), c0), near, n_orientations=2,
                                 anisotropy=(alpha,), times=(tau,), k_eig=k, directions=d)
    assert h.shape == (len(near), 2)
    t = tau * weyl_time_unit(area, k)
    dx = v[near] - v[c0]
    for col, (du, dw) in enumerate(((dx[:, 0], dx[:, 1]), (dx[:, 1], dx[:, 0]))):
        exact = np.exp(-(du**2 / alpha + dw**2) / (4 * t)) / (4 * np.pi * t * np.sqrt(alpha))
        assert np.abs(h[:, col] - exact).max() < 0.05 * exact.max()


def test_kernels_are_elongated_along_their_orientation(cylinder):
    """Second moments of the kernel about a mid-height vertex: the long axis follows theta_k."""
    v, f = cylinder
    _, M = laplacian_and_mass(v, f)
    c0 = int(np.argmin(np.abs(v[:, 2] - 1.5) + np.abs(v[:, 0] - 1.0)))
    near = np.nonzero(np.linalg.norm(v - v[c0], axis=1) < 0.8)[0]
    h = anisotropic_heat_kernels(v, f, np.asarray(M.diagonal()), np.full(len(near), c0), near, n_orientations=2,
                                 anisotropy=(1.0, 6.0), times=(2.0,), k_eig=96)
    d = v[near] - v[c0]
    around, axial = d[:, 1], d[:, 2]  # at (1, 0, z) the circle's tangent is y

    def ratio(col):
        w = h[:, col] * np.asarray(M.diagonal())[near]
        return np.sum(w * around**2) / np.sum(w * axial**2)

    iso0, iso1, along, across = (ratio(i) for i in range(4))  # columns (alpha, t, theta)
    assert abs(iso0 - 1) < 0.1 and abs(iso1 - 1) < 0.1
    assert along > 2.0 and across < 0.5


def test_bad_input_is_reported():
    cloud = primitives.sphere_point_cloud(50)
    with pytest.raises(GeometryError, match="point cloud"):
        face_principal_directions(cloud.verts, None)
    s = primitives.torus(8, 6)
    with pytest.raises(GeometryError, match="directions"):
        anisotropic_laplacian(s.verts, s.faces, np.zeros((3, 3)), anisotropy=2.0)
    with pytest.raises(ValueError, match="anisotropy"):
        anisotropic_laplacian(s.verts, s.faces, np.zeros((s.num_faces, 3)), anisotropy=-1.0)
    with pytest.raises(GeometryError, match="mass"):
        anisotropic_heat_kernels(s.verts, s.faces, np.zeros(s.num_verts), np.zeros(1, int), np.zeros(1, int),
                                 n_orientations=2, anisotropy=(2.0,), times=(1.0,), k_eig=8)
    with pytest.raises(ValueError, match="anisotropy"):
        anisotropic_heat_kernels(s.verts, s.faces, np.ones(s.num_verts), np.zeros(1, int), np.zeros(1, int),
                                 n_orientations=2, anisotropy=(0.5,), times=(1.0,), k_eig=8)
