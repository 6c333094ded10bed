"""Deliberately broken meshes: the operator bundle is finite, or a clear project error comes out."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import GeodesicNetsError, Surface, compute_operators, primitives


def _finite(ops) -> bool:
    arrays = [ops.mass, ops.evals, ops.evecs, ops.laplacian.data, ops.gradient.data, ops.frames.normals,
              ops.frames.basis_x, ops.connection.transport, ops.connection.edge_angle]
    return all(np.all(np.isfinite(a)) for a in arrays)


def _broken_meshes() -> dict[str, Surface]:
    quad = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    tri = primitives.single_triangle()
    s = primitives.icosphere(1)
    t = primitives.torus(8, 4)
    return {
        # three faces on one edge (0, 1)
        "non_manifold_fan": Surface(np.vstack([quad, [[0.5, -1, 0], [0.5, 0, 1]]]),
                                    [[0, 1, 2], [1, 0, 4], [0, 1, 5]]),
        # two fans meeting at vertex 0 (bow tie)
        "bow_tie": Surface(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]]),
                           [[0, 1, 2], [0, 3, 4]]),
        "zero_area_faces": Surface(np.vstack([s.verts, s.verts[:1]]),
                                   np.vstack([s.faces, [[0, 1, len(s.verts)]], [[2, 2, 3]]])),
        "duplicate_vertices": Surface(np.vstack([s.verts, s.verts[:5]]), s.faces),
        "isolated_vertices": Surface(np.vstack([s.verts, [[5.0, 5, 5], [6, 6, 6]]]), s.faces),
        "two_components": Surface(np.vstack([s.verts, t.verts + 4.0]), np.vstack([s.faces, t.faces + len(s.verts)])),
        "single_triangle": tri,
        "collinear_triangle": Surface(np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]), [[0, 1, 2]]),
        "flipped_face": Surface(s.verts, np.vstack([s.faces[:1, ::-1], s.faces[1:]])),
        "all_points_equal": Surface(np.zeros((4, 3)), [[0, 1, 2], [0, 2, 3]]),
    }


@pytest.mark.parametrize("laplacian", ["cotan", "robust"])
@pytest.mark.parametrize("name", sorted(_broken_meshes()))
def test_broken_mesh_gives_finite_operators_or_project_error(name, laplacian):
    surface = _broken_meshes()[name]
    try:
        ops = compute_operators(surface, k_eig=12, laplacian=laplacian, patch_size=4)
    except GeodesicNetsError as exc:
        assert str(exc)  # a message, not an empty error
        return
    assert _finite(ops), name
    assert ops.evals.shape[0] <= surface.num_verts
    gram = ops.evecs.T @ (ops.mass[:, None] * ops.evecs)
    np.testing.assert_allclose(gram, np.eye(len(ops.evals)), atol=1e-6)


def test_two_components_have_two_zero_eigenvalues():
    ops = compute_operators(_broken_meshes()["two_components"], k_eig=6)
    assert np.sum(ops.evals < 1e-8) == 2 and ops.evals[2] > 1e-3


def test_point_cloud_with_duplicate_points_is_finite():
    pc = primitives.sphere_point_cloud(300)
    dup = Surface(np.vstack([pc.verts, pc.verts[:10]]))
    try:
        ops = compute_operators(dup, k_eig=8)
    except GeodesicNetsError:
        return
    assert _finite(ops)


@pytest.mark.parametrize("name", sorted(_broken_meshes()))
def test_broken_mesh_gives_finite_anisotropic_kernels_or_project_error(name):
    from geodesic_nets import AnisotropicSettings

    surface = _broken_meshes()[name]
    try:
        ops = compute_operators(surface, k_eig=12, patch_size=4,
                                anisotropic=AnisotropicSettings(n_orientations=2, k_eig=8))
    except GeodesicNetsError as exc:
        assert str(exc)
        return
    assert ops.patch_kernels.shape == (len(ops.patches), 4)
    assert np.all(np.isfinite(ops.patch_kernels)) and (ops.patch_kernels >= 0).all(), name


def _degenerate_clouds() -> dict[str, tuple[np.ndarray, str]]:
    rng = np.random.default_rng(0)
    line = np.linspace(0.0, 1.0, 40)
    return {
        "identical": (np.full((40, 3), 2.5), "identical"),
        "collinear": (np.c_[line, 2 * line, -line] + 3.0, "one line"),
        "three_points": (rng.random((3, 3)), "at least 4 points"),
        "collinear_tiny_scale": (np.c_[line, line, line] * 1e-150, "one line"),
    }


@pytest.mark.parametrize("name", list(_degenerate_clouds()))
def test_degenerate_point_cloud_is_a_geometry_error_before_the_extensions(name):
    """robust_laplacian and potpourri3d abort in C++ on these; the package says why first."""
    from geodesic_nets import GeometryError
    from geodesic_nets.geometry import HeatGeodesicSolver

    verts, message = _degenerate_clouds()[name]
    with pytest.raises(GeometryError, match=message):
        compute_operators(Surface(verts, None), k_eig=2)
    with pytest.raises(GeometryError, match=message):
        HeatGeodesicSolver(verts, None)


def test_small_point_clouds_work_or_say_why():
    from geodesic_nets import GeometryError
    from geodesic_nets.geometry import HeatGeodesicSolver

    pts = np.random.default_rng(1).random((12, 3))
    ops = compute_operators(Surface(pts, None), k_eig=5)  # the Laplacian takes 11 neighbours here
    assert _finite(ops)
    with pytest.raises(GeometryError, match="at least 31 points"):
        HeatGeodesicSolver(pts, None)  # potpourri3d's cloud solver needs 30 neighbours
    d = HeatGeodesicSolver(np.random.default_rng(2).random((40, 3)), None).distance(0)
    assert np.isfinite(d).all() and d[0] == 0


@pytest.mark.parametrize("case, message", [("tiny", "mean edge length"), ("huge", "mean edge length"),
                                           ("collapsed", "length 0")])
def test_heat_method_on_unusable_scales_says_why_before_geometry_central(case, message):
    from geodesic_nets import GeometryError
    from geodesic_nets.geometry import HeatGeodesicSolver

    s = primitives.icosphere(2)
    verts = {"tiny": s.verts * 1e-150, "huge": s.verts * 1e150, "collapsed": np.zeros_like(s.verts)}[case]
    with pytest.raises(GeometryError, match=message) as info:
        HeatGeodesicSolver(verts, s.faces)
    assert "checkFinite" not in str(info.value)
    # a large offset and a moderate scale still work
    for ok in (s.verts + 1e6, s.verts * 1e-60):
        assert np.isfinite(HeatGeodesicSolver(ok, s.faces).distance(0)).all()


def test_extreme_scale_spread_is_warned_about(caplog):
    s = primitives.torus(16, 8)
    v = s.verts.copy()
    v[: len(v) // 2] *= 1e15
    v[len(v) // 2:] *= 1e-15
    with caplog.at_level("WARNING", logger="geodesic_nets.operators"):
        compute_operators(Surface(v, s.faces, name="mixed"), k_eig=8)
    assert any("mixed's edge lengths span" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="geodesic_nets.operators"):
        compute_operators(s, k_eig=8)
    assert not any("edge lengths" in r.getMessage() for r in caplog.records)
