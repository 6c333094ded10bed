"""Assertions shared by the layer tests: batch consistency, permutation, rigid motions.

Every check runs in float64 and takes a ``model``: any callable ``model(x, batch)`` with
``x : Tensor, shape (V, C_in)`` and ``batch : MeshBatch`` returning per-vertex outputs
``(V, C_out)`` (``per="vertex"``) or per-mesh outputs ``(B, C_out)`` (``per="mesh"``).
The gauge-equivariance check (:func:`assert_gauge_equivariant`) lives with the gauge layers
and is re-exported here; :meth:`MeshBatch.rotate_gauge` builds the gauge-rotated batch.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
import torch

from .batch import MeshBatch
from .errors import ArgumentError, GeodesicNetsError
from .geometry.rotations import random_rotation_matrix
from .nn.gauge.testing import assert_gauge_equivariant
from .operators import SurfaceOperators, compute_operators
from .surface import Surface

__all__ = [
    "assert_gauge_equivariant",
    "assert_batch_consistent",
    "assert_permutation_equivariant",
    "assert_rigid_invariant",
    "random_rotation",
]

Model = Callable[[torch.Tensor, MeshBatch], torch.Tensor]
Per = Literal["vertex", "mesh"]


def _check_per(per: str) -> None:
    if per not in ("vertex", "mesh"):
        raise ArgumentError(f"per must be 'vertex' or 'mesh', got {per!r}")


def _operators(surface: Surface, operator_kwargs: dict | None) -> SurfaceOperators:
    return compute_operators(surface, **(dict(k_eig=16) if operator_kwargs is None else operator_kwargs))


def _run(model: Model, members: Sequence[SurfaceOperators], x: torch.Tensor) -> torch.Tensor:
    batch = MeshBatch.from_operators(members, dtype=torch.float64)
    with torch.no_grad():
        return model(x.to(torch.float64), batch)


def _close(actual: torch.Tensor, expected: torch.Tensor, what: str, atol: float, rtol: float) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
    err = (actual - expected).abs()
    bound = atol + rtol * expected.abs()
    if not bool((err <= bound).all()):
        worst = int(torch.argmax((err - bound).flatten()))
        raise AssertionError(
            f"{what}: max abs error {float(err.max()):.3e} (at flat index {worst}), "
            f"allowed atol={atol:g} + rtol={rtol:g} * |expected|"
        )


def assert_batch_consistent(
    model: Model,
    members: Sequence[SurfaceOperators],
    inputs: Sequence[torch.Tensor],
    *,
    per: Per = "vertex",
    atol: float = 1e-10,
    rtol: float = 1e-8,
) -> None:
    """A batch of ``members`` gives what each member gives alone.

    Parameters
    ----------
    members : sequence of SurfaceOperators
        Surfaces of different sizes (meshes and point clouds).
    inputs : sequence of Tensor, shapes (V_b, C_in)
    """
    _check_per(per)
    if len(members) != len(inputs):
        raise GeodesicNetsError(f"{len(members)} members but {len(inputs)} inputs")
    together = _run(model, members, torch.cat(list(inputs)))
    alone = [_run(model, [m], x) for m, x in zip(members, inputs)]
    expected = torch.cat(alone) if per == "vertex" else torch.cat(alone, 0)
    _close(together, expected, "batched vs one at a time", atol, rtol)


def _permuted_surface(surface: Surface, perm: np.ndarray) -> Surface:
    """Surface with vertex ``i`` of the result = vertex ``perm[i]`` of ``surface``."""
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    faces = None if surface.faces is None else inv[surface.faces]
    return Surface(surface.verts[perm], faces, name=surface.name)


def assert_permutation_equivariant(
    model: Model,
    surface: Surface,
    x: torch.Tensor,
    *,
    per: Per = "vertex",
    operator_kwargs: dict | None = None,
    seed: int = 0,
    atol: float = 1e-8,
    rtol: float = 1e-6,
) -> None:
    """Renumbering the vertices renumbers per-vertex outputs (and leaves per-mesh ones unchanged).

    The operators are recomputed on the renumbered surface, so this also checks that the
    geometry (frames, eigenbasis signs, patches) does not depend on the vertex order. Use a
    surface without symmetries (e.g. ``primitives.bumpy_sphere``) so that eigenspaces are simple.

    Parameters
    ----------
    x : Tensor, shape (V, C_in)
    """
    _check_per(per)
    perm = np.random.default_rng(seed).permutation(surface.num_verts)
    out = _run(model, [_operators(surface, operator_kwargs)], x)
    out_p = _run(model, [_operators(_permuted_surface(surface, perm), operator_kwargs)], x[torch.as_tensor(perm)])
    expected = out[torch.as_tensor(perm)] if per == "vertex" else out
    _close(out_p, expected, "permuted input vs permuted output", atol, rtol)


def random_rotation(seed: int = 0) -> np.ndarray:
    """A uniformly random rotation matrix (3, 3) with determinant +1.

    :func:`geodesic_nets.geometry.rotations.random_rotation_matrix` seeded with ``seed``.
    """
    return random_rotation_matrix(seed)


def assert_rigid_invariant(
    model: Model,
    surface: Surface,
    x: torch.Tensor,
    *,
    per: Per = "vertex",
    operator_kwargs: dict | None = None,
    seed: int = 0,
    atol: float = 1e-8,
    rtol: float = 1e-6,
) -> None:
    """Rotating and translating the surface leaves the outputs unchanged.

    ``x`` must itself be rigid-invariant (e.g. HKS, or a constant); the operators are recomputed
    on the moved surface.

    Parameters
    ----------
    x : Tensor, shape (V, C_in)
    """
    _check_per(per)
    rng = np.random.default_rng(seed)
    moved = surface.with_verts(surface.verts @ random_rotation(seed).T + rng.normal(size=3))
    out = _run(model, [_operators(surface, operator_kwargs)], x)
    out_m = _run(model, [_operators(moved, operator_kwargs)], x)
    _close(out_m, out, "moved vs original", atol, rtol)
