"""Discrete Levi-Civita connection: flatness, Gauss-Bonnet, gauge covariance, connection Laplacian."""

from __future__ import annotations

import igl
import numpy as np
import pytest
import scipy.linalg as sla
from scipy.spatial import cKDTree

from geodesic_nets import primitives
from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.connection import (
    connection_laplacian,
    holonomy,
    levi_civita_connection,
    transport_along_path,
    transport_vectors,
    wrap_angle,
)
from geodesic_nets.geometry.elements import boundary_vertex_mask, corner_angles, vertex_areas
from geodesic_nets.geometry.frames import reference_neighbors, vertex_frames


def _mesh_connection(s, **kw):
    fr = vertex_frames(s.verts, s.faces)
    return fr, levi_civita_connection(s.verts, s.faces, fr, **kw)


def _face_holonomy(v, f, *, boundary="half_disk"):
    """Closed form: sum over the face's corners of alpha_c (target / Theta_v - 1)."""
    a = corner_angles(v, f)
    theta = np.bincount(f.ravel(), weights=a.ravel(), minlength=len(v))
    target = np.full(len(v), 2 * np.pi)
    bnd = boundary_vertex_mask(f, len(v))
    target[bnd] = np.pi if boundary == "half_disk" else theta[bnd]
    return (a * (target[f] / theta[f] - 1)).sum(1)


def _face_loop_transport(conn, f):
    e = [conn.edge_index(f[:, c], f[:, (c + 1) % 3]) for c in range(3)]
    return wrap_angle(sum(conn.transport[x] for x in e))


def _grid_index(n):
    return np.arange((n + 1) ** 2).reshape(n + 1, n + 1)


def _x_angle(fr):
    return np.arctan2(fr.basis_x[:, 1], fr.basis_x[:, 0])


# ----------------------------------------------------------------------------- flat plane


def test_flat_plane_transport_is_frame_angle_difference(plane):
    fr, conn = _mesh_connection(plane, boundary="half_disk")
    g = _x_angle(fr)
    err = np.abs(wrap_angle(conn.transport - (g[conn.edge_src] - g[conn.edge_dst])))
    # the four grid corners (angle sum pi/2) are rescaled to a half disk: not flat there
    idx = _grid_index(12)
    corners = np.array([idx[0, 0], idx[0, -1], idx[-1, 0], idx[-1, -1]])
    touches = np.isin(conn.edge_src, corners) | np.isin(conn.edge_dst, corners)
    assert err[~touches].max() < 1e-12
    assert err[touches].max() > 0.1
    # intrinsic angles equal the projected (extrinsic) ones away from the corners
    d = plane.verts[conn.edge_dst] - plane.verts[conn.edge_src]
    ext = np.arctan2(np.einsum("ij,ij->i", d, fr.basis_y[conn.edge_src]),
                     np.einsum("ij,ij->i", d, fr.basis_x[conn.edge_src]))
    assert np.abs(wrap_angle(conn.edge_angle - ext))[~np.isin(conn.edge_src, corners)].max() < 1e-12


def test_flat_plane_wedge_boundary_is_exactly_flat(plane):
    fr, conn = _mesh_connection(plane, boundary="wedge")
    g = _x_angle(fr)
    assert np.abs(wrap_angle(conn.transport - (g[conn.edge_src] - g[conn.edge_dst]))).max() < 1e-12
    idx = _grid_index(12)
    rim = np.concatenate([idx[0, :-1], idx[:-1, -1], idx[-1, :0:-1], idx[:0:-1, 0]])
    assert abs(holonomy(conn, rim)) < 1e-12
    assert np.abs(_face_loop_transport(conn, plane.faces)).max() < 1e-12


