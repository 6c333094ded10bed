"""The operator registry: every operator of the package declared once.

Two tables drive everything else in :mod:`geodesic_nets.operators` and :mod:`geodesic_nets.batch`:

* :data:`STAGES`: how each numpy field of :class:`~geodesic_nets.SurfaceOperators` is computed
  (a stage runs a geometry function on the surface and the fields computed before it), and when
  it runs at all (``enabled(settings)``).
* :data:`TENSOR_FIELDS`: every torch tensor of :class:`~geodesic_nets.OperatorTensors` and
  :class:`~geodesic_nets.MeshBatch`: its shape (in the dimension vocabulary), its kind (float,
  index or sparse), where it is read from in the numpy bundle, and how the members of a batch are
  packed together.

The numpy dataclass, the torch dataclass, the tensor conversion, the disk cache (encoding,
decoding and the shape check of a loaded entry) and the batch are derived from these tables; adding
an operator is one stage (or one more output of a stage) plus its tensor fields here, and its
geometry function in :mod:`geodesic_nets.geometry`. ``docs/architecture.md`` walks through an
example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

import numpy as np

from ..geometry import (
    Connection,
    GeodesicPatches,
    TangentFrames,
    anisotropic_heat_kernels,
    eigen_basis,
    geodesic_patches,
    laplacian_and_mass,
    levi_civita_connection,
    tangent_gradient,
    vertex_frames,
)
from ..errors import ArgumentError
from ..settings import OperatorSettings
from ..surface import Surface

__all__ = [
    "ArrayKind",
    "BatchRule",
    "OperatorField",
    "Stage",
    "TensorField",
    "STAGES",
    "OPERATOR_FIELDS",
    "TENSOR_FIELDS",
    "stage_of",
]

#: How a numpy field is stored: a dense array, a scipy sparse matrix, or a dataclass of arrays.
ArrayKind = Literal["array", "sparse"]

#: How the members of a batch are packed:
#: ``cat`` concatenates along the first dimension; ``vertex_index`` concatenates index arrays after
#: adding each member's vertex offset; ``block_diag`` builds a block-diagonal sparse matrix;
#: ``eigen_values`` zero-pads to (B, K); ``eigen_vectors`` zero-pads columns to K and concatenates.
BatchRule = Literal["cat", "vertex_index", "block_diag", "eigen_values", "eigen_vectors"]


@dataclass(frozen=True)
class OperatorField:
    """One field of :class:`~geodesic_nets.SurfaceOperators` (numpy, float64).

    Attributes
    ----------
    name : str
        Attribute name.
    kind : "array", "sparse", or a dataclass type
        Storage: a dense ndarray, a scipy CSR matrix, or a dataclass whose fields are ndarrays
        (e.g. :class:`~geodesic_nets.geometry.TangentFrames`).
    doc : str
        Shape and meaning, shown in the dataclass docstring.
    optional : bool
        None when its stage is disabled by the settings.
    """

    name: str
    kind: Any
    doc: str
    optional: bool = False


@dataclass(frozen=True)
class Stage:
    """One step of :func:`~geodesic_nets.compute_operators`.

    Attributes
    ----------
    name : str
        Key of its time in ``SurfaceOperators.timings``.
    outputs : tuple of OperatorField
        The fields it fills, in the order ``run`` returns them.
    run : callable ``(surface, settings, done) -> tuple``
        ``done`` maps the names of the fields computed by earlier stages to their values.
    enabled : callable ``(settings) -> bool``
        False: the stage is skipped and its (optional) outputs are None.
    """

    name: str
    outputs: tuple[OperatorField, ...]
    run: Callable[[Surface, OperatorSettings, Mapping[str, Any]], tuple]
    enabled: Callable[[OperatorSettings], bool] = lambda settings: True


@dataclass(frozen=True)
class TensorField:
    """One torch tensor of :class:`~geodesic_nets.OperatorTensors` and :class:`~geodesic_nets.MeshBatch`.

    Attributes
    ----------
    name : str
    shape : tuple of str or int
        Per surface, in the dimension vocabulary (V vertices, F faces, E directed edges, K
        eigenpairs, P patch entries, S kernels); the loaded cache is checked against it.
    dtype : "float", "index" or "sparse"
        Floating (the requested dtype), int64, or a sparse COO float matrix.
    source : str
        The field of :class:`~geodesic_nets.SurfaceOperators` it is read from (``verts``,
        ``faces`` or an :class:`OperatorField`).
    attribute : str, optional
        The attribute of that field it is (``frames.normals``, ``gradient.real``), if not all of it.
    batch : BatchRule
    missing : "never", "none" or "empty"
        What a None read means: ``"never"``, it cannot be None; ``"none"``, the operator was not
        asked for (the tensor is None, and a batch needs all its members alike); ``"empty"``, the
        member has none of it (a point cloud's faces; the batch packs it as zero rows).
    """

    name: str
    shape: tuple
    dtype: Literal["float", "index", "sparse"]
    source: str
    attribute: str | None = None
    batch: BatchRule = "cat"
    missing: Literal["never", "none", "empty"] = "never"

    def read(self, ops: Any) -> Any:
        """The numpy value in the bundle ``ops`` (ndarray, sparse matrix, or None)."""
        value = getattr(ops, self.source)
        return value if value is None or self.attribute is None else getattr(value, self.attribute)

    @property
    def optional(self) -> bool:
        """True when the tensor may be None in :class:`~geodesic_nets.OperatorTensors`."""
        return self.missing != "never"

    def shape_text(self, batched: bool = False) -> str:
        """The shape as written in docstrings, e.g. ``(V, 3)``; ``(B, K)`` for batched eigenvalues."""
        dims = ("B", "K") if batched and self.batch == "eigen_values" else self.shape
        return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# Numpy fields and the stages that compute them, in dependency order.

_LAPLACIAN = OperatorField(
    "laplacian", "sparse", "csr_matrix, shape (V, V): positive semidefinite weak Laplacian "
    "(``L`` in ``L phi = lambda M phi``)."
)
_MASS = OperatorField("mass", "array", "ndarray, shape (V,): lumped mass, the area each vertex stands for.")
_EVALS = OperatorField("evals", "array", "ndarray, shape (K,): smallest eigenvalues of ``L phi = lambda M phi``.")
_EVECS = OperatorField(
    "evecs", "array", "ndarray, shape (V, K): matching M-orthonormal eigenvectors "
    "(``evecs.T @ (mass[:, None] * evecs) = I``)."
)
_GRADIENT = OperatorField(
    "gradient", "sparse", "csr_matrix, complex, shape (V, V): ``(gradient @ f)[i] = df/dx + 1j df/dy`` "
    "in vertex i's tangent frame."
)
_FRAMES = OperatorField("frames", TangentFrames, "TangentFrames: per-vertex normal and tangent basis (the gauge).")
_CONNECTION = OperatorField(
    "connection", Connection, "Connection: directed edges (E,) with Levi-Civita transport angles, "
    "edge angles and lengths."
)
_PATCHES = OperatorField(
    "patches", GeodesicPatches, "GeodesicPatches or None: geodesic polar patches of every vertex "
    "(``settings.patch_size`` entries each).", optional=True,
)
_PATCH_KERNELS = OperatorField(
    "patch_kernels", "array", "ndarray, shape (P, S), or None: spectral anisotropic heat kernels at every "
    "patch entry (``settings.anisotropic``).", optional=True,
)


def _run_laplacian(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    L, M = laplacian_and_mass(
        surface.verts, surface.faces, method=settings.laplacian, n_neighbors=settings.n_neighbors
    )
    return L.tocsr(), np.asarray(M.diagonal(), dtype=np.float64)


def _run_eigen(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    return eigen_basis(done["laplacian"], done["mass"], settings.k_eig)


def _run_frames(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    return (vertex_frames(surface.verts, surface.faces, n_neighbors=settings.n_neighbors),)


def _run_connection(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    return (
        levi_civita_connection(surface.verts, surface.faces, done["frames"], n_neighbors=settings.n_neighbors),
    )


def _run_gradient(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    g = tangent_gradient(surface.verts, surface.faces, done["frames"], n_neighbors=settings.n_neighbors)
    return (g.tocsr(),)


def _run_patches(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    return (
        geodesic_patches(surface.verts, surface.faces, done["frames"], done["connection"], k=settings.patch_size),
    )


def _run_anisotropic(surface: Surface, settings: OperatorSettings, done: Mapping[str, Any]) -> tuple:
    a, p = settings.anisotropic, done["patches"]
    kernels = anisotropic_heat_kernels(
        surface.verts, surface.faces, done["mass"], p.center, p.neighbor,
        n_orientations=a.n_orientations, anisotropy=a.anisotropy, times=a.times, k_eig=a.k_eig,
    )
    return (kernels,)


#: Stages of :func:`~geodesic_nets.compute_operators`, in the order they run.
STAGES: tuple[Stage, ...] = (
    Stage("laplacian", (_LAPLACIAN, _MASS), _run_laplacian),
    Stage("eigen", (_EVALS, _EVECS), _run_eigen),
    Stage("frames", (_FRAMES,), _run_frames),
    Stage("connection", (_CONNECTION,), _run_connection),
    Stage("gradient", (_GRADIENT,), _run_gradient),
    Stage("patches", (_PATCHES,), _run_patches, enabled=lambda s: s.patch_size > 0),
    Stage("anisotropic", (_PATCH_KERNELS,), _run_anisotropic, enabled=lambda s: s.anisotropic is not None),
)

#: Every computed numpy field, in stage order.
OPERATOR_FIELDS: tuple[OperatorField, ...] = tuple(f for stage in STAGES for f in stage.outputs)


def stage_of(field_name: str) -> Stage:
    """The stage that computes the numpy field ``field_name``."""
    for stage in STAGES:
        if any(f.name == field_name for f in stage.outputs):
            return stage
    raise ArgumentError(f"no stage computes an operator field named {field_name!r}")


# ---------------------------------------------------------------------------------------------
# Torch tensors: what each reads from the numpy bundle and how a batch packs it.

#: Every tensor of :class:`~geodesic_nets.OperatorTensors`, in declaration order.
TENSOR_FIELDS: tuple[TensorField, ...] = (
    TensorField("verts", ("V", 3), "float", "verts"),
    # faces is None for a point cloud; the batch skips such members.
    TensorField("faces", ("F", 3), "index", "faces", batch="vertex_index", missing="empty"),
    TensorField("mass", ("V",), "float", "mass"),
    TensorField("laplacian", ("V", "V"), "sparse", "laplacian", batch="block_diag"),
    TensorField("evals", ("K",), "float", "evals", batch="eigen_values"),
    TensorField("evecs", ("V", "K"), "float", "evecs", batch="eigen_vectors"),
    TensorField("gradient_x", ("V", "V"), "sparse", "gradient", "real", batch="block_diag"),
    TensorField("gradient_y", ("V", "V"), "sparse", "gradient", "imag", batch="block_diag"),
    TensorField("normals", ("V", 3), "float", "frames", "normals"),
    TensorField("basis_x", ("V", 3), "float", "frames", "basis_x"),
    TensorField("basis_y", ("V", 3), "float", "frames", "basis_y"),
    TensorField("edge_src", ("E",), "index", "connection", "edge_src", batch="vertex_index"),
    TensorField("edge_dst", ("E",), "index", "connection", "edge_dst", batch="vertex_index"),
    TensorField("transport", ("E",), "float", "connection", "transport"),
    TensorField("edge_angle", ("E",), "float", "connection", "edge_angle"),
    TensorField("edge_length", ("E",), "float", "connection", "edge_length"),
    TensorField("patch_center", ("P",), "index", "patches", "center", batch="vertex_index", missing="none"),
    TensorField("patch_neighbor", ("P",), "index", "patches", "neighbor", batch="vertex_index", missing="none"),
    TensorField("patch_rho", ("P",), "float", "patches", "rho", missing="none"),
    TensorField("patch_theta", ("P",), "float", "patches", "theta", missing="none"),
    TensorField("patch_kernels", ("P", "S"), "float", "patch_kernels", missing="none"),
)
