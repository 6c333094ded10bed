"""Quadric-error decimation: topology and shape kept, provenance of every vertex, bad input refused."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from geodesic_nets.errors import GeometryError
from geodesic_nets.geometry.decimation import decimate, non_manifold_edges
from geodesic_nets.shapes import icosphere, torus


def _euler(verts, faces):
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    return len(verts) - len(edges) + len(faces)


def _signed_volume(verts, faces):
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


def _mean_edge(verts, faces):
    return float(np.linalg.norm(verts[faces[:, 0]] - verts[faces[:, 1]], axis=1).mean())


def test_sphere_stays_a_sphere():
    s = icosphere(4)
    d = decimate(s.verts, s.faces, ratio=0.25)
    assert len(d.faces) <= round(0.25 * len(s.faces))
    assert len(d.faces) > 0.2 * len(s.faces)
    assert _euler(d.verts, d.faces) == 2
    assert len(non_manifold_edges(d.faces)) == 0
    r = np.linalg.norm(d.verts, axis=1)
    assert np.abs(r - 1).max() < 0.02
    # orientation kept: the enclosed volume keeps its sign and nearly its value (4/3 pi)
    assert _signed_volume(d.verts, d.faces) == pytest.approx(_signed_volume(s.verts, s.faces), rel=0.03)
    assert d.faces.dtype == np.int64 and d.verts.dtype == np.float64
    assert np.unique(d.faces).size == len(d.verts)  # no unreferenced vertex


def test_torus_keeps_its_genus_and_every_vertex_knows_its_source():
    s = torus(40, 20)
    d = decimate(s.verts, s.faces, target_faces=600)
    assert len(d.faces) <= 600
    assert _euler(d.verts, d.faces) == 0
    assert d.source_vertex.shape == (len(d.verts),)
    assert len(np.unique(d.source_vertex)) == len(d.verts)
    assert d.source_vertex.min() >= 0 and d.source_vertex.max() < len(s.verts)
    assert d.source_face.shape == (len(d.faces),) and d.source_face.max() < len(s.faces)
    # a vertex moves to its quadric optimum, near where it was born
    moved = np.linalg.norm(d.verts - s.verts[d.source_vertex], axis=1)
    assert np.median(moved) < 2 * _mean_edge(s.verts, s.faces)


def _non_manifold_reference(faces):
    """Undirected edges whose faces are not one, or two running it in opposite directions."""
    uses = defaultdict(list)
    for f in faces:
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            uses[(min(a, b), max(a, b))].append(a < b)
    bad = [e for e, dirs in uses.items() if len(dirs) > 2 or (len(dirs) == 2 and dirs[0] == dirs[1])]
    return np.array(sorted(bad), dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("seed", range(5))
def test_non_manifold_edges_match_the_obvious_loop(seed):
    rng = np.random.default_rng(seed)
    s = icosphere(1)
    faces = s.faces.copy()
    flip = rng.random(len(faces)) < 0.1
    faces[flip] = faces[flip][:, ::-1]
    extra = rng.integers(0, len(s.verts), size=(5, 3))
    extra = extra[(extra[:, 0] != extra[:, 1]) & (extra[:, 1] != extra[:, 2]) & (extra[:, 0] != extra[:, 2])]
    faces = np.concatenate([faces, extra])
    np.testing.assert_array_equal(non_manifold_edges(faces), _non_manifold_reference(faces))


def test_manifold_mesh_has_no_bad_edges():
    s = torus(12, 8)
    assert non_manifold_edges(s.faces).shape == (0, 2)


def test_non_manifold_and_misoriented_meshes_are_refused():
    s = icosphere(2)
    fin = np.concatenate([s.faces, [[s.faces[0, 0], s.faces[0, 1], len(s.verts)]]])
    verts = np.concatenate([s.verts, [[2.0, 0.0, 0.0]]])
    with pytest.raises(GeometryError, match="shared by 3 faces"):
        decimate(verts, fin, ratio=0.5)
    degenerate = s.faces.copy()
    degenerate[0, 2] = degenerate[0, 0]
    with pytest.raises(GeometryError, match="repeats a vertex"):
        decimate(s.verts, degenerate, ratio=0.5)
    flipped = s.faces.copy()
    flipped[0] = flipped[0, ::-1]
    with pytest.raises(GeometryError, match="inconsistently oriented"):
        decimate(s.verts, flipped, ratio=0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"ratio": 0.5, "target_faces": 10}, "exactly one"),
    ({"ratio": 1.0}, "ratio must be in"),
    ({"ratio": 0.0}, "ratio must be in"),
    ({"target_faces": 3}, "target_faces must be in"),
    ({"target_faces": 10_000}, "target_faces must be in"),
    ({"target_faces": 10.5}, "must be an int"),
])
def test_bad_targets_are_refused(kwargs, message):
    s = icosphere(2)
    with pytest.raises(GeometryError, match=message):
        decimate(s.verts, s.faces, **kwargs)


def test_bad_arrays_are_refused():
    s = icosphere(1)
    verts = s.verts.copy()
    verts[3, 1] = np.nan
    with pytest.raises(GeometryError):
        decimate(verts, s.faces, ratio=0.5)
    with pytest.raises(GeometryError):
        decimate(s.verts, s.faces + len(s.verts), ratio=0.5)
    with pytest.raises(GeometryError):
        decimate(s.verts[:0], s.faces[:0], ratio=0.5)