def test_flat_plane_holonomy_of_interior_loops(plane):
    _, conn = _mesh_connection(plane)
    idx = _grid_index(12)
    loops = [
        np.concatenate([idx[1, 1:-2], idx[1:-2, -2], idx[-2, -2:1:-1], idx[-2:1:-1, 1]]),  # big square
        [idx[5, 5], idx[6, 5], idx[6, 6], idx[5, 6]],
        [idx[3, 3], idx[4, 3], idx[4, 4]],
        [idx[2, 7], idx[3, 7], idx[4, 8], idx[4, 9], idx[3, 9], idx[2, 8]],
    ]
    for loop in loops:
        assert abs(holonomy(conn, loop)) < 1e-12
    # boundary non-corner vertices have angle sum pi: also flat on loops through them
    assert abs(holonomy(conn, [idx[0, 4], idx[1, 4], idx[1, 5], idx[0, 5]])) < 1e-12


def test_half_disk_boundary_angles_span_pi(plane):
    _, conn = _mesh_connection(plane, boundary="half_disk")
    corner = 0  # grid corner: true angle pi/2, rescaled to pi
    out = conn.edge_angle[conn.edge_src == corner]
    ang = np.sort(np.mod(out - out.min(), 2 * np.pi))
    assert ang[-1] == pytest.approx(np.pi, abs=1e-12)
    _, wedge = _mesh_connection(plane, boundary="wedge")
    out = wedge.edge_angle[wedge.edge_src == corner]
    assert np.ptp(np.mod(out - out.min(), 2 * np.pi)) == pytest.approx(np.pi / 2, abs=1e-12)


def test_default_boundary_keeps_the_true_angle_sum(plane):
    """docs/index.md: boundary vertices are not rescaled unless boundary="half_disk"."""
    _, default = _mesh_connection(plane)
    _, wedge = _mesh_connection(plane, boundary="wedge")
    _, half = _mesh_connection(plane, boundary="half_disk")
    np.testing.assert_array_equal(default.edge_angle, wedge.edge_angle)
    np.testing.assert_array_equal(default.transport, wedge.transport)
    theta = np.bincount(plane.faces.ravel(), weights=corner_angles(plane.verts, plane.faces).ravel())
    bnd = np.flatnonzero(boundary_vertex_mask(plane.faces, len(plane.verts)))
    for i in bnd:
        span = {}
        for name, conn in (("default", default), ("half_disk", half)):
            # the outgoing edges of a boundary fan span its (rescaled) angle sum: 2 pi less the
            # widest gap between circularly consecutive edge angles
            a = np.sort(np.mod(conn.edge_angle[conn.edge_src == i], 2 * np.pi))
            gaps = np.diff(np.concatenate([a, [a[0] + 2 * np.pi]]))
            span[name] = 2 * np.pi - gaps.max()
        assert span["default"] == pytest.approx(theta[i], abs=1e-12)
        assert span["half_disk"] == pytest.approx(np.pi, abs=1e-12)


# ----------------------------------------------------------------------------- sphere


def test_face_holonomy_is_discrete_angle_defect(sphere, torus_mesh, plane):
    for s in (sphere, torus_mesh, plane):
        for boundary in ("half_disk", "wedge"):
            _, conn = _mesh_connection(s, boundary=boundary)
            expected = wrap_angle(_face_holonomy(s.verts, s.faces, boundary=boundary))
            got = _face_loop_transport(conn, s.faces)
            assert np.abs(wrap_angle(got - expected)).max() < 1e-12
    # total curvature of the torus vanishes, of the sphere is 4 pi
    assert abs(_face_holonomy(sphere.verts, sphere.faces).sum() - 4 * np.pi) < 1e-10


def test_latitude_loop_holonomy_gauss_bonnet():
    theta = np.pi / 4
    cap = 2 * np.pi * (1 - np.cos(theta))
    errors = []
    for n_lat in (8, 16, 32):
        n_lon = 2 * n_lat
        s = primitives.uv_sphere(n_lat, n_lon)
        _, conn = _mesh_connection(s)
        r = n_lat // 4 - 1  # ring at polar angle pi/4
        loop = 1 + r * n_lon + np.arange(n_lon)  # counter-clockwise seen from +z
        h = holonomy(conn, loop)
        enclosed = (s.faces <= loop.max()).all(axis=1)
        exact = wrap_angle(_face_holonomy(s.verts, s.faces)[enclosed].sum())
        assert h == pytest.approx(float(exact), abs=1e-10)
        assert holonomy(conn, loop[::-1]) == pytest.approx(-h, abs=1e-10)
        errors.append(abs(h - cap))
    assert errors[-1] < 2e-3
    assert errors[0] > errors[1] > errors[2]


