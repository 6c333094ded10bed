"""benchmarks/robustness_eval.py's perturbed copies: decimated segmentation meshes keep true labels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from robustness_eval import perturbed_copy, transfer_edge_labels  # noqa: E402

from geodesic_nets.data.human_seg import meshcnn_edges, read_eseg  # noqa: E402
from geodesic_nets.io import load, save  # noqa: E402
from geodesic_nets.shapes import icosphere  # noqa: E402


def _hemisphere_labels(verts, faces):
    """1 for edges whose midpoint is below the equator, 2 above (1-based, as in .eseg files)."""
    mid = verts[meshcnn_edges(faces)].mean(axis=1)
    return np.where(mid[:, 2] < 0, 1, 2)


def test_transferred_edge_labels_follow_the_surface():
    s = icosphere(3)
    from geodesic_nets.geometry.decimation import decimate

    d = decimate(s.verts, s.faces, ratio=0.3)
    got = transfer_edge_labels(s.verts, s.faces, _hemisphere_labels(s.verts, s.faces), d.verts, d.faces)
    want = _hemisphere_labels(d.verts, d.faces)
    assert got.shape == (len(meshcnn_edges(d.faces)),)
    assert np.mean(got == want) > 0.95  # only edges straddling the equator may disagree


def test_decimated_copy_of_a_segmentation_layout(tmp_path):
    root = tmp_path / "human_seg"
    (root / "test").mkdir(parents=True)
    (root / "seg").mkdir()
    s = icosphere(3)
    save(s, root / "test" / "ball.obj")
    (root / "seg" / "ball.eseg").write_text("".join(f"{x}\n" for x in _hemisphere_labels(s.verts, s.faces)))
    (root / "classes.txt").write_text("lower\nupper\n")

    out = tmp_path / "copy"
    assert perturbed_copy(root, out, seed=0, scale=(0.5, 2.0), decimate_ratio=0.5) == 1
    mesh = load(out / "test" / "ball.obj")
    labels = read_eseg(out / "seg" / "ball.eseg")
    assert len(mesh.faces) <= len(s.faces) // 2
    assert len(labels) == len(meshcnn_edges(mesh.faces))
    assert (out / "classes.txt").read_text() == "lower\nupper\n"
    # rotated and rescaled: no longer the unit sphere at the same place, but a sphere all the same
    r = np.linalg.norm(mesh.verts, axis=1)
    assert r.std() / r.mean() < 0.02 and not np.allclose(r.mean(), 1.0, atol=1e-3)
    # with neither perturbation the mesh is written back unchanged and labels are copied as they were
    same = tmp_path / "same"
    perturbed_copy(root, same, seed=0, scale=None, decimate_ratio=None)
    np.testing.assert_allclose(load(same / "test" / "ball.obj").verts, s.verts, atol=1e-6)
    assert (same / "seg" / "ball.eseg").read_text() == (root / "seg" / "ball.eseg").read_text()


def test_decimated_template_labels_point_back_to_the_template():
    from robustness_eval import decimated_template_labels

    from geodesic_nets.geometry.decimation import decimate

    s = icosphere(3)  # its vertex numbers play the template's
    d = decimate(s.verts, s.faces, ratio=0.3)
    label, corr = decimated_template_labels(s.verts, d.source_vertex)
    assert np.array_equal(label, d.source_vertex) and corr.shape == (len(s.verts),)
    assert np.array_equal(label[corr[label]], label)  # a kept template vertex is carried by itself
    # every template vertex is carried by the kept vertex whose source is nearest it
    src_pos = s.verts[label]
    nearest = np.linalg.norm(src_pos[None, :, :] - s.verts[:, None, :], axis=2).min(axis=1)
    assert np.allclose(np.linalg.norm(src_pos[corr] - s.verts, axis=1), nearest)
    assert nearest.max() < 0.3  # on the unit sphere, decimated to 30 %: nothing is far from a kept vertex
