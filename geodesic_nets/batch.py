"""MeshBatch: many surfaces of different sizes packed into one batch (torch).

Vertices, faces, directed edges and patches of the B members are concatenated; index arrays get
their offsets added explicitly at collate time, sparse operators become block diagonal, and the
eigenbases stay per mesh (rows concatenated, no padding in V). ``to_padded`` gives a dense
``(B, V_max, C)`` view with a mask where one is needed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from .errors import GeodesicNetsError
from .operators import OperatorTensors, SurfaceOperators, move_tensor_fields

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


@dataclass(frozen=True, eq=False)
class MeshBatch:
    """B surfaces (meshes and point clouds) packed together.

    With V, F, E, P the totals over the batch and K the largest number of eigenpairs:

    Attributes
    ----------
    verts : Tensor, shape (V, 3)
    num_verts : Tensor, shape (B,), int64
    mesh_first_vert : Tensor, shape (B,), int64
        Offset of each member's first vertex.
    vert_to_mesh : Tensor, shape (V,), int64
    faces : Tensor, shape (F, 3), int64
        Faces of the mesh members with vertex offsets applied (F = 0 for point clouds).
    face_to_mesh : Tensor, shape (F,), int64
    mass : Tensor, shape (V,)
    laplacian, gradient_x, gradient_y : sparse Tensor, shape (V, V)
        Block diagonal.
    evals : Tensor, shape (B, K)
        Zero-padded where a member has fewer eigenpairs (see ``eig_mask``).
    eig_mask : Tensor, shape (B, K), bool
    evecs : Tensor, shape (V, K)
        Rows of each member's M-orthonormal eigenvectors, zero columns beyond its count.
    normals, basis_x, basis_y : Tensor, shape (V, 3)
    edge_src, edge_dst : Tensor, shape (E,), int64
        Directed edges with vertex offsets applied.
    transport, edge_angle, edge_length : Tensor, shape (E,)
    patch_center, patch_neighbor : Tensor, shape (P,), int64, or None
    patch_rho, patch_theta : Tensor, shape (P,), or None
    patch_kernels : Tensor, shape (P, S), or None
        Spectral anisotropic heat kernels at the patch entries (gauge-free: not changed by
        :meth:`rotate_gauge`).
    """

    verts: torch.Tensor
    num_verts: torch.Tensor
    mesh_first_vert: torch.Tensor
    vert_to_mesh: torch.Tensor
    faces: torch.Tensor
    face_to_mesh: torch.Tensor
    mass: torch.Tensor
    laplacian: torch.Tensor
    gradient_x: torch.Tensor
    gradient_y: torch.Tensor
    evals: torch.Tensor
    eig_mask: torch.Tensor
    evecs: torch.Tensor
    normals: torch.Tensor
    basis_x: torch.Tensor
    basis_y: torch.Tensor
    edge_src: torch.Tensor
    edge_dst: torch.Tensor
    transport: torch.Tensor
    edge_angle: torch.Tensor
    edge_length: torch.Tensor
    patch_center: torch.Tensor | None = None
    patch_neighbor: torch.Tensor | None = None
    patch_rho: torch.Tensor | None = None
    patch_theta: torch.Tensor | None = None
    patch_kernels: torch.Tensor | None = None

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
            On an empty list, or members whose patches (or anisotropic patch kernels) are present
            for some and not others.
        """
        if len(members) == 0:
            raise GeodesicNetsError("cannot build a MeshBatch from no surfaces")
        ts: list[OperatorTensors] = [
            m.to(device, dtype) if isinstance(m, SurfaceOperators) else m.to(device, dtype) for m in members
        ]
        dev = ts[0].verts.device
        has_patches = [t.patch_center is not None for t in ts]
        if any(has_patches) and not all(has_patches):
            raise GeodesicNetsError("either every member of a batch has geodesic patches or none has")
        kernel_widths = {None if t.patch_kernels is None else int(t.patch_kernels.shape[1]) for t in ts}
        if len(kernel_widths) > 1:
            raise GeodesicNetsError(
                f"members of a batch must all have the same anisotropic patch kernels or none, got widths {kernel_widths}"
            )
        nv = torch.tensor([t.num_verts for t in ts], dtype=torch.int64, device=dev)
        first = torch.cumsum(nv, 0) - nv
        offs = first.tolist()
        B = len(ts)
        K = max(int(t.evals.shape[0]) for t in ts)
        ftype = ts[0].verts.dtype
        evals = torch.zeros(B, K, dtype=ftype, device=dev)
        eig_mask = torch.zeros(B, K, dtype=torch.bool, device=dev)
        evecs = []
        for b, t in enumerate(ts):
            k = t.evals.shape[0]
            evals[b, :k] = t.evals
            eig_mask[b, :k] = True
            evecs.append(torch.nn.functional.pad(t.evecs, (0, K - k)))
        faces = [t.faces + o for t, o in zip(ts, offs) if t.faces is not None]
        face_counts = [0 if t.faces is None else t.faces.shape[0] for t in ts]
        cat = torch.cat
        kwargs: dict[str, Any] = {}
        if all(has_patches):
            kwargs = dict(
                patch_center=cat([t.patch_center + o for t, o in zip(ts, offs)]),
                patch_neighbor=cat([t.patch_neighbor + o for t, o in zip(ts, offs)]),
                patch_rho=cat([t.patch_rho for t in ts]),
                patch_theta=cat([t.patch_theta for t in ts]),
                patch_kernels=None if ts[0].patch_kernels is None else cat([t.patch_kernels for t in ts]),
            )
        return cls(
            verts=cat([t.verts for t in ts]),
            num_verts=nv,
            mesh_first_vert=first,
            vert_to_mesh=torch.repeat_interleave(torch.arange(B, device=dev), nv),
            faces=cat(faces) if faces else torch.zeros(0, 3, dtype=torch.int64, device=dev),
            face_to_mesh=torch.repeat_interleave(torch.arange(B, device=dev), torch.tensor(face_counts, device=dev)),
            mass=cat([t.mass for t in ts]),
            laplacian=_block_diag([t.laplacian for t in ts]),
            gradient_x=_block_diag([t.gradient_x for t in ts]),
            gradient_y=_block_diag([t.gradient_y for t in ts]),
            evals=evals,
            eig_mask=eig_mask,
            evecs=cat(evecs),
            normals=cat([t.normals for t in ts]),
            basis_x=cat([t.basis_x for t in ts]),
            basis_y=cat([t.basis_y for t in ts]),
            edge_src=cat([t.edge_src + o for t, o in zip(ts, offs)]),
            edge_dst=cat([t.edge_dst + o for t, o in zip(ts, offs)]),
            transport=cat([t.transport for t in ts]),
            edge_angle=cat([t.edge_angle for t in ts]),
            edge_length=cat([t.edge_length for t in ts]),
            **kwargs,
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
            raise ValueError(f"phi must have shape (V,) = ({self.total_verts},), got {tuple(phi.shape)}")
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
