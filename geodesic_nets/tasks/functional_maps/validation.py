"""Input checks shared by the functional-map modules: one error style, naming the offending input."""

from __future__ import annotations

import torch

from ...errors import ArgumentError, GeodesicNetsError

__all__ = ["check_matrix", "check_vector", "check_same_kind", "check_block_size", "check_pointmap", "check_index_set"]


def check_matrix(name: str, t, *, rows: int | None = None, cols: int | None = None) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise GeodesicNetsError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise GeodesicNetsError(f"{name} must be 2-D, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise GeodesicNetsError(f"{name} must be a floating tensor, got dtype {t.dtype}")
    if rows is not None and t.shape[0] != rows:
        raise GeodesicNetsError(f"{name} has {t.shape[0]} rows, expected {rows} (shape {tuple(t.shape)})")
    if cols is not None and t.shape[1] != cols:
        raise GeodesicNetsError(f"{name} has {t.shape[1]} columns, expected {cols} (shape {tuple(t.shape)})")
    return t


def check_vector(name: str, t, length: int) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise GeodesicNetsError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 1 or t.shape[0] != length:
        raise GeodesicNetsError(f"{name} must have shape ({length},), got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise GeodesicNetsError(f"{name} must be a floating tensor, got dtype {t.dtype}")
    return t


def check_same_kind(**tensors: torch.Tensor) -> None:
    """All tensors on one device with one floating dtype, or an error naming the odd one."""
    items = [(k, v) for k, v in tensors.items() if v is not None]
    name0, t0 = items[0]
    for name, t in items[1:]:
        if t.device != t0.device:
            raise GeodesicNetsError(f"{name} is on {t.device} but {name0} is on {t0.device}")
        if t.dtype != t0.dtype:
            raise GeodesicNetsError(f"{name} has dtype {t.dtype} but {name0} has {t0.dtype}")


def check_block_size(block_size) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ArgumentError(f"block_size must be a positive int, got {block_size!r}")
    return block_size


def check_pointmap(p2p, num_verts_b: int, num_verts_a: int, device: torch.device) -> torch.Tensor:
    if not isinstance(p2p, torch.Tensor):
        raise GeodesicNetsError(f"p2p must be a torch.Tensor, got {type(p2p).__name__}")
    if p2p.dim() != 1 or p2p.shape[0] != num_verts_b:
        raise GeodesicNetsError(f"p2p must have shape ({num_verts_b},) (one entry per vertex of b), got {tuple(p2p.shape)}")
    if p2p.dtype not in (torch.int64, torch.int32):
        raise GeodesicNetsError(f"p2p must be an integer index tensor, got dtype {p2p.dtype}")
    if p2p.numel():
        lo, hi = int(p2p.min()), int(p2p.max())
        if lo < 0 or hi >= num_verts_a:
            bad = lo if lo < 0 else hi
            raise GeodesicNetsError(f"p2p holds vertex {bad}, out of range for shape a with {num_verts_a} vertices")
    return p2p.to(device=device, dtype=torch.int64)



def check_index_set(name: str, idx, num_verts: int, device) -> torch.Tensor:
    if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.dtype not in (torch.int64, torch.int32):
        raise GeodesicNetsError(f"{name} must be a 1-D integer tensor of vertex indices, got {getattr(idx, 'shape', idx)!r}")
    if idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= num_verts:
        raise GeodesicNetsError(f"{name} must hold vertex indices in 0..{num_verts - 1} (and at least one)")
    return idx.to(device=device, dtype=torch.int64)