def test_transport_round_trip_is_identity(sphere, rng):
    _, conn = _mesh_connection(sphere)
    rev = conn.reverse_index()
    np.testing.assert_array_equal(conn.edge_src[rev], conn.edge_dst)
    np.testing.assert_array_equal(conn.edge_dst[rev], conn.edge_src)
    assert np.abs(wrap_angle(conn.transport + conn.transport[rev])).max() < 1e-12
    e = rng.integers(0, len(conn.edge_src), 50)
    x = rng.normal(size=(50, 2))
    back = transport_vectors(conn, rev[e], transport_vectors(conn, e, x))
    np.testing.assert_allclose(back, x, atol=1e-12)
    i, j = int(conn.edge_src[e[0]]), int(conn.edge_dst[e[0]])
    np.testing.assert_allclose(transport_along_path(conn, [i, j, i], x[0]), x[0], atol=1e-12)
    np.testing.assert_allclose(transport_along_path(conn, [i], x[0]), x[0])


def test_transport_matches_definition_via_edge_angles(sphere):
    # an edge direction at src, transported, points along the reversed edge at dst (+ pi)
    _, conn = _mesh_connection(sphere)
    rev = conn.reverse_index()
    np.testing.assert_allclose(
        wrap_angle(conn.edge_angle + conn.transport - conn.edge_angle[rev] - np.pi), 0.0, atol=1e-12
    )


def test_reference_edge_has_angle_zero(torus_mesh):
    _, conn = _mesh_connection(torus_mesh)
    ref = reference_neighbors(torus_mesh.verts, torus_mesh.faces)
    e = conn.edge_index(np.arange(len(ref)), ref)
    assert np.abs(conn.edge_angle[e]).max() < 1e-12


@pytest.mark.parametrize("name", ["sphere", "plane", "torus_mesh"])
@pytest.mark.parametrize("boundary", ["half_disk", "wedge"])
def test_gauge_change_covariance_mesh(name, boundary, request, rng):
    s = request.getfixturevalue(name)
    fr, conn = _mesh_connection(s, boundary=boundary)
    phi = rng.uniform(-np.pi, np.pi, len(s.verts))
    conn2 = levi_civita_connection(s.verts, s.faces, fr.rotated(phi), boundary=boundary)
    src, dst = conn.edge_src, conn.edge_dst
    assert np.abs(wrap_angle(conn2.edge_angle - conn.edge_angle + phi[src])).max() < 1e-12
    assert np.abs(wrap_angle(conn2.transport - conn.transport - phi[src] + phi[dst])).max() < 1e-12
    np.testing.assert_array_equal(conn2.edge_length, conn.edge_length)


def test_gauge_change_covariance_point_cloud(sphere_cloud, rng):
    v = sphere_cloud.verts[:400]
    fr = vertex_frames(v, n_neighbors=12)
    conn = levi_civita_connection(v, None, fr, n_neighbors=8)
    phi = rng.uniform(-np.pi, np.pi, len(v))
    conn2 = levi_civita_connection(v, None, fr.rotated(phi), n_neighbors=8)
    src, dst = conn.edge_src, conn.edge_dst
    assert np.abs(wrap_angle(conn2.edge_angle - conn.edge_angle + phi[src])).max() < 1e-12
    assert np.abs(wrap_angle(conn2.transport - conn.transport - phi[src] + phi[dst])).max() < 1e-12


# ----------------------------------------------------------------------------- point clouds


