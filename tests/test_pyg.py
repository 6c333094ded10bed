"""PyTorch Geometric interop: round trips keep every vertex and face in order; batches match."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")

from geodesic_nets import GeodesicNetsError, Surface, compute_operators, primitives  # noqa: E402
from geodesic_nets.batch import MeshBatch  # noqa: E402
from geodesic_nets.pyg import batch_from_pyg, batch_to_pyg, from_pyg, to_pyg  # noqa: E402


def test_surface_round_trip_keeps_order_and_edges():
    s = primitives.bumpy_sphere(1, seed=2)
    data = to_pyg(s, x=torch.ones(s.num_verts, 2), dtype=torch.float64)
    assert data.pos.shape == (s.num_verts, 3) and data.face.shape == (3, s.num_faces)
    assert data.x.shape == (s.num_verts, 2)
    np.testing.assert_array_equal(data.face.T.numpy(), s.faces)
    # every undirected mesh edge appears once in each direction: 2E = 2 * (3F / 2) on a closed mesh
    assert data.edge_index.shape == (2, 3 * s.num_faces)
    pairs = set(map(tuple, data.edge_index.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    back = from_pyg(data)
    assert back == s  # same geometry hash: vertices and faces exactly as they were


def test_operators_give_the_connection_edges_and_point_clouds_work():
    cloud = primitives.sphere_point_cloud(200)
    ops = compute_operators(cloud, k_eig=8)
    data = to_pyg(ops)
    assert "face" not in data and data.edge_index.shape[0] == 2
    np.testing.assert_array_equal(data.edge_index[0].numpy(), ops.connection.edge_src)
    np.testing.assert_allclose(data.edge_attr[:, 0].numpy(), ops.connection.edge_length, rtol=1e-6)
    assert from_pyg(data).is_point_cloud
    assert from_pyg(to_pyg(cloud)).num_verts == 200


def test_batch_round_trip_matches_the_members():
    members = [primitives.bumpy_sphere(1, seed=1), primitives.torus(10, 6), primitives.icosphere(1)]
    batch = MeshBatch.from_operators([compute_operators(m, k_eig=6) for m in members])
    feats = torch.randn(int(batch.num_verts.sum()), 4)
    pyg_batch = batch_to_pyg(batch, x=feats)
    torch.testing.assert_close(pyg_batch.pos, batch.verts)
    np.testing.assert_array_equal(pyg_batch.batch.numpy(), batch.vert_to_mesh.numpy())
    torch.testing.assert_close(pyg_batch.x, feats)
    np.testing.assert_array_equal(pyg_batch.edge_index[0].numpy(), batch.edge_src.numpy())
    assert pyg_batch.face.shape[1] == batch.faces.shape[0]
    back = batch_from_pyg(pyg_batch)
    assert [b.num_verts for b in back] == [m.num_verts for m in members]
    for b, m in zip(back, members):
        np.testing.assert_array_equal(b.faces, m.faces)
        np.testing.assert_allclose(b.verts, m.verts, atol=1e-6)  # float32 in the batch


def test_bad_pyg_input_is_a_clear_error():
    from torch_geometric.data import Data

    with pytest.raises(GeodesicNetsError, match="pos"):
        from_pyg(Data(x=torch.ones(3, 1)))
    with pytest.raises(GeodesicNetsError, match=r"\(3, F\)"):
        from_pyg(Data(pos=torch.rand(4, 3), face=torch.tensor([[0, 1, 2]])))
    with pytest.raises(GeodesicNetsError, match="Surface or its operators"):
        to_pyg(np.zeros((3, 3)))
    with pytest.raises(GeodesicNetsError, match="shape"):
        to_pyg(primitives.icosphere(0), x=torch.ones(2, 1))
