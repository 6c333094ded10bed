"""compute_operators: the package's entry point to operator bundles, cached or not."""

from __future__ import annotations

from ..settings import AnisotropicSettings, OperatorSettings
from ..surface import Surface
from .bundle import SurfaceOperators
from .cache import OperatorCache
from .compute import compute_bundle, resolve_settings

__all__ = ["compute_operators"]


def compute_operators(
    surface: Surface,
    *,
    k_eig: int | None = None,
    laplacian: str | None = None,
    n_neighbors: int | None = None,
    patch_size: int | None = None,
    anisotropic: "AnisotropicSettings | dict | None" = None,
    settings: OperatorSettings | None = None,
    cache: "OperatorCache | str | None" = None,
) -> SurfaceOperators:
    """Compute (or load from ``cache``) the operator bundle of ``surface``.

    Parameters
    ----------
    surface : Surface
        A mesh or a point cloud with at least one vertex.
    k_eig, laplacian, n_neighbors, patch_size, anisotropic
        See :class:`~geodesic_nets.settings.OperatorSettings` (defaults 128, ``"cotan"``, 30, 0,
        None). With ``settings`` they may be left out, or must agree with it.
    settings : OperatorSettings, optional
    cache : OperatorCache or path, optional
        Opt-in disk cache; ``None`` computes without touching the disk.

    Raises
    ------
    GeometryError
        On an empty surface, or anisotropic kernels asked of a point cloud.
    ArgumentError
        When ``settings`` and a keyword disagree.
    """
    settings = resolve_settings(
        settings, k_eig=k_eig, laplacian=laplacian, n_neighbors=n_neighbors, patch_size=patch_size,
        anisotropic=anisotropic,
    )
    if cache is None:
        return compute_bundle(surface, settings)
    if not isinstance(cache, OperatorCache):
        cache = OperatorCache(cache)
    return cache.get_or_compute(surface, settings, compute_bundle)