def test_point_cloud_connection_flat_and_sphere(sphere_cloud):
    p = primitives.plane_grid(10, jitter=0.3).verts
    fr = vertex_frames(p, n_neighbors=10)
    conn = levi_civita_connection(p, None, fr, n_neighbors=8)
    g = _x_angle(fr) if fr.normals[0, 2] > 0 else -_x_angle(fr)
    assert np.abs(wrap_angle(conn.transport - (g[conn.edge_src] - g[conn.edge_dst]))).max() < 1e-10
    rev = conn.reverse_index()
    assert np.abs(wrap_angle(conn.transport + conn.transport[rev])).max() < 1e-12

    v = sphere_cloud.verts
    fr = vertex_frames(v)
    conn = levi_civita_connection(v, None, fr, n_neighbors=12)
    theta = np.pi / 4
    phis = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    targets = np.stack([np.sin(theta) * np.cos(phis), np.sin(theta) * np.sin(phis), np.full(80, np.cos(theta))], 1)
    _, idx = cKDTree(v).query(targets)
    loop = idx[np.r_[True, idx[1:] != idx[:-1]]]
    assert holonomy(conn, loop) == pytest.approx(2 * np.pi * (1 - np.cos(theta)), abs=0.05)
    assert np.allclose(conn.edge_length, np.linalg.norm(v[conn.edge_dst] - v[conn.edge_src], axis=1))


# ----------------------------------------------------------------------------- robustness


def test_nonmanifold_and_degenerate_meshes_have_no_nan():
    # bowtie: two fans sharing vertex 0; a flipped face; a zero-area face; an isolated vertex
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0.2], [1, 1, 0], [9, 9, 9]])
    f = np.array([[0, 1, 2], [0, 3, 4], [1, 5, 2], [2, 5, 1], [1, 1, 5]])
    fr = vertex_frames(v, f)
    conn = levi_civita_connection(v, f, fr, boundary="half_disk")
    for a in (conn.transport, conn.edge_angle, conn.edge_length):
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(wrap_angle(conn.transport + conn.transport[conn.reverse_index()]), 0, atol=1e-12)
    # vertex 0 (two fans) falls back to the extrinsic projected angles; vertex 3 (one fan) does not
    d = v[conn.edge_dst] - v[conn.edge_src]
    ext = np.arctan2(np.einsum("ij,ij->i", d, fr.basis_y[conn.edge_src]),
                     np.einsum("ij,ij->i", d, fr.basis_x[conn.edge_src]))
    at0, at3 = conn.edge_src == 0, conn.edge_src == 3
    np.testing.assert_allclose(conn.edge_angle[at0], ext[at0], atol=1e-12)
    out3 = np.sort(np.mod(conn.edge_angle[at3], 2 * np.pi))
    assert out3[0] == pytest.approx(0.0, abs=1e-12) and out3[1] == pytest.approx(np.pi, abs=1e-12)
    tri = primitives.single_triangle()
    _, c1 = _mesh_connection(tri)
    assert len(c1.edge_src) == 6 and np.all(np.isfinite(c1.transport))
    empty = levi_civita_connection(np.zeros((0, 3)), np.zeros((0, 3), np.int64), vertex_frames(np.zeros((0, 3))))
    assert len(empty.edge_src) == 0


def test_errors(sphere):
    fr, conn = _mesh_connection(sphere)
    with pytest.raises(GeometryError, match="not joined"):
        holonomy(conn, [0, 100, 200])
    with pytest.raises(ValueError, match="boundary"):
        levi_civita_connection(sphere.verts, sphere.faces, fr, boundary="flat")
    with pytest.raises(ValueError, match="weights"):
        connection_laplacian(sphere.verts, sphere.faces, conn, weights="mean")
    with pytest.raises(ValueError):
        transport_vectors(conn, np.arange(3), np.zeros((4, 2)))


# ----------------------------------------------------------------------------- Laplacian


def test_connection_laplacian_hermitian_psd(torus_mesh, sphere_cloud):
    for s in (torus_mesh,):
        fr, conn = _mesh_connection(s)
        for w in ("cotan", "uniform"):
            lap = connection_laplacian(s.verts, s.faces, conn, weights=w)
            assert lap.dtype == np.complex128 and lap.shape == (len(s.verts),) * 2
            assert abs(lap - lap.getH()).max() < 1e-14
            assert np.linalg.eigvalsh(lap.toarray()).min() > -1e-10
    v = sphere_cloud.verts[:600]
    fr = vertex_frames(v, n_neighbors=12)
    conn = levi_civita_connection(v, None, fr, n_neighbors=12)
    lap = connection_laplacian(v, None, conn)
    assert abs(lap - lap.getH()).max() < 1e-14
    assert np.linalg.eigvalsh(lap.toarray()).min() > -1e-10


