"""Settings of the operator bundle: what to compute, validated once, hashed into the cache key."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from .errors import ArgumentError

__all__ = ["OperatorSettings", "AnisotropicSettings", "LaplacianKind"]

LaplacianKind = Literal["cotan", "robust"]


def _positive_floats(values: Any, name: str, minimum: float, inclusive: bool) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a sequence of numbers, got {values!r}") from None
    ok = all(math.isfinite(v) and (v >= minimum if inclusive else v > minimum) for v in out)
    if not out or not ok:
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise ArgumentError(f"{name} must be a non-empty sequence of finite numbers {bound}, got {values!r}")
    return out


@dataclass(frozen=True)
class AnisotropicSettings:
    """Spectral anisotropic heat kernels on the geodesic patches (the ACNN patch operator).

    For every orientation ``theta_k = pi k / n_orientations`` and anisotropy ``alpha``, the
    anisotropic Laplacian with conductivity ``alpha`` along the direction at angle ``theta_k``
    from the principal (maximum) curvature direction is built, its ``k_eig`` smallest eigenpairs
    computed, and its heat kernel ``h_t(center, neighbor)`` evaluated at every patch entry (see
    :mod:`geodesic_nets.geometry.anisotropic`).

    Parameters
    ----------
    n_orientations : int
        Kernel orientations in ``[0, pi)``.
    anisotropy : sequence of float
        Conductivity ratios ``alpha >= 1`` along / across the orientation.
    times : sequence of float
        Diffusion times in units of ``A / (4 pi k_eig)`` (``A`` the total area), which is
        ``~ 1 / lambda_K`` by Weyl's law: the truncated expansion keeps ``exp(-t lambda)`` down
        to about ``exp(-time)``. Larger times give wider, better resolved kernels.
    k_eig : int
        Eigenpairs of each anisotropic Laplacian.
    """

    n_orientations: int = 8
    anisotropy: tuple[float, ...] = (10.0,)
    times: tuple[float, ...] = (1.0, 2.0)
    k_eig: int = 96

    def __post_init__(self) -> None:
        n = self.n_orientations
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ArgumentError(f"n_orientations must be a positive int, got {n!r}")
        if not isinstance(self.k_eig, int) or isinstance(self.k_eig, bool) or self.k_eig < 1:
            raise ArgumentError(f"k_eig must be a positive int, got {self.k_eig!r}")
        object.__setattr__(self, "anisotropy", _positive_floats(self.anisotropy, "anisotropy", 1.0, True))
        object.__setattr__(self, "times", _positive_floats(self.times, "times", 0.0, False))

    @property
    def num_kernels(self) -> int:
        """Kernels per patch entry: ``len(anisotropy) * len(times) * n_orientations``."""
        return len(self.anisotropy) * len(self.times) * self.n_orientations


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
    anisotropic : AnisotropicSettings or dict, optional
        Also compute spectral anisotropic heat kernels on the patches (triangle meshes with
        ``patch_size > 0`` only); a dict (e.g. a TOML table) is turned into the settings.
    """

    k_eig: int = 128
    laplacian: LaplacianKind = "cotan"
    n_neighbors: int = 30
    patch_size: int = 0
    anisotropic: AnisotropicSettings | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.k_eig, int) or isinstance(self.k_eig, bool) or self.k_eig < 0:
            raise ArgumentError(f"k_eig must be a non-negative int, got {self.k_eig!r}")
        if self.laplacian not in get_args(LaplacianKind):
            raise ArgumentError(f"laplacian must be one of {get_args(LaplacianKind)}, got {self.laplacian!r}")
        if not isinstance(self.n_neighbors, int) or self.n_neighbors < 3:
            raise ArgumentError(f"n_neighbors must be an int >= 3, got {self.n_neighbors!r}")
        if not isinstance(self.patch_size, int) or isinstance(self.patch_size, bool) or self.patch_size < 0:
            raise ArgumentError(f"patch_size must be a non-negative int, got {self.patch_size!r}")
        aniso = self.anisotropic
        if isinstance(aniso, dict):
            try:
                aniso = AnisotropicSettings(**aniso)
            except TypeError as exc:
                raise ArgumentError(f"anisotropic: {exc}") from None
            object.__setattr__(self, "anisotropic", aniso)
        if aniso is not None:
            if not isinstance(aniso, AnisotropicSettings):
                raise ArgumentError(f"anisotropic must be AnisotropicSettings, a dict or None, got {aniso!r}")
            if self.patch_size == 0:
                raise ArgumentError("anisotropic kernels live on the geodesic patches: set patch_size > 0")

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), the form that enters the cache key.

        ``anisotropic`` is left out when None, so that bundles without it keep the keys they had
        before the field existed.
        """
        d = asdict(self)
        if d["anisotropic"] is None:
            del d["anisotropic"]
        return json.dumps(d, sort_keys=True)
