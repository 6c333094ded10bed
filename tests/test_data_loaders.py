"""Dataset loaders: benchmark layouts on small subsets of ../shared/data, user folders, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_data_path

from geodesic_nets import OperatorSettings, io, primitives
from geodesic_nets.data import (
    FAUST,
    SHREC11,
    FAUSTRemeshed,
    FolderDataset,
    HumanSegmentation,
    collate_samples,
    edge_to_face_labels,
    edge_to_vertex_labels,
    meshcnn_edge_areas,
    meshcnn_edges,
    meshcnn_soft_labels,
    read_eseg,
)
from geodesic_nets.errors import GeodesicNetsError, MeshFormatError

SETTINGS = OperatorSettings(k_eig=16)
OPTS = dict(settings=SETTINGS, progress=False)


# ---------------------------------------------------------------------------- MeshCNN edges
def test_meshcnn_edges_hand_example():
    faces = np.array([[0, 1, 2], [2, 1, 3], [3, 4, 2]])
    edges, face_edges = meshcnn_edges(faces, return_face_edges=True)
    # Walk: (0,1) (1,2) (2,0) | (2,1)=old (1,3) (3,2) | (3,4) (4,2) (2,3)=old
    assert edges.tolist() == [[0, 1], [1, 2], [0, 2], [1, 3], [2, 3], [3, 4], [2, 4]]
    assert face_edges.tolist() == [[0, 1, 2], [1, 3, 4], [5, 6, 4]]
    assert np.array_equal(meshcnn_edges(faces), edges)


def test_edge_labels_to_vertices_and_faces():
    edges = np.array([[0, 1], [1, 2], [0, 2], [1, 3], [2, 3]])
    labels = np.array([0, 1, 1, 2, 2])
    # vertex 0: {0, 1} tie -> 0; vertex 1: {0, 1, 2} tie -> 0; vertex 2: {1, 1, 2} -> 1; vertex 3: {2, 2} -> 2
    assert edge_to_vertex_labels(edges, labels, 5, 3).tolist() == [0, 0, 1, 2, -1]
    face_edges = np.array([[0, 1, 2], [1, 3, 4], [0, 3, 1], [4, 0, 0]])
    # (0,1,1) -> 1; (1,2,2) -> 2; (0,2,1) all differ -> 0; (2,0,0) -> 0
    assert edge_to_face_labels(face_edges, labels).tolist() == [1, 2, 0, 0]


def test_meshcnn_soft_labels_and_edge_areas_hand_example():
    # Two triangles sharing edge (1, 2): face 0 = [0,1,2] (area 1/2), face 1 = [2,1,3] (area 3/2).
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 2, 0]])
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    edges, face_edges = meshcnn_edges(faces, return_face_edges=True)  # (0,1) (1,2) (0,2) (1,3) (2,3)
    edge_labels = np.array([0, 1, 0, 2, 2])
    soft = meshcnn_soft_labels(face_edges, edge_labels, 3)
    # Each edge accepts the labels of the other edges of its faces (its own is not looked at):
    # (0,1): (1,2),(0,2) -> {1, 0}; (1,2): (0,1),(0,2),(1,3),(2,3) -> {0, 2}; (0,2): {0, 1};
    # (1,3): (1,2),(2,3) -> {1, 2}; (2,3): {1, 2}.
    assert soft.dtype == bool and soft.tolist() == [
        [True, True, False], [True, False, True], [True, True, False], [False, True, True], [False, True, True]]
    a0, a1 = 0.5, 1.5
    areas = meshcnn_edge_areas(verts, faces, face_edges, len(edges))
    expect = np.array([a0, a0 + a1, a0, a1, a1]) / 3 / (a0 + a1)
    assert np.allclose(areas, expect) and areas.sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------- SHREC'11
def test_shrec11_random_split_is_seeded_and_partitions_each_class():
    root = shared_data_path("shrec11")
    kw = dict(classes=["alien", "ants"], n_train=3, **OPTS)
    train = SHREC11(root, split="train", seed=7, **kw)
    test = SHREC11(root.parent, split="test", seed=7, **kw)  # the parent directory works too
    assert train.class_names == ["alien", "ants"] and train.num_classes == 2
    assert len(train) == 6 and len(test) == 34
    names_tr, names_te = {s.name for s in train}, {s.name for s in test}
    assert not names_tr & names_te
    for label, cls in enumerate(["alien", "ants"]):
        pool = {f"{cls}/{p.stem}" for p in (root / cls).glob("*/*.obj")}
        assert {n for n in names_tr | names_te if n.startswith(cls + "/")} == pool
        assert all(int(s.label) == label for s in train if s.name.startswith(cls + "/"))
    assert train[0].label.shape == () and train[0].label.dtype == torch.int64
    same = SHREC11(root, split="train", seed=7, **kw)
    assert [s.name for s in same] == [s.name for s in train]
    other = SHREC11(root, split="train", seed=8, **kw)
    assert {s.name for s in other} != names_tr
    # A class's draw does not depend on which other classes are loaded.
    alone = SHREC11(root, split="train", seed=7, classes=["ants"], n_train=3, **OPTS)
    assert {s.name for s in alone} == {n for n in names_tr if n.startswith("ants/")}
    assert alone[0].label.item() == 0  # labels follow the loaded classes
    batch = collate_samples(train.samples[:3])
    assert batch.label.shape == (3,)


def test_shrec11_given_split_cache_and_class_errors(tmp_path):
    root = shared_data_path("shrec11")
    ds = SHREC11(root, split="test", split_mode="given", classes=["alien"], cache_dir=tmp_path, **OPTS)
    again = SHREC11(root, split="test", split_mode="given", classes=["alien"], cache_dir=tmp_path, **OPTS)
    assert [s.extra["cache_hit"] for s in ds] == [False] * 4 and [s.extra["cache_hit"] for s in again] == [True] * 4
    assert all(torch.equal(a.operators.evecs, b.operators.evecs) for a, b in zip(ds, again))
    assert sorted(s.name for s in ds) == sorted(f"alien/{p.stem}" for p in (root / "alien" / "test").glob("*.obj"))
    assert all(s.extra["area"] > 0 and s.operators.mass.sum().item() == pytest.approx(1, rel=1e-4) for s in ds)
    with pytest.raises(GeodesicNetsError, match="no class \\['martian'\\]"):
        SHREC11(root, classes=["martian"], **OPTS)
    with pytest.raises(GeodesicNetsError, match="has 20 items"):
        SHREC11(root, classes=["alien"], n_train=20, **OPTS)


# ---------------------------------------------------------------------------- FAUST and FAUST_r
def test_faust_and_faust_r_correspond_through_the_template():
    faust = FAUST(shared_data_path("faust"), split="test", shapes=[80], **OPTS)
    remeshed = FAUSTRemeshed(shared_data_path("faust_r").parent, split="test", shapes=[80, 81], **OPTS)
    f = faust[0]
    assert f.num_verts == 6890 and faust.num_classes == 6890 and faust.task == "correspondence"
    assert torch.equal(f.label, torch.arange(6890)) and torch.equal(f.corr, torch.arange(6890))
    assert f.extra["person"] == 8 and f.extra["pose"] == 0 and f.extra["split"] == "test"

    r80, r81 = remeshed
    assert r80.label is None and remeshed.task == "correspondence"
    raw = np.loadtxt(shared_data_path("faust_r", "corres", "tr_reg_080.vts"), dtype=np.int64)
    assert torch.equal(r80.corr, torch.from_numpy(raw - 1))
    assert len(r80.corr) == len(r81.corr) == 5000 and r80.extra["corr_sym"].shape == (5000,)
    assert remeshed.test_pairs() == [(0, 1)] and remeshed.test_pairs(ordered=True) == [(0, 1), (1, 0)]
    # The same person and pose, both normalized to area 1: corresponding points (FAUST_r's
    # reference points are FAUST template vertices sampleID - 1) lie within ~1% of each other,
    # which an off-by-one in the 1-based .vts indices or a reordered vertex list would break.
    a = f.operators.verts[f.corr][remeshed.template_ids]
    b = r80.operators.verts[r80.corr]
    d = (a - b).norm(dim=1)
    assert d.median().item() < 0.012
    shuffled = (a - b[torch.randperm(len(b), generator=torch.Generator().manual_seed(0))]).norm(dim=1)
    assert shuffled.median().item() > 0.2


def test_faust_shape_choice_and_layout_errors(tmp_path):
    with pytest.raises(ValueError, match="not in the 'train' split"):
        FAUST(shared_data_path("faust"), split="train", shapes=[85], **OPTS)
    with pytest.raises(GeodesicNetsError, match=f"neither {tmp_path}.*tr_reg_000.off"):
        FAUST(tmp_path, **OPTS)
    with pytest.raises(GeodesicNetsError, match="shapes/tr_reg_XXX.off and corres"):
        FAUSTRemeshed(tmp_path, **OPTS)
    (tmp_path / "faust_r" / "shapes").mkdir(parents=True)
    (tmp_path / "faust_r" / "corres").mkdir()
    with pytest.raises(GeodesicNetsError, match="missing, first .*tr_reg_080.off"):
        FAUSTRemeshed(tmp_path, split="test", **OPTS)


def test_vts_out_of_range_is_a_format_error(tmp_path):
    (tmp_path / "shapes").mkdir()
    (tmp_path / "corres").mkdir()
    io.save(primitives.icosphere(1), tmp_path / "shapes" / "tr_reg_000.off")
    (tmp_path / "corres" / "tr_reg_000.vts").write_text("1\n42\n0\n")
    with pytest.raises(MeshFormatError, match="tr_reg_000.vts.*entry 2 is 0, outside 1..42"):
        FAUSTRemeshed(tmp_path, split="train", shapes=[0], **OPTS)


# ---------------------------------------------------------------------------- human segmentation
def test_human_seg_labels_are_regions():
    root = shared_data_path("human_seg")
    names = ["shrec__1", "shrec__10", "shrec__2"]
    ds = HumanSegmentation(root.parent, split="test", names=names, **OPTS)
    assert [s.name for s in ds] == names and ds.num_classes == 8 and ds.task == "segmentation"
    for s in ds:
        v, f = s.num_verts, len(s.operators.faces)
        edges, edge_label = s.extra["edges"], s.extra["edge_label"]
        raw = read_eseg(root / "seg" / f"{s.name}.eseg")
        assert edges.shape == (len(raw), 2) and len(raw) == 3 * f // 2  # closed mesh: E = 3F/2
        assert torch.equal(edge_label, torch.from_numpy(raw - 1))
        assert s.label.shape == (v,) and s.face_label.shape == (f,)
        assert int(s.label.min()) >= 0 and int(s.label.max()) <= 7 and len(s.label.unique()) >= 6
        # Parts are regions: most edges join vertices of one part (MeshCNN's meshes are coarse,
        # about 11% of edges cross a part boundary), most faces have edges of a single label.
        same = (s.label[edges[:, 0]] == s.label[edges[:, 1]]).float().mean().item()
        assert same > 0.85
        _, face_edges = meshcnn_edges(s.operators.faces.numpy(), return_face_edges=True)
        fl = edge_label[torch.from_numpy(face_edges)]
        assert ((fl[:, 0] == fl[:, 1]) & (fl[:, 1] == fl[:, 2])).float().mean().item() > 0.85
        # Every face's label is the label of one of its edges and of one of its vertices.
        assert (fl == s.face_label[:, None]).any(1).all()
        assert (s.label[s.operators.faces] == s.face_label[:, None]).any(1).float().mean().item() > 0.99
        # MeshCNN's scoring: nearly every edge accepts its own label, those along a boundary two
        # or more, and the weights are a third of the faces' areas (summing to 1).
        soft, area = s.extra["edge_soft_labels"], s.extra["edge_area"]
        assert soft.shape == (len(raw), 8) and soft[torch.arange(len(raw)), edge_label].float().mean().item() > 0.99
        assert 0.05 < (soft.sum(1) > 1).float().mean().item() < 0.35
        assert area.dtype == torch.float64 and (area > 0).all() and float(area.sum()) == pytest.approx(1.0)
    batch = collate_samples(ds.samples)
    assert batch.label.shape == (sum(s.num_verts for s in ds),)


def _save_seg_layout(root, eseg_lines: int):
    (root / "train").mkdir(parents=True)
    (root / "seg").mkdir()
    mesh = primitives.icosphere(1)  # 42 verts, 80 faces, 120 edges
    io.save(mesh, root / "train" / "ball.obj")
    (root / "seg" / "ball.eseg").write_text("\n".join(str(1 + i % 8) for i in range(eseg_lines)) + "\n")
    return mesh


def test_human_seg_edge_count_mismatch_names_both_files(tmp_path):
    _save_seg_layout(tmp_path, 119)
    with pytest.raises(MeshFormatError, match=r"ball\.eseg has 119 edge labels but .*ball\.obj has 120 edges"):
        HumanSegmentation(tmp_path, split="train", **OPTS)
    assert len(HumanSegmentation(tmp_path, split="train", skip_bad=True, **OPTS)) == 0


def test_human_seg_small_layout_and_errors(tmp_path):
    mesh = _save_seg_layout(tmp_path / "human_seg", 120)
    ds = HumanSegmentation(tmp_path, split="train", **OPTS)
    expect = edge_to_vertex_labels(meshcnn_edges(mesh.faces), np.arange(120) % 8, 42, 8)
    assert torch.equal(ds[0].label, torch.from_numpy(expect))
    with pytest.raises(GeodesicNetsError, match="no test/ folder"):
        HumanSegmentation(tmp_path, split="test", **OPTS)
    with pytest.raises(GeodesicNetsError, match="train/\\*.obj, test/\\*.obj and seg/NAME.eseg"):
        HumanSegmentation(tmp_path / "human_seg" / "train", **OPTS)
    (tmp_path / "human_seg" / "seg" / "ball.eseg").unlink()
    with pytest.raises(GeodesicNetsError, match="label file.*missing.*ball.eseg"):
        HumanSegmentation(tmp_path, split="train", **OPTS)


# ---------------------------------------------------------------------------- user folders
def _classification_tree(root, layout: str):
    meshes = {"ball": primitives.icosphere(1), "ring": primitives.torus(12, 6)}
    for cls, mesh in meshes.items():
        for split, n in (("train", 2), ("test", 1)):
            folder = root / split / cls if layout == "split_first" else root / cls / split
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                io.save(mesh.with_verts(mesh.verts * (1 + i)), folder / f"{cls}{i}.off")


@pytest.mark.parametrize("layout", ["split_first", "class_first"])
def test_folder_classification_layouts(tmp_path, layout):
    _classification_tree(tmp_path, layout)
    train = FolderDataset(tmp_path, split="train", **OPTS)
    test = FolderDataset(tmp_path, split="test", **OPTS)
    everything = FolderDataset(tmp_path, **OPTS)
    assert train.class_names == test.class_names == ["ball", "ring"]
    assert sorted((s.name, int(s.label)) for s in train) == [("ball/ball0", 0), ("ball/ball1", 0), ("ring/ring0", 1), ("ring/ring1", 1)]
    assert len(test) == 2 and len(everything) == 6
    assert {s.extra["split"] for s in everything} == {"train", "test"}
    assert all(s.num_verts == (42 if int(s.label) == 0 else 72) for s in everything)


def test_folder_classification_parallel_matches_serial(tmp_path):
    _classification_tree(tmp_path, "class_first")
    serial = FolderDataset(tmp_path, split="train", **OPTS)
    parallel = FolderDataset(tmp_path, split="train", jobs=2, **OPTS)
    assert [s.name for s in parallel] == [s.name for s in serial]
    for a, b in zip(serial, parallel):
        assert torch.equal(a.operators.verts, b.operators.verts)
        torch.testing.assert_close(a.operators.evals, b.operators.evals)


def test_folder_segmentation_labels(tmp_path):
    a, b = primitives.icosphere(1), primitives.torus(10, 5)
    io.save(a, tmp_path / "a.obj")
    np.savetxt(tmp_path / "a.txt", np.arange(42) % 3, fmt="%d")
    io.save(b, tmp_path / "b.ply")
    np.save(tmp_path / "b.npy", (np.arange(50) % 5).astype(np.int32))
    ds = FolderDataset(tmp_path, task="segmentation", **OPTS)
    assert ds.num_classes == 5 and ds.task == "segmentation" and [s.name for s in ds] == ["a", "b"]
    assert torch.equal(ds[0].label, torch.arange(42) % 3) and ds[1].label.dtype == torch.int64
    np.savetxt(tmp_path / "a.txt", np.arange(41) % 3, fmt="%d")
    with pytest.raises(MeshFormatError, match=r"a\.txt has 41 labels but .*a\.obj has 42 vertices"):
        FolderDataset(tmp_path, task="segmentation", **OPTS)
    (tmp_path / "a.txt").unlink()
    with pytest.raises(GeodesicNetsError, match="a.obj has no label file"):
        FolderDataset(tmp_path, task="segmentation", **OPTS)


def test_folder_bad_file_and_bad_layout(tmp_path):
    with pytest.raises(GeodesicNetsError, match="is not a directory"):
        FolderDataset(tmp_path / "nowhere", **OPTS)
    with pytest.raises(GeodesicNetsError, match="no class folder"):
        FolderDataset(tmp_path, **OPTS)
    (tmp_path / "ball").mkdir()
    with pytest.raises(GeodesicNetsError, match="no shape file"):
        FolderDataset(tmp_path, **OPTS)
    io.save(primitives.icosphere(1), tmp_path / "ball" / "good.obj")
    (tmp_path / "ball" / "broken.obj").write_text("v 0 0 0\nf 1 2 3\n")
    with pytest.raises(GeodesicNetsError, match="broken.obj"):
        FolderDataset(tmp_path, **OPTS)
    ds = FolderDataset(tmp_path, skip_bad=True, **OPTS)
    assert [s.name for s in ds] == ["ball/good"]
    with pytest.raises(GeodesicNetsError, match="neither .* has the expected layout: one folder per class"):
        SHREC11(tmp_path / "ball", **OPTS)