def test_connection_laplacian_cotan_weights_match_igl(torus_mesh):
    s = torus_mesh
    _, conn = _mesh_connection(s)
    lap = connection_laplacian(s.verts, s.faces, conn)
    cot = -igl.cotmatrix(s.verts, s.faces)
    np.testing.assert_allclose(np.abs(lap.toarray()), np.abs(cot.toarray()), atol=1e-12)


def test_connection_laplacian_flat_plane_spectrum(plane):
    fr, conn = _mesh_connection(plane, boundary="wedge")
    lap = connection_laplacian(plane.verts, plane.faces, conn).toarray()
    cot = -igl.cotmatrix(plane.verts, plane.faces).toarray()
    np.testing.assert_allclose(np.linalg.eigvalsh(lap), np.linalg.eigvalsh(cot), atol=1e-10)
    # the connection Laplacian is the scalar one conjugated by the frames' rotation
    g = _x_angle(fr)
    d = np.exp(1j * g)
    np.testing.assert_allclose(lap, np.conj(d)[:, None] * cot * d[None, :], atol=1e-12)


def test_connection_laplacian_sphere_spectrum():
    # Rough Laplacian on tangent fields of the unit sphere: eigenvalues l(l+1) - 1, l >= 1, i.e.
    # 1 (complex multiplicity 3, i.e. the 6 real fields grad Y_1m and their rotations), then 5.
    errs = []
    for sub in (1, 2, 3):
        s = primitives.icosphere(sub)
        _, conn = _mesh_connection(s)
        lap = connection_laplacian(s.verts, s.faces, conn).toarray()
        mass = np.diag(vertex_areas(s.verts, s.faces))
        ev = sla.eigh(lap, mass, eigvals_only=True, subset_by_index=[0, 3])
        assert ev[0] > 0.9
        errs.append(abs(ev[3] - 5.0))
        if sub >= 2:
            np.testing.assert_allclose(ev[:3], 1.0, atol=1e-3)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.05


def test_point_cloud_connection_laplacian_sphere_spectrum():
    import robust_laplacian

    v = primitives.sphere_point_cloud(800).verts
    fr = vertex_frames(v)
    conn = levi_civita_connection(v, None, fr, n_neighbors=30)
    lap = connection_laplacian(v, None, conn).toarray()
    _, mass = robust_laplacian.point_cloud_laplacian(v)
    ev = sla.eigh(lap, mass.toarray(), eigvals_only=True, subset_by_index=[0, 3])
    np.testing.assert_allclose(ev[:3], 1.0, atol=0.1)
    assert 4.0 < ev[3] < 5.5


def test_connection_permutation_and_rigid_motion(torus_mesh, rng):
    from scipy.spatial.transform import Rotation

    from geodesic_nets.geometry.frames import TangentFrames

    v, f = torus_mesh.verts, torus_mesh.faces
    fr, conn = _mesh_connection(torus_mesh)
    perm = rng.permutation(len(v))
    inv = np.argsort(perm)
    fr_p = TangentFrames(fr.normals[perm], fr.basis_x[perm], fr.basis_y[perm])
    conn_p = levi_civita_connection(v[perm], inv[f], fr_p)
    e = conn_p.edge_index(inv[conn.edge_src], inv[conn.edge_dst])
    np.testing.assert_allclose(wrap_angle(conn_p.edge_angle[e] - conn.edge_angle), 0.0, atol=1e-12)
    np.testing.assert_allclose(wrap_angle(conn_p.transport[e] - conn.transport), 0.0, atol=1e-12)
    r = Rotation.from_euler("xyz", [0.4, 1.2, -0.3]).as_matrix()
    moved = v @ r.T - 2.0
    _, conn_r = _mesh_connection(primitives.Surface(moved, f))
    np.testing.assert_allclose(wrap_angle(conn_r.transport - conn.transport), 0.0, atol=1e-9)
    np.testing.assert_allclose(wrap_angle(conn_r.edge_angle - conn.edge_angle), 0.0, atol=1e-9)
