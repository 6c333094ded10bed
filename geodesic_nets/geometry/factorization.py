"""Sparse symmetric factorizations behind the eigensolver: one interface, three backends.

``factorize(A, kind)`` factors ``A`` (the shifted Laplacian ``L - sigma M``) and returns an object
with ``solve(b)`` for ``b`` of shape (n,) or (n, r):

* ``"cholespy"``: CHOLMOD (supernodal Cholesky) through the ``cholespy`` wheel, the default
  where it is installed: the block eigensolver (k=128) is fastest on it at every size measured by
  ``benchmarks/linear_algebra.py`` (5k 0.35 / 0.40 s with the builtin factor, 20k 1.68 / 2.02 s,
  100k 11.9 / 12.4 s, 1M 269 / 280 s);
* ``"builtin"``: the package's multifrontal Cholesky (:mod:`.sparse_cholesky`), used when
  cholespy is missing; kept because the two are within 4 % at 1M vertices (one run) and its
  factorization alone is 1.7x faster there (34 / 58 s);
* ``"superlu"``: SciPy's LU, and the fallback of a Cholesky that fails (a matrix that is not
  positive definite), with a warning.
"""

from __future__ import annotations

import logging
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import GeometryError
from .sparse_cholesky import SparseCholesky

__all__ = ["Factorization", "FACTORIZATIONS", "Solver", "factorize", "cholespy_available", "default_factorization"]

logger = logging.getLogger(__name__)

#: Who factors: the package's multifrontal Cholesky, cholespy, SuperLU, or ``"auto"``
#: (:func:`default_factorization`).
Factorization = Literal["auto", "builtin", "cholespy", "superlu"]
FACTORIZATIONS = ("auto", "builtin", "cholespy", "superlu")


class Solver(Protocol):
    def solve(self, b: np.ndarray) -> np.ndarray: ...


class _LUSolver:
    """SuperLU with the solve interface of :class:`SparseCholesky` (fallback only)."""

    def __init__(self, A: sp.csc_matrix) -> None:
        self._lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A")

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self._lu.solve(np.asarray(b, dtype=np.float64))


class _CholespySolver:
    """cholespy's sparse Cholesky (CHOLMOD inside a wheel; CPU, double) with the solve interface of
    :class:`SparseCholesky`."""

    def __init__(self, A: sp.csc_matrix) -> None:
        from cholespy import CholeskySolverD, MatrixType

        c = sp.csc_matrix(A)
        c.sort_indices()
        self.n = c.shape[0]
        try:
            self._solver = CholeskySolverD(
                self.n, c.indptr.astype(np.int32), c.indices.astype(np.int32), np.ascontiguousarray(c.data),
                MatrixType.CSC,
            )
        except (ValueError, RuntimeError) as exc:  # CHOLMOD: "Matrix is not positive definite!"
            raise GeometryError(f"cholespy (CHOLMOD) could not factor the matrix: {exc}") from exc

    def solve(self, b: np.ndarray) -> np.ndarray:
        rhs = np.ascontiguousarray(b, dtype=np.float64)
        x = np.zeros_like(rhs)
        self._solver.solve(rhs, x)
        return x


def cholespy_available() -> bool:
    """Whether the optional ``cholespy`` package imports."""
    try:
        import cholespy  # noqa: F401
    except ImportError:
        return False
    return True


def default_factorization(n: int) -> str:
    """The factorization :class:`EigenSolver` uses for ``factorization="auto"`` at ``n`` vertices.

    The fastest measured by ``benchmarks/linear_algebra.py`` (factorization plus the block
    solver's solves) among those installed.
    """
    if cholespy_available():
        return "cholespy"
    return "builtin"


def _check_solve(solver: Solver, A: sp.csc_matrix) -> None:
    """GeometryError when a solve with a new factor is not accurate (a safety net for backends
    that might not report a failed factorization of an indefinite matrix)."""
    b = np.random.default_rng(0).standard_normal((A.shape[0], 1))
    res = np.linalg.norm(A @ solver.solve(b) - b) / max(np.linalg.norm(b), 1e-300)
    if not np.isfinite(res) or res > 1e-6:
        raise GeometryError(f"the Cholesky solve has relative residual {res:.1e}: the matrix is not positive definite")


def factorize(A: sp.spmatrix, kind: str = "auto") -> Solver:
    """A solver for the symmetric matrix ``A`` (V, V); a Cholesky that fails falls back to SuperLU.

    Parameters
    ----------
    A : scipy.sparse matrix, shape (V, V)
        Symmetric; positive definite for the Cholesky backends.
    kind : {"auto", "builtin", "cholespy", "superlu"}
    """
    A = sp.csc_matrix(A)
    if kind == "auto":
        kind = default_factorization(A.shape[0])
    try:
        if kind == "superlu":
            return _LUSolver(A)
        if kind == "cholespy":
            solver: Solver = _CholespySolver(A)
            _check_solve(solver, A)
            return solver
        return SparseCholesky(A)
    except GeometryError as exc:  # not positive definite (not a cotan/robust Laplacian): LU instead
        logger.warning("Cholesky of L - sigma M failed (%s); falling back to SuperLU", exc)
        return _LUSolver(A)
