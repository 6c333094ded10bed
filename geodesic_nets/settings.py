"""Settings of the operator bundle: what to compute, validated once, hashed into the cache key."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal, get_args

__all__ = ["OperatorSettings", "LaplacianKind"]

LaplacianKind = Literal["cotan", "robust"]


@dataclass(frozen=True)
class OperatorSettings:
    """What :func:`geodesic_nets.compute_operators` computes.

    Parameters
    ----------
    k_eig : int
        Number of eigenpairs of the Laplacian (fewer on meshes with fewer vertices).
    laplacian : {"cotan", "robust"}
        Cotan Laplacian (libigl convention, sign flipped to be PSD) or the intrinsic-Delaunay
        tufted-cover "robust" Laplacian (robust-laplacian), which tolerates non-manifold and
        degenerate meshes. Point clouds always use the robust point-cloud Laplacian.
    n_neighbors : int
        Neighbourhood size for point clouds (Laplacian, normals, gradient, connection).
    patch_size : int
        Vertices per geodesic polar patch (the centre included) for the intrinsic patch layers;
        0 computes no patches.
    """

    k_eig: int = 128
    laplacian: LaplacianKind = "cotan"
    n_neighbors: int = 30
    patch_size: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.k_eig, int) or isinstance(self.k_eig, bool) or self.k_eig < 0:
            raise ValueError(f"k_eig must be a non-negative int, got {self.k_eig!r}")
        if self.laplacian not in get_args(LaplacianKind):
            raise ValueError(f"laplacian must be one of {get_args(LaplacianKind)}, got {self.laplacian!r}")
        if not isinstance(self.n_neighbors, int) or self.n_neighbors < 3:
            raise ValueError(f"n_neighbors must be an int >= 3, got {self.n_neighbors!r}")
        if not isinstance(self.patch_size, int) or isinstance(self.patch_size, bool) or self.patch_size < 0:
            raise ValueError(f"patch_size must be a non-negative int, got {self.patch_size!r}")

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), the form that enters the cache key."""
        return json.dumps(asdict(self), sort_keys=True)
