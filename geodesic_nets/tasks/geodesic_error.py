"""Geodesic error of vertex correspondences and the "fraction correct within a radius" curve.

The error of a predicted match is the geodesic distance, on the target shape ``b``, between the
predicted vertex and the true vertex, divided by ``sqrt(area(b))`` by default (the protocol of
Kim et al. 2011 used by FAUST, SCAPE, SHREC'19 and the deep functional map papers), which makes
it invariant to the scale of ``b``.

:class:`GeodesicErrorEvaluator` holds one target shape's geodesic solver (factored once) and
area, so evaluating many predictions against the same target pays the factorization once;
:func:`correspondence_geodesic_errors` is the one-off form. Distances are solved from each
distinct true vertex (``d(true, pred)``: the value at ``pred`` of the solve whose source is
``true``) in blocks of ``block_size`` sources, so at most ``block_size x V`` distances are held;
no V x V matrix is formed or written.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

import numpy as np

from ..errors import ArgumentError, GeodesicNetsError, GeometryError
from ..validation import check_verts
from ..geometry.elements import face_areas
from ..geometry.geodesics import (
    ExactGeodesicSolver,
    GeodesicSolver,
    HeatGeodesicSolver,
    geodesic_distance_blocks,
)

__all__ = [
    "GeodesicErrorEvaluator",
    "correspondence_geodesic_errors",
    "ErrorCurve",
    "error_curve",
    "default_error_thresholds",
]

ErrorNormalization = Literal["sqrt_area", "none"]


def _index_array(x, name: str) -> np.ndarray:
    """An int64 numpy array from a numpy array, sequence or (CPU/CUDA) torch tensor."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.size and a.dtype.kind not in "iu":
        raise GeodesicNetsError(f"{name} must hold integer vertex indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_range(a: np.ndarray, name: str, num_verts: int) -> None:
    bad = (a < 0) | (a >= num_verts)
    if bad.any():
        k = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), a.shape)
        raise GeodesicNetsError(
            f"{name} holds vertex {int(a[k])} at position {tuple(int(i) for i in k)},"
            f" out of range for a target shape with {num_verts} vertices"
        )


class GeodesicErrorEvaluator:
    """Geodesic correspondence errors on one target shape, its solver built once.

    Parameters
    ----------
    verts : array, shape (V, 3), float
        Vertices of the target shape ``b``.
    faces : array, shape (F, 3), int, or None
        ``None``: a point cloud (heat method only; give ``area`` or use ``normalize="none"``).
    exact : bool, keyword-only
        Use the exact polyhedral distance (:class:`ExactGeodesicSolver`, slow, for references
        and small meshes) instead of the heat method (:class:`HeatGeodesicSolver`).
    solver : GeodesicSolver, keyword-only, optional
        A solver already built on this shape (anything with ``num_verts`` and
        ``distance(source) -> (V,)``); overrides ``exact``.
    normalize : {"sqrt_area", "none"}, keyword-only
        Divide distances by ``sqrt(area)`` (default) or report them in the mesh's units.
    area : float, keyword-only, optional
        Total area used by ``"sqrt_area"``; default: the sum of the face areas of ``faces``.
    block_size : int, keyword-only
        Distinct true vertices solved per block (memory ``block_size * V`` float64).

    Attributes
    ----------
    solver : GeodesicSolver
    area : float or None
        Total area of the shape (None for a point cloud without ``area``).
    scale : float
        What distances are divided by (1.0 for ``normalize="none"``).
    """

    def __init__(
        self,
        verts,
        faces=None,
        *,
        exact: bool = False,
        solver: GeodesicSolver | None = None,
        normalize: ErrorNormalization = "sqrt_area",
        area: float | None = None,
        block_size: int = 256,
    ) -> None:
        if normalize not in get_args(ErrorNormalization):
            raise ArgumentError(f"normalize must be one of {get_args(ErrorNormalization)}, got {normalize!r}")
        if not isinstance(exact, (bool, np.bool_)):
            raise ArgumentError(f"exact must be a bool, got {exact!r}")
        if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ArgumentError(f"block_size must be a positive integer, got {block_size!r}")
        v = check_verts(verts, error=GeometryError)
        self.block_size = int(block_size)
        self.normalize = normalize
        if solver is None:
            solver = ExactGeodesicSolver(v, faces) if exact else HeatGeodesicSolver(v, faces)
        elif int(solver.num_verts) != len(v):
            raise GeometryError(f"the solver has {solver.num_verts} vertices but verts has {len(v)}")
        self.solver = solver
        if area is not None:
            if not (isinstance(area, (int, float, np.floating)) and np.isfinite(area) and area > 0):
                raise ArgumentError(f"area must be a positive finite number, got {area!r}")
            self.area: float | None = float(area)
        elif faces is not None:
            self.area = float(face_areas(v, np.asarray(faces, dtype=np.int64)).sum())
        else:
            self.area = None
        if normalize == "sqrt_area":
            if self.area is None:
                raise GeometryError("normalize='sqrt_area' needs faces or an explicit area for a point cloud")
            if not self.area > 0:
                raise GeometryError(f"the shape has total area {self.area}; cannot normalize by sqrt(area)")
            self.scale = float(np.sqrt(self.area))
        else:
            self.scale = 1.0

    @property
    def num_verts(self) -> int:
        """Number of vertices V of the target shape."""
        return int(self.solver.num_verts)

    def errors(self, pred, true) -> np.ndarray:
        """Geodesic distance between predicted and true vertices, normalized.

        Parameters
        ----------
        pred : array-like of int, shape (P,) or (N, P)
            Predicted vertices of the target shape; a 2-D array evaluates N predictions of the
            same P points at once (one solve per distinct true vertex for all of them).
        true : array-like of int, shape (P,)
            Ground-truth vertices of the target shape.

        Returns
        -------
        errors : ndarray, shape of ``pred``, float64
            ``d(true[p], pred[..., p]) / scale``, never negative (a solver's distance below zero
            counts as 0); 0 where ``pred == true``, ``inf`` where the prediction lies on another
            connected component.
        """
        t = _index_array(true, "true")
        p = _index_array(pred, "pred")
        if t.ndim != 1:
            raise GeodesicNetsError(f"true must be 1-D (P,), got shape {t.shape}")
        if p.ndim not in (1, 2) or p.shape[-1] != t.shape[0]:
            raise GeodesicNetsError(f"pred must have shape ({t.shape[0]},) or (N, {t.shape[0]}), got {p.shape}")
        nv = self.num_verts
        _check_range(t, "true", nv)
        _check_range(p, "pred", nv)
        p2 = p.reshape(-1, t.shape[0])  # (N, P)
        out = np.zeros(p2.shape, dtype=np.float64)
        differs = (p2 != t[None, :]).any(axis=0)  # a true vertex needs a solve only if some pred misses it
        cols = np.flatnonzero(differs)
        if cols.size:
            uniq, inv = np.unique(t[cols], return_inverse=True)  # inv: column -> row of uniq
            order = np.argsort(inv, kind="stable")
            starts = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
            row0 = 0
            for chunk, block in geodesic_distance_blocks(self.solver, uniq, block_size=self.block_size):
                sel = order[starts[row0] : starts[row0 + len(chunk)]]  # positions in cols
                c = cols[sel]
                out[:, c] = block[(inv[sel] - row0)[None, :], p2[:, c]]  # (N, len(c))
                row0 += len(chunk)
            out[p2 == t[None, :]] = 0.0
            # the package's solvers never return a negative distance, but any GeodesicSolver can be
            # given here, and a negative error would break the error curve
            np.maximum(out, 0.0, out=out)
        return (out / self.scale).reshape(p.shape)

    __call__ = errors

    def __repr__(self) -> str:
        return f"GeodesicErrorEvaluator({self.num_verts} verts, {type(self.solver).__name__}, normalize={self.normalize!r})"


