"""SurfaceOperators: the typed bundle of geometric operators a network needs.

:func:`compute_operators` builds it from a :class:`~geodesic_nets.Surface` (numpy/scipy, float64);
:meth:`SurfaceOperators.to` turns it into :class:`OperatorTensors` (torch, any device and dtype).
The optional disk cache lives in :mod:`geodesic_nets.cache`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .errors import GeometryError
from .geometry.anisotropic import anisotropic_heat_kernels
from .geometry.connection import Connection, levi_civita_connection
from .geometry.frames import TangentFrames, vertex_frames
from .geometry.gradient import tangent_gradient
from .geometry.laplacian import laplacian_and_mass
from .geometry.patches import GeodesicPatches, geodesic_patches
from .geometry.spectral import eigen_basis
from .settings import AnisotropicSettings, OperatorSettings
from .surface import Surface

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .cache import OperatorCache

__all__ = ["SurfaceOperators", "OperatorTensors", "compute_operators"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SurfaceOperators:
    """Geometric operators of one surface, numpy/scipy float64.

    Attributes
    ----------
    verts : ndarray, shape (V, 3)
    faces : ndarray, shape (F, 3) int64, or None for a point cloud
    mass : ndarray, shape (V,)
        Lumped (diagonal) mass matrix: the area each vertex stands for.
    laplacian : csr_matrix, shape (V, V)
        Positive semidefinite weak Laplacian (``L`` in ``L phi = lambda M phi``).
    evals : ndarray, shape (K,)
        Smallest eigenvalues of ``L phi = lambda M phi``, ascending.
    evecs : ndarray, shape (V, K)
        Matching eigenvectors, M-orthonormal (``evecs.T @ (mass[:, None] * evecs) = I``).
    gradient : csr_matrix, complex, shape (V, V)
        ``(gradient @ f)[i] = df/dx + 1j df/dy`` in vertex i's tangent frame.
    frames : TangentFrames
        Per-vertex normal and tangent basis (the gauge), each (V, 3).
    connection : Connection
        Directed edges (E,) with Levi-Civita transport angles, edge angles and lengths.
    settings : OperatorSettings
    patches : GeodesicPatches or None
        Geodesic polar patches of every vertex (``settings.patch_size`` entries each), or None.
    patch_kernels : ndarray, shape (P, S), or None
        Spectral anisotropic heat kernels at every patch entry (``settings.anisotropic``; see
        :func:`geodesic_nets.geometry.anisotropic.anisotropic_heat_kernels`), or None.
    timings : dict
        Seconds spent on each stage when it was computed (not recomputed from a cache hit).
    """

    verts: np.ndarray
    faces: np.ndarray | None
    mass: np.ndarray
    laplacian: sp.csr_matrix
    evals: np.ndarray
    evecs: np.ndarray
    gradient: sp.csr_matrix
    frames: TangentFrames
    connection: Connection
    settings: OperatorSettings
    patches: GeodesicPatches | None = None
    patch_kernels: np.ndarray | None = None
    timings: dict = field(default_factory=dict)

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def num_eigs(self) -> int:
        return int(self.evals.shape[0])

    def to(self, device: "str | torch.device | None" = None, dtype: "torch.dtype | None" = None) -> "OperatorTensors":
        """Torch tensors of every operator on ``device`` with floating dtype ``dtype``.

        Parameters
        ----------
        device : str or torch.device, optional
            Default CPU.
        dtype : torch.dtype, optional
            Floating dtype of real tensors (default ``torch.float32``); index tensors are int64.
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")

        def dense(a: np.ndarray) -> torch.Tensor:  # copies: the numpy arrays are read-only
            return torch.tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        def index(a: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.ascontiguousarray(a), dtype=torch.int64, device=device)

        def sparse(m: sp.spmatrix) -> torch.Tensor:
            coo = m.tocoo()
            idx = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64), device=device)
            val = torch.as_tensor(coo.data, dtype=dtype, device=device)
            # Indices come from a valid scipy matrix: skip torch's invariant checks.
            return torch.sparse_coo_tensor(idx, val, coo.shape, check_invariants=False).coalesce()

        grad = self.gradient.tocsr()
        c = self.connection
        p = self.patches
        return OperatorTensors(
            verts=dense(self.verts),
            faces=None if self.faces is None else index(self.faces),
            mass=dense(self.mass),
            laplacian=sparse(self.laplacian),
            evals=dense(self.evals),
            evecs=dense(self.evecs),
            gradient_x=sparse(grad.real),
            gradient_y=sparse(grad.imag),
            normals=dense(self.frames.normals),
            basis_x=dense(self.frames.basis_x),
            basis_y=dense(self.frames.basis_y),
            edge_src=index(c.edge_src),
            edge_dst=index(c.edge_dst),
            transport=dense(c.transport),
            edge_angle=dense(c.edge_angle),
            edge_length=dense(c.edge_length),
            patch_center=None if p is None else index(p.center),
            patch_neighbor=None if p is None else index(p.neighbor),
            patch_rho=None if p is None else dense(p.rho),
            patch_theta=None if p is None else dense(p.theta),
            patch_kernels=None if self.patch_kernels is None else dense(self.patch_kernels),
        )


