"""MeshBatch packing: offsets, block-diagonal operators, padded views, collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geodesic_nets import GeodesicNetsError, compute_operators, primitives
from geodesic_nets.batch import MeshBatch, collate


@pytest.fixture(scope="module")
def members():
    surfaces = [primitives.icosphere(2), primitives.torus(12, 6), primitives.sphere_point_cloud(300),
                primitives.single_triangle()]
    return [compute_operators(s, k_eig=16, patch_size=6) for s in surfaces]


def test_offsets_and_counts(members):
    b = MeshBatch.from_operators(members, dtype=torch.float64)
    nv = [m.num_verts for m in members]
    assert b.num_verts.tolist() == nv and b.total_verts == sum(nv)
    assert b.mesh_first_vert.tolist() == [0, nv[0], nv[0] + nv[1], sum(nv[:3])]
    assert b.faces.shape[0] == sum(m.faces.shape[0] for m in members if m.faces is not None)
    # the torus' faces point at its own vertices
    torus_faces = b.faces[b.face_to_mesh == 1]
    np.testing.assert_array_equal(torus_faces.numpy() - nv[0], members[1].faces)
    assert b.edge_src.max() < b.total_verts and (b.vert_to_mesh[b.edge_src] == b.vert_to_mesh[b.edge_dst]).all()
    assert b.eig_mask.sum(1).tolist() == [16, 16, 16, 3]


def test_block_diagonal_operators_act_like_members(members):
    b = MeshBatch.from_operators(members, dtype=torch.float64)
    x = torch.randn(b.total_verts, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lx = torch.sparse.mm(b.laplacian, x)
    gx = torch.sparse.mm(b.gradient_x, x)
    for m, xs, ls, gs in zip(members, b.split(x), b.split(lx), b.split(gx)):
        np.testing.assert_allclose(ls.numpy(), m.laplacian @ xs.numpy(), atol=1e-12)
        np.testing.assert_allclose(gs.numpy(), (m.gradient @ xs.numpy()).real, atol=1e-12)
    for m, ev in zip(members, b.split(b.evecs)):
        np.testing.assert_allclose(ev[:, : m.num_eigs].numpy(), m.evecs)
        assert (ev[:, m.num_eigs :] == 0).all()


def test_padded_round_trip(members):
    b = MeshBatch.from_operators(members)
    x = torch.arange(b.total_verts, dtype=torch.float32)[:, None].repeat(1, 2)
    padded, mask = b.to_padded(x, fill=-1.0)
    assert padded.shape == (4, max(m.num_verts for m in members), 2)
    assert mask.sum(1).tolist() == b.num_verts.tolist() and (padded[~mask] == -1).all()
    torch.testing.assert_close(b.from_padded(padded), x)


def test_collate_with_labels(members):
    items = [(m, torch.tensor(i), torch.full((m.num_verts,), i)) for i, m in enumerate(members)]
    batch, labels, vlabels = collate(items)
    assert labels.tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(vlabels, batch.vert_to_mesh)
    assert isinstance(collate(members), MeshBatch)
    with pytest.raises(GeodesicNetsError):
        collate([])


def test_patches_are_offset(members):
    b = MeshBatch.from_operators(members)
    assert (b.vert_to_mesh[b.patch_center] == b.vert_to_mesh[b.patch_neighbor]).all()
    mixed = [members[0], compute_operators(primitives.icosphere(1), k_eig=4)]
    with pytest.raises(GeodesicNetsError, match="patches"):
        MeshBatch.from_operators(mixed)


def test_to_device_and_dtype(members):
    b = MeshBatch.from_operators(members).to(dtype=torch.float64)
    assert b.evecs.dtype == torch.float64 and b.edge_src.dtype == torch.int64
    assert b.laplacian.dtype == torch.float64
