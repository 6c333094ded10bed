"""Gradient operators against igl, the identity L = G^T A G, linear functions and the sphere."""

from __future__ import annotations

import igl
import numpy as np
import pytest
import scipy.sparse as sp

from geodesic_nets import primitives
from geodesic_nets.geometry.elements import face_areas
from geodesic_nets.geometry.frames import vertex_frames
from geodesic_nets.geometry.gradient import face_gradient, tangent_gradient


def _igl_layout(grad: sp.spmatrix, nf: int) -> np.ndarray:
    """Our rows 3f + axis reordered to igl's axis * F + f."""
    order = (3 * np.arange(nf)[None, :] + np.arange(3)[:, None]).ravel()
    return grad.toarray()[order]


@pytest.mark.parametrize("name", ["sphere", "plane", "torus_mesh", "triangle"])
def test_face_gradient_matches_igl(name, request):
    s = request.getfixturevalue(name)
    g = face_gradient(s.verts, s.faces)
    assert g.shape == (3 * len(s.faces), len(s.verts)) and sp.isspmatrix_csr(g)
    np.testing.assert_allclose(_igl_layout(g, len(s.faces)), igl.grad(s.verts, s.faces).toarray(), atol=1e-9)


@pytest.mark.parametrize("name", ["sphere", "plane", "torus_mesh"])
def test_cotan_laplacian_is_gradient_gram(name, request):
    s = request.getfixturevalue(name)
    g = face_gradient(s.verts, s.faces)
    a = sp.diags(np.repeat(face_areas(s.verts, s.faces), 3))
    lap = (g.T @ a @ g).toarray()
    np.testing.assert_allclose(lap, -igl.cotmatrix(s.verts, s.faces).toarray(), atol=1e-10)


def test_face_gradient_of_linear_function_and_degenerate_face(rng):
    s = primitives.torus(12, 8)
    a = rng.normal(size=3)
    g = (face_gradient(s.verts, s.faces) @ (s.verts @ a)).reshape(-1, 3)
    # the tangential part of a on every face
    n = np.cross(s.verts[s.faces[:, 1]] - s.verts[s.faces[:, 0]], s.verts[s.faces[:, 2]] - s.verts[s.faces[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    np.testing.assert_allclose(g, a - (n @ a)[:, None] * n, atol=1e-10)
    v = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]])
    gd = face_gradient(v, np.array([[0, 1, 2], [0, 1, 3]])).toarray()
    assert np.all(np.isfinite(gd)) and np.all(gd[:3] == 0)


def test_tangent_gradient_linear_function_on_flat_plane(plane, rng):
    fr = vertex_frames(plane.verts, plane.faces)
    g = tangent_gradient(plane.verts, plane.faces, fr)
    assert g.shape == (len(plane.verts),) * 2 and g.dtype == np.complex128
    a = np.array([0.7, -1.3, 0.0])
    got = g @ (plane.verts @ a + 2.0)
    expected = fr.to_local(np.broadcast_to(a, plane.verts.shape))
    np.testing.assert_allclose(got, expected[:, 0] + 1j * expected[:, 1], atol=1e-12)
    # constants have zero gradient
    np.testing.assert_allclose(g @ np.ones(len(plane.verts)), 0.0, atol=1e-12)


def test_tangent_gradient_of_height_on_sphere_converges():
    errors = []
    for sub in (2, 3, 4):
        s = primitives.icosphere(sub)
        fr = vertex_frames(s.verts, s.faces)
        got = tangent_gradient(s.verts, s.faces, fr) @ s.verts[:, 2]
        ez = np.broadcast_to([0.0, 0.0, 1.0], s.verts.shape)
        loc = fr.to_local(ez)  # projection of e_z onto the tangent plane, in frame coordinates
        errors.append(np.abs(got - (loc[:, 0] + 1j * loc[:, 1])).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01
    assert errors[1] / errors[2] > 1.5


@pytest.mark.parametrize("cloud", [False, True])
def test_tangent_gradient_gauge_covariance(cloud, sphere, rng):
    faces = None if cloud else sphere.faces
    fr = vertex_frames(sphere.verts, faces)
    phi = rng.uniform(-np.pi, np.pi, len(sphere.verts))
    g1 = tangent_gradient(sphere.verts, faces, fr, n_neighbors=10)
    g2 = tangent_gradient(sphere.verts, faces, fr.rotated(phi), n_neighbors=10)
    np.testing.assert_allclose(g2.toarray(), np.exp(-1j * phi)[:, None] * g1.toarray(), atol=1e-12)


def test_point_cloud_gradient_linear_function(rng):
    p = primitives.plane_grid(14, jitter=0.4).verts
    # a tilted, rigidly moved plane-like cloud
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    p = p @ q.T + 0.3
    fr = vertex_frames(p, n_neighbors=12)
    g = tangent_gradient(p, None, fr, n_neighbors=12)
    a = rng.normal(size=3)
    got = g @ (p @ a)
    loc = fr.to_local(np.broadcast_to(a, p.shape))
    np.testing.assert_allclose(got, loc[:, 0] + 1j * loc[:, 1], atol=1e-8)
    np.testing.assert_allclose(g @ np.ones(len(p)), 0.0, atol=1e-12)


def test_point_cloud_gradient_on_sphere():
    # first-order accurate (a linear fit on a curved patch): mean error decreases with density
    errors = []
    for n in (1500, 6000):
        v = primitives.sphere_point_cloud(n).verts
        fr = vertex_frames(v)
        got = tangent_gradient(v, None, fr) @ v[:, 2]
        loc = fr.to_local(np.broadcast_to([0.0, 0.0, 1.0], v.shape))
        err = np.abs(got - (loc[:, 0] + 1j * loc[:, 1]))
        assert err.max() < 0.05
        errors.append(err.mean())
    assert errors[1] < 0.8 * errors[0]


def test_tangent_gradient_isolated_vertex_and_errors():
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [3, 3, 3]])
    f = np.array([[0, 1, 2]])
    fr = vertex_frames(v, f)
    g = tangent_gradient(v, f, fr).toarray()
    assert np.all(np.isfinite(g)) and np.all(g[3] == 0)
    with pytest.raises(ValueError):
        tangent_gradient(v, f, fr, n_neighbors=0)
    with pytest.raises(ValueError):
        tangent_gradient(v[:3], f, fr)
