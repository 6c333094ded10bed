"""``torch_scatter.scatter`` / ``scatter_sum`` on torch's native ``scatter_reduce`` (see ../README.md)."""

from __future__ import annotations

import torch

__all__ = ["scatter", "scatter_sum"]

_REDUCE = {"sum": "sum", "add": "sum", "mean": "mean", "min": "amin", "max": "amax", "mul": "prod"}


def scatter(src: torch.Tensor, index: torch.Tensor, dim: int = -1, out: torch.Tensor | None = None,
            dim_size: int | None = None, reduce: str = "sum") -> torch.Tensor:
    """Reduce ``src`` along ``dim`` into the slots named by ``index`` (broadcast over the other
    dimensions as torch_scatter does); empty slots hold 0."""
    if out is not None:
        raise NotImplementedError("this stand-in does not take out=")
    dim = dim % src.dim()
    if index.dim() == 1 and src.dim() > 1:
        shape = [1] * src.dim()
        shape[dim] = -1
        index = index.view(shape).expand_as(src)
    size = list(src.shape)
    size[dim] = dim_size if dim_size is not None else (int(index.max()) + 1 if index.numel() else 0)
    result = torch.zeros(size, dtype=src.dtype, device=src.device)
    return result.scatter_reduce(dim, index, src, reduce=_REDUCE[reduce], include_self=False)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim: int = -1, out: torch.Tensor | None = None,
                dim_size: int | None = None) -> torch.Tensor:
    return scatter(src, index, dim, out, dim_size, reduce="sum")