@dataclass(frozen=True, eq=False)
class OperatorTensors:
    """The torch form of :class:`SurfaceOperators` (see there for the meaning of each field).

    Shapes: verts (V, 3); faces (F, 3) int64 or None; mass (V,); laplacian sparse (V, V);
    evals (K,); evecs (V, K); gradient_x, gradient_y sparse (V, V); normals, basis_x, basis_y
    (V, 3); edge_src, edge_dst (E,) int64; transport, edge_angle, edge_length (E,);
    patch_center, patch_neighbor (P,) int64 and patch_rho, patch_theta (P,), or None without
    patches; patch_kernels (P, S) or None.
    """

    verts: "torch.Tensor"
    faces: "torch.Tensor | None"
    mass: "torch.Tensor"
    laplacian: "torch.Tensor"
    evals: "torch.Tensor"
    evecs: "torch.Tensor"
    gradient_x: "torch.Tensor"
    gradient_y: "torch.Tensor"
    normals: "torch.Tensor"
    basis_x: "torch.Tensor"
    basis_y: "torch.Tensor"
    edge_src: "torch.Tensor"
    edge_dst: "torch.Tensor"
    transport: "torch.Tensor"
    edge_angle: "torch.Tensor"
    edge_length: "torch.Tensor"
    patch_center: "torch.Tensor | None" = None
    patch_neighbor: "torch.Tensor | None" = None
    patch_rho: "torch.Tensor | None" = None
    patch_theta: "torch.Tensor | None" = None
    patch_kernels: "torch.Tensor | None" = None

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    def to(self, device: "str | torch.device | None" = None, dtype: "torch.dtype | None" = None) -> "OperatorTensors":
        """Move every tensor to ``device``; cast floating tensors to ``dtype`` when given."""
        return move_tensor_fields(self, device, dtype)


def move_tensor_fields(obj: Any, device: Any = None, dtype: "torch.dtype | None" = None) -> Any:
    """A copy of the dataclass ``obj`` with every tensor field moved to ``device``.

    Floating tensors are cast to ``dtype`` when given; index tensors keep theirs; None stays.
    """
    out = {}
    for f in fields(obj):
        t = getattr(obj, f.name)
        if t is None:
            out[f.name] = None
        elif t.is_floating_point() and dtype is not None:
            out[f.name] = t.to(device=device, dtype=dtype)
        else:
            out[f.name] = t.to(device=device)
    return type(obj)(**out)


def compute_operators(
    surface: Surface,
    *,
    k_eig: int = 128,
    laplacian: str = "cotan",
    n_neighbors: int = 30,
    patch_size: int = 0,
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
        See :class:`~geodesic_nets.settings.OperatorSettings`; ignored when ``settings`` is given.
    settings : OperatorSettings, optional
    cache : OperatorCache or path, optional
        Opt-in disk cache; ``None`` computes without touching the disk.

    Raises
    ------
    GeometryError
        On an empty surface, or anisotropic kernels asked of a point cloud.
    """
    if settings is None:
        settings = OperatorSettings(
            k_eig=k_eig, laplacian=laplacian, n_neighbors=n_neighbors, patch_size=patch_size,
            anisotropic=anisotropic,
        )
    if cache is not None:
        from .cache import OperatorCache

        if not isinstance(cache, OperatorCache):
            cache = OperatorCache(cache)
        return cache.get_or_compute(surface, settings)
    return _compute(surface, settings)


def _compute(surface: Surface, settings: OperatorSettings) -> SurfaceOperators:
    try:
        return _compute_bundle(surface, settings)
    except GeometryError as exc:
        name = surface.name or "surface"
        if name in str(exc):
            raise
        raise GeometryError(f"{name}: {exc}") from exc


def _compute_bundle(surface: Surface, settings: OperatorSettings) -> SurfaceOperators:
    if surface.num_verts == 0:
        raise GeometryError(f"{surface.name or 'surface'}: cannot compute operators of an empty surface")
    if surface.faces is not None and surface.num_faces == 0:
        raise GeometryError(f"{surface.name or 'surface'}: mesh has vertices but no faces; load it as a point cloud")
    verts, faces = surface.verts, surface.faces
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = time.perf_counter() - t0
        return out

    L, M = timed(
        "laplacian", laplacian_and_mass, verts, faces, method=settings.laplacian, n_neighbors=settings.n_neighbors
    )
    mass = np.asarray(M.diagonal(), dtype=np.float64)
    evals, evecs = timed("eigen", eigen_basis, L, M, settings.k_eig)
    frames = timed("frames", vertex_frames, verts, faces, n_neighbors=settings.n_neighbors)
    connection = timed("connection", levi_civita_connection, verts, faces, frames, n_neighbors=settings.n_neighbors)
    gradient = timed("gradient", tangent_gradient, verts, faces, frames, n_neighbors=settings.n_neighbors)
    patches = None
    if settings.patch_size > 0:
        patches = timed("patches", geodesic_patches, verts, faces, frames, connection, k=settings.patch_size)
    kernels = None
    if settings.anisotropic is not None:
        a = settings.anisotropic
        kernels = timed(
            "anisotropic", anisotropic_heat_kernels, verts, faces, mass, patches.center, patches.neighbor,
            n_orientations=a.n_orientations, anisotropy=a.anisotropy, times=a.times, k_eig=a.k_eig,
        )
    log.debug("operators of %s: %s", surface, timings)
    return SurfaceOperators(
        verts=verts,
        faces=faces,
        mass=mass,
        laplacian=L.tocsr(),
        evals=evals,
        evecs=evecs,
        gradient=gradient.tocsr(),
        frames=frames,
        connection=connection,
        settings=settings,
        patches=patches,
        patch_kernels=kernels,
        timings=timings,
    )
