"""MeshBatch: many surfaces of different sizes packed into one batch (torch).

Vertices, faces, directed edges and patches of the B members are concatenated; index arrays get
their offsets added explicitly at collate time, sparse operators become block diagonal, and the
eigenbases stay per mesh (rows concatenated, no padding in V). ``to_padded`` gives a dense
``(B, V_max, C)`` view with a mask where one is needed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import torch

from .errors import ArgumentError, GeodesicNetsError
from .operators import TENSOR_FIELDS, OperatorTensors, SurfaceOperators, TensorField, move_tensor_fields, stage_of

__all__ = ["MeshBatch", "collate", "wrap_angle"]


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to ``(-pi, pi]``, same shape and dtype as ``a``."""
    return math.pi - torch.remainder(math.pi - a, 2 * math.pi)


def _scale_rows(mat: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``diag(d) @ mat`` for a sparse COO (V, V) matrix."""
    m = mat.coalesce()
    idx = m.indices()
    return torch.sparse_coo_tensor(idx, m.values() * d[idx[0]], m.shape, check_invariants=False).coalesce()


def _block_diag(mats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Block-diagonal sparse COO tensor of square sparse COO blocks."""
    idx, val, off = [], [], 0
    for m in mats:
        m = m.coalesce()
        idx.append(m.indices() + off)
        val.append(m.values())
        off += m.shape[0]
    return torch.sparse_coo_tensor(torch.cat(idx, 1), torch.cat(val), (off, off), check_invariants=False).coalesce()


#: Tensors of a batch that no single surface has: (name, docstring entry).
BATCH_ONLY_FIELDS: tuple[tuple[str, str], ...] = (
    ("num_verts", "Tensor, shape (B,), int64"),
    ("mesh_first_vert", "Tensor, shape (B,), int64: offset of each member's first vertex"),
    ("vert_to_mesh", "Tensor, shape (V,), int64"),
    ("face_to_mesh", "Tensor, shape (F,), int64"),
    ("eig_mask", "Tensor, shape (B, K), bool: True where a member has the eigenpair"),
)

_RULE_DOCS = {
    "cat": "",
    "vertex_index": ", vertex offsets applied",
    "block_diag": ", block diagonal",
    "eigen_values": ", zero-padded where a member has fewer eigenpairs (see eig_mask)",
    "eigen_vectors": ", each member's rows, zero columns beyond its count",
}


def _check_alike(field: TensorField, values: list[Any]) -> bool:
    """Whether the members have ``field`` at all; raises when some have it and others not."""
    present = [v is not None for v in values]
    if field.missing != "none":
        return True
    if any(present) and not all(present):
        raise GeodesicNetsError(
            f"either every member of a batch has {field.name} (the {stage_of(field.source).name!r} operators) "
            "or none has: compute them all with the same settings"
        )
    if any(present):
        trailing = {tuple(v.shape[1:]) for v in values}
        if len(trailing) > 1:
            raise GeodesicNetsError(f"members of a batch disagree on the shape of {field.name}: {sorted(trailing)}")
    return all(present)


def _pack(field: TensorField, values: list[Any], offsets: list[int], num_eigs: int, like: torch.Tensor) -> Any:
    """The batch tensor of ``field`` from its per-member ``values`` (rule ``field.batch``)."""
    if not _check_alike(field, values):
        return None
    rule = field.batch
    if rule == "cat":
        return torch.cat(values)
    if rule == "vertex_index":
        parts = [v + o for v, o in zip(values, offsets) if v is not None]
        if parts:
            return torch.cat(parts)
        return torch.zeros((0,) + tuple(field.shape[1:]), dtype=torch.int64, device=like.device)
    if rule == "block_diag":
        return _block_diag(values)
    if rule == "eigen_values":
        out = like.new_zeros(len(values), num_eigs)
        for b, v in enumerate(values):
            out[b, : v.shape[0]] = v
        return out
    if rule == "eigen_vectors":
        return torch.cat([torch.nn.functional.pad(v, (0, num_eigs - v.shape[1])) for v in values])
    raise AssertionError(f"unknown batch rule {rule!r} of {field.name}")  # the registry's Literal


class _MeshBatchMethods:
    """Methods of :class:`MeshBatch` (its fields come from the operator registry)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_operators(
        cls,
        members: Sequence[SurfaceOperators | OperatorTensors],
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> "MeshBatch":
        """Pack the operator bundles of ``members`` (numpy or torch form) into one batch.

        Raises
        ------
        GeodesicNetsError
            On an empty list, or members whose optional operators (patches, anisotropic patch
            kernels) are present for some and not others, or differ in width.
        """
        if len(members) == 0:
            raise GeodesicNetsError("cannot build a MeshBatch from no surfaces")
        ts: list[OperatorTensors] = [m.to(device, dtype) for m in members]
        dev = ts[0].verts.device
        nv = torch.tensor([t.num_verts for t in ts], dtype=torch.int64, device=dev)
        first = torch.cumsum(nv, 0) - nv
        offsets = first.tolist()
        num_eigs = max(int(t.evals.shape[0]) for t in ts)
        mesh_ids = torch.arange(len(ts), device=dev)
        face_counts = torch.tensor([0 if t.faces is None else t.faces.shape[0] for t in ts], device=dev)
        eig_counts = torch.tensor([int(t.evals.shape[0]) for t in ts], device=dev)
        packed = {
            f.name: _pack(f, [getattr(t, f.name) for t in ts], offsets, num_eigs, ts[0].verts)
            for f in TENSOR_FIELDS
        }
        return cls(
            num_verts=nv,
            mesh_first_vert=first,
            vert_to_mesh=torch.repeat_interleave(mesh_ids, nv),
            face_to_mesh=torch.repeat_interleave(mesh_ids, face_counts),
            eig_mask=torch.arange(num_eigs, device=dev)[None, :] < eig_counts[:, None],
            **packed,
        )

    # ------------------------------------------------------------------ properties
    @property
    def num_meshes(self) -> int:
        return int(self.num_verts.shape[0])

    @property
    def total_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def device(self) -> torch.device:
        return self.verts.device

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "MeshBatch":
        """Move every tensor to ``device``; cast floating tensors to ``dtype`` when given."""
        return move_tensor_fields(self, device, dtype)

    def rotate_gauge(self, phi: torch.Tensor) -> "MeshBatch":
        """The same batch expressed in frames rotated counter-clockwise by ``phi``.

        Parameters
        ----------
        phi : Tensor, shape (V,)
            Rotation angle of each vertex's frame about its normal.

        Returns
        -------
        MeshBatch
            ``basis_x, basis_y`` rotated; ``edge_angle[e] -= phi[src]``;
            ``transport[e] += phi[src] - phi[dst]``; ``patch_theta[p] -= phi[center]`` (when
            present); the complex gradient rows ``gradient_x + i gradient_y`` multiplied by
            ``exp(-i phi)``. Angles are wrapped to ``(-pi, pi]``; other fields are shared.
        """
        if phi.shape != (self.total_verts,):
            raise ArgumentError(f"phi must have shape (V,) = ({self.total_verts},), got {tuple(phi.shape)}")
        phi = phi.to(dtype=self.verts.dtype, device=self.device)
        c, s = torch.cos(phi), torch.sin(phi)  # (V,)
        bx, by = self.basis_x, self.basis_y
        src, dst = self.edge_src, self.edge_dst
        gx, gy = self.gradient_x, self.gradient_y
        changes = dict(
            basis_x=c[:, None] * bx + s[:, None] * by,
            basis_y=-s[:, None] * bx + c[:, None] * by,
            edge_angle=wrap_angle(self.edge_angle - phi[src]),
            transport=wrap_angle(self.transport + phi[src] - phi[dst]),
            # (gx + i gy) * exp(-i phi): gx' = c gx + s gy, gy' = -s gx + c gy
            gradient_x=(_scale_rows(gx, c) + _scale_rows(gy, s)).coalesce(),
            gradient_y=(_scale_rows(gy, c) - _scale_rows(gx, s)).coalesce(),
        )
        if self.patch_theta is not None:
            changes["patch_theta"] = wrap_angle(self.patch_theta - phi[self.patch_center])
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ views
    def local_index(self) -> torch.Tensor:
        """Index of each vertex inside its own mesh, shape (V,), int64."""
        return torch.arange(self.total_verts, device=self.device) - self.mesh_first_vert[self.vert_to_mesh]

    def to_padded(self, x: torch.Tensor, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense view of per-vertex features.

        Parameters
        ----------
        x : Tensor, shape (V, ...)

        Returns
        -------
        padded : Tensor, shape (B, V_max, ...)
            ``fill`` in the padding.
        mask : Tensor, shape (B, V_max), bool
            True at real vertices.
        """
        vmax = int(self.num_verts.max())
        padded = x.new_full((self.num_meshes, vmax) + tuple(x.shape[1:]), fill)
        li = self.local_index()
        padded[self.vert_to_mesh, li] = x
        mask = torch.zeros(self.num_meshes, vmax, dtype=torch.bool, device=self.device)
        mask[self.vert_to_mesh, li] = True
        return padded, mask

    def from_padded(self, padded: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_padded`: (B, V_max, ...) -> (V, ...)."""
        return padded[self.vert_to_mesh, self.local_index()]

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-member views of per-vertex features: B tensors of shape (V_b, ...)."""
        return torch.split(x, self.num_verts.tolist())


def _mesh_batch_class() -> type:
    required = [(name, Any) for name, _ in BATCH_ONLY_FIELDS]
    required += [(f.name, Any) for f in TENSOR_FIELDS if f.missing != "none"]
    optional = [(f.name, Any, dataclasses.field(default=None)) for f in TENSOR_FIELDS if f.missing == "none"]
    lines = [
        "B surfaces (meshes and point clouds) packed together (fields from the operator registry).",
        "",
        "With V, F, E, P the totals over the batch and K the largest number of eigenpairs:",
        "",
        "Attributes",
        "----------",
    ]
    lines += [f"{name} : {doc}" for name, doc in BATCH_ONLY_FIELDS]
    for f in TENSOR_FIELDS:
        kind = {"float": "Tensor", "index": "Tensor, int64", "sparse": "sparse Tensor"}[f.dtype]
        none = ", or None" if f.missing == "none" else ""
        lines.append(f"{f.name} : {kind}, shape {f.shape_text(batched=True)}{_RULE_DOCS[f.batch]}{none}")
    return dataclasses.make_dataclass(
        "MeshBatch", required + optional, bases=(_MeshBatchMethods,), frozen=True, eq=False,
        namespace={"__doc__": "\n".join(lines), "__module__": __name__},
    )


MeshBatch = _mesh_batch_class()


def collate(items: Sequence[Any]) -> Any:
    """``DataLoader`` collate function.

    Items are operator bundles, or tuples ``(operators, *rest)``: the bundles are packed into a
    :class:`MeshBatch`; each ``rest`` field is concatenated when it is a per-vertex tensor
    (first dimension V_b) and stacked otherwise (per-mesh labels).
    """
    if len(items) == 0:
        raise GeodesicNetsError("cannot collate an empty list")
    if isinstance(items[0], (SurfaceOperators, OperatorTensors)):
        return MeshBatch.from_operators(items)
    ops = [it[0] for it in items]
    batch = MeshBatch.from_operators(ops)
    out: list[Any] = [batch]
    for j in range(1, len(items[0])):
        col = [torch.as_tensor(it[j]) for it in items]
        per_vertex = all(c.dim() > 0 and c.shape[0] == o.num_verts for c, o in zip(col, ops))
        out.append(torch.cat(col) if per_vertex else torch.stack(col))
    return tuple(out)
