"""PyTorch Geometric interop: surfaces and batches to and from ``Data`` / ``Batch`` (optional import).

PyG's conventions: ``pos`` (V, 3) float, ``face`` (3, F) int64 (faces as columns), ``edge_index``
(2, E) int64 with ``edge_index[0]`` the source of each directed edge, ``batch`` (V,) the graph of
each node. Only this module imports ``torch_geometric``, and only when it is called.

* :func:`to_pyg` / :func:`from_pyg`: one :class:`~geodesic_nets.surface.Surface` (or its
  operators, which add the connection's directed edges, their lengths and the vertex normals)
  to a ``Data`` and back.
* :func:`batch_to_pyg` / :func:`batch_from_pyg`: a :class:`~geodesic_nets.batch.MeshBatch` to a
  ``Batch`` (same vertex order, same offsets) and a ``Batch`` to a list of surfaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .batch import MeshBatch
from .errors import DependencyError, GeodesicNetsError
from .geometry.elements import directed_edges
from .operators import OperatorTensors, SurfaceOperators
from .surface import Surface

__all__ = ["to_pyg", "from_pyg", "batch_to_pyg", "batch_from_pyg"]


def _pyg():
    try:
        import torch_geometric.data as pyg_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError("geodesic_nets.pyg needs PyTorch Geometric: pip install torch_geometric") from exc
    return pyg_data


def to_pyg(shape: Surface | SurfaceOperators | OperatorTensors, *, x: torch.Tensor | None = None,
           dtype: torch.dtype = torch.float32) -> Any:
    """A ``torch_geometric.data.Data`` of a surface (vertex order kept).

    Parameters
    ----------
    shape : Surface, SurfaceOperators or OperatorTensors
        A :class:`Surface` gives ``pos``, ``face`` and the mesh's edges (a point cloud: no
        ``face``, no edges). Operators give their connection's directed edges instead (the
        k-nearest-neighbour graph on a point cloud) with ``edge_attr`` (E, 1) their lengths, and
        ``normal`` (V, 3).
    x : Tensor, shape (V, C), optional
        Node features.
    dtype : torch.dtype
        Floating type of ``pos`` (and ``normal``, ``edge_attr``).

    Returns
    -------
    torch_geometric.data.Data
    """
    Data = _pyg().Data
    if isinstance(shape, Surface):
        pos = torch.tensor(shape.verts, dtype=dtype)  # a copy: Surface arrays are read-only
        out = {"pos": pos}
        if shape.faces is not None:
            out["face"] = torch.as_tensor(shape.faces.T.copy(), dtype=torch.int64)
            src, dst = directed_edges(shape.faces, shape.num_verts)  # both directions, sorted
            out["edge_index"] = torch.as_tensor(np.stack([src, dst]), dtype=torch.int64)
        else:
            out["edge_index"] = torch.zeros(2, 0, dtype=torch.int64)
    elif isinstance(shape, (SurfaceOperators, OperatorTensors)):
        t = shape.to(dtype=dtype) if isinstance(shape, SurfaceOperators) else shape
        out = {"pos": t.verts.to(dtype), "edge_index": torch.stack([t.edge_src, t.edge_dst]).to(torch.int64),
               "edge_attr": t.edge_length.to(dtype).unsqueeze(1), "normal": t.normals.to(dtype)}
        if t.faces is not None:
            out["face"] = t.faces.T.contiguous().to(torch.int64)
    else:
        raise GeodesicNetsError(f"to_pyg takes a Surface or its operators, got {type(shape).__name__}")
    if x is not None:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] != out["pos"].shape[0]:
            raise GeodesicNetsError(f"x must be a tensor of shape ({out['pos'].shape[0]}, C), got "
                                    f"{getattr(x, 'shape', type(x).__name__)}")
        out["x"] = x
    return Data(**out)


def from_pyg(data: Any, *, name: str | None = None) -> Surface:
    """The :class:`Surface` of a ``Data`` with ``pos`` (and ``face``; without it a point cloud).

    Raises
    ------
    GeodesicNetsError
        No ``pos``, or ``face`` not of shape (3, F); :class:`Surface`'s own validation of the
        indices and coordinates follows.
    """
    pos = getattr(data, "pos", None)
    if pos is None:
        raise GeodesicNetsError("the PyG Data has no 'pos' (vertex positions)")
    face = getattr(data, "face", None)
    faces = None
    if face is not None:
        if face.dim() != 2 or face.shape[0] != 3:
            raise GeodesicNetsError(f"PyG 'face' must have shape (3, F), got {tuple(face.shape)}")
        faces = face.detach().cpu().numpy().T.astype(np.int64)
    return Surface(pos.detach().cpu().double().numpy(), faces, name=name)


def batch_to_pyg(batch: MeshBatch, *, x: torch.Tensor | None = None) -> Any:
    """A ``torch_geometric.data.Batch`` of a :class:`MeshBatch`: same vertices, same order.

    ``pos`` (V, 3), ``batch`` = ``vert_to_mesh``, ``edge_index`` the batch's directed edges
    (offsets applied), ``edge_attr`` (E, 1) their lengths, ``normal``, and ``face`` (3, F)
    when every member is a mesh; ``x`` (V, C) optional node features.
    ``Batch.to_data_list()`` gives the members back.
    """
    pyg = _pyg()
    datas = []
    for b in range(int(batch.num_verts.shape[0])):
        v0, nv = int(batch.mesh_first_vert[b]), int(batch.num_verts[b])
        emask = (batch.edge_src >= v0) & (batch.edge_src < v0 + nv)
        fields = {"pos": batch.verts[v0:v0 + nv],
                  "edge_index": torch.stack([batch.edge_src[emask], batch.edge_dst[emask]]) - v0,
                  "edge_attr": batch.edge_length[emask].unsqueeze(1), "normal": batch.normals[v0:v0 + nv]}
        fmask = batch.face_to_mesh == b
        if fmask.any():
            fields["face"] = (batch.faces[fmask] - v0).T.contiguous()
        if x is not None:
            fields["x"] = x[v0:v0 + nv]
        datas.append(pyg.Data(**fields))
    has_faces = ["face" in d for d in datas]
    if any(has_faces) and not all(has_faces):  # PyG cannot collate a key some members lack
        for d in datas:
            if "face" in d:
                del d["face"]
    return pyg.Batch.from_data_list(datas)


def batch_from_pyg(batch: Any) -> list[Surface]:
    """The surfaces of a ``torch_geometric.data.Batch`` (each member through :func:`from_pyg`)."""
    return [from_pyg(d) for d in batch.to_data_list()]