def correspondence_geodesic_errors(
    verts_b,
    faces_b,
    pred_b,
    true_b,
    *,
    solver: GeodesicSolver | None = None,
    exact: bool = False,
    normalize: ErrorNormalization = "sqrt_area",
    area: float | None = None,
    block_size: int = 256,
) -> np.ndarray:
    """One-off geodesic errors of predicted correspondences on the target shape ``b``.

    Parameters
    ----------
    verts_b : array, shape (V, 3), float
    faces_b : array, shape (F, 3), int, or None
    pred_b : array-like of int, shape (P,) or (N, P)
        Predicted vertices of ``b`` (e.g. ``p2p[corr_a]`` mapped onto ``b``).
    true_b : array-like of int, shape (P,)
        True vertices of ``b``.
    solver, exact, normalize, area, block_size
        See :class:`GeodesicErrorEvaluator` (build one to evaluate many predictions against the
        same target: the solver is then factored once).

    Returns
    -------
    errors : ndarray, shape of ``pred_b``, float64
    """
    ev = GeodesicErrorEvaluator(
        verts_b, faces_b, exact=exact, solver=solver, normalize=normalize, area=area, block_size=block_size
    )
    return ev.errors(pred_b, true_b)


# ---------------------------------------------------------------------------- error curve
def default_error_thresholds() -> np.ndarray:
    """Radii 0, 0.005, ..., 0.25 (51 values) of normalized geodesic error, the usual x-axis."""
    return np.linspace(0.0, 0.25, 51)


class ErrorCurve(NamedTuple):
    """Fraction of correspondences within each geodesic radius.

    Attributes
    ----------
    thresholds : ndarray, shape (T,), float64, ascending
    fractions : ndarray, shape (T,), float64
        ``fractions[t] = mean(errors <= thresholds[t])``.
    """

    thresholds: np.ndarray
    fractions: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve divided by the threshold range (trapezoid rule), in [0, 1]."""
        span = float(self.thresholds[-1] - self.thresholds[0])
        if len(self.thresholds) < 2 or span <= 0:
            return float(self.fractions[-1])
        y, x = self.fractions, self.thresholds
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)) / span)


def error_curve(errors, thresholds=None) -> ErrorCurve:
    """The cumulative error curve ("% correct correspondences within a geodesic radius").

    Parameters
    ----------
    errors : array-like, shape (P,) or any shape, float
        Normalized errors (all entries are pooled); ``inf`` counts as beyond every radius.
    thresholds : array-like, shape (T,), optional
        Non-decreasing radii; default :func:`default_error_thresholds`.

    Returns
    -------
    ErrorCurve
        ``(thresholds, fractions)``, with an ``auc`` property.
    """
    e = np.asarray(errors, dtype=np.float64).ravel()
    if e.size == 0:
        raise GeodesicNetsError("error_curve needs at least one error")
    if np.isnan(e).any() or (e < 0).any():
        raise GeodesicNetsError("errors must be non-negative numbers (no NaN)")
    th = default_error_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64).ravel()
    if th.size == 0 or not np.all(np.isfinite(th)) or np.any(np.diff(th) < 0):
        raise ArgumentError("thresholds must be a non-empty, non-decreasing array of finite numbers")
    e_sorted = np.sort(e)
    fractions = np.searchsorted(e_sorted, th, side="right") / e.size
    return ErrorCurve(th, fractions.astype(np.float64))
