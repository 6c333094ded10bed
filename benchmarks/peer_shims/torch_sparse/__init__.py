"""Import-only stand-in for ``torch_sparse`` (see ../README.md): GEM-CNN's multiscale radius graph,
the one user of ``coalesce``, is not part of the benchmark."""

from __future__ import annotations

__all__ = ["coalesce"]


def coalesce(*args, **kwargs):
    raise NotImplementedError("torch_sparse.coalesce is not provided by the benchmark's stand-in")
