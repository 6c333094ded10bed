"""Low end of the Laplace-Beltrami spectrum: ``L phi = lambda M phi``.

:func:`eigen_basis` returns the ``k`` smallest eigenpairs of the pencil ``(L, M)`` (``L`` PSD,
``M`` diagonal positive, see :mod:`geodesic_nets.geometry.laplacian`), M-orthonormal, eigenvalues
ascending, with a deterministic sign per eigenvector.

The default solver (``method="block"``) is a shift-invert block Krylov method:

1. the pencil is scaled to the standard problem ``A y = lambda y`` with
   ``A = M^{-1/2} L M^{-1/2}``, ``y = M^{1/2} phi``;
2. ``L - sigma M`` (``sigma`` a small negative shift, so the matrix is positive definite even on
   disconnected meshes) is factored once (:mod:`~geodesic_nets.geometry.factorization`: CHOLMOD
   through cholespy by default, else the package's multifrontal Cholesky), whose solves with a
   block of right-hand sides run at BLAS-3 speed;
3. a block Lanczos basis of ``T = M^{1/2} (L - sigma M)^{-1} M^{1/2}`` is built with full
   (block classical Gram-Schmidt, repeated when needed) reorthogonalization; Rayleigh-Ritz on
      ``T`` gives Ritz pairs ``(mu, y)``, ``lambda = sigma + 1 / mu``; when some wanted pair has
   not converged the basis restarts from the best Ritz vectors and the open block (thick
   restart, i.e. block Krylov-Schur).

Residual norms come for free from the Krylov relation; convergence is ARPACK's test
``||T y - mu y|| <= tol * mu``.
``method="arpack"`` runs ``scipy.sparse.linalg.eigsh`` in shift-invert mode on the same
factorization (slower: one right-hand side at a time, BLAS-2 orthogonalization) and
``method="dense"`` runs LAPACK on the dense matrices (used automatically for small meshes).
Measurements are in ``benchmarks/eigensolver.py``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import ArgumentError, DependencyError, GeometryError
from .factorization import FACTORIZATIONS, Factorization, Solver, cholespy_available, default_factorization, factorize

__all__ = ["EigenSolver", "eigen_basis", "DENSE_MAX_VERTS"]

logger = logging.getLogger(__name__)

Method = Literal["auto", "block", "arpack", "dense"]
_METHODS = ("auto", "block", "arpack", "dense")


#: Below this many vertices ``method="auto"`` uses the dense LAPACK solver.
DENSE_MAX_VERTS = 1200

#: When the block solver does not converge, meshes up to this size fall back to dense LAPACK
#: (exact, seconds); larger ones to ARPACK on the same factorization.
DENSE_FALLBACK_MAX_VERTS = 6000


def _check_pencil(L: sp.spmatrix, M: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    if not sp.issparse(L):
        L = sp.csr_matrix(np.asarray(L, dtype=np.float64))
    L = sp.csr_matrix(L, dtype=np.float64)
    n = L.shape[0]
    if L.shape != (n, n):
        raise GeometryError(f"expected a square Laplacian, got shape {L.shape}")
    if n == 0:
        raise GeometryError("empty Laplacian (0 vertices)")
    m = M.diagonal() if sp.issparse(M) else np.asarray(M, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64).ravel()
    if m.shape != (n,):
        raise GeometryError(f"expected a ({n}, {n}) diagonal mass matrix or ({n},) masses, got shape {np.shape(M)}")
    if sp.issparse(M) and (abs(M - sp.diags(m)) > 0).nnz:
        raise GeometryError("the mass matrix must be diagonal (lumped)")
    if not np.all(np.isfinite(m)) or (m <= 0).any():
        raise GeometryError("the masses must be finite and positive")
    if not np.all(np.isfinite(L.data)):
        raise GeometryError("the Laplacian has non-finite entries")
    return L, m


def _fix_signs(evecs: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Deterministic sign of each column (in place); see :func:`eigen_basis`."""
    if evecs.shape[1] == 0:
        return evecs
    third = np.einsum("i,ij,ij,ij->j", mass, evecs, evecs, evecs)  # (K,); 30x faster than evecs**3 (a pow call)
    # Scale of the third moment of a unit vector: sum m |phi|^3 <= max|phi|.
    scale = np.abs(evecs).max(axis=0)
    sign = np.sign(third)
    weak = np.abs(third) <= 1e-6 * scale
    if weak.any():
        cols = np.flatnonzero(weak)
        a = np.abs(evecs[:, cols])
        # Largest entry, ties (within 1e-8 relative) broken by the smallest vertex index.
        big = a >= a.max(axis=0) * (1 - 1e-8)
        first = np.argmax(big, axis=0)
        sign[cols] = np.sign(evecs[first, cols])
    sign[sign == 0] = 1.0
    evecs *= sign
    return evecs


def _chol_qr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin QR of a tall block by Cholesky QR twice (BLAS-3); Householder if ill-conditioned."""
    r_total = None
    q = w
    for _ in range(2):
        g = q.T @ q
        try:
            r = sla.cholesky(g, lower=False)
        except np.linalg.LinAlgError:
            return np.linalg.qr(w)
        d = np.abs(np.diag(r))
        if d.min() <= 1e-6 * d.max():
            return np.linalg.qr(w)
        rinv = sla.solve_triangular(r, np.eye(r.shape[0]), lower=False)  # small (b, b)
        q = q @ rinv  # q R^{-1} as one GEMM
        r_total = r if r_total is None else r @ r_total
    return np.ascontiguousarray(q), r_total


class EigenSolver:
    """Factor ``L - sigma M`` once; compute the low spectrum of ``(L, M)`` for any ``k``.

    Parameters
    ----------
    L : scipy.sparse matrix, shape (V, V), float64
        Positive semidefinite Laplacian.
    M : scipy.sparse diagonal matrix, shape (V, V), or ndarray (V,)
        Positive lumped masses.
    block_size : int, optional
        Block size of the Lanczos method (default 16, 32 for ``K > 256``): larger blocks make
        each solve cheaper per right-hand side but need more of them.
    basis_factor : float
        The Krylov basis is restarted when it reaches ``basis_factor * (K + guard)`` columns.
    factorization : {"auto", "builtin", "cholespy", "superlu"}
        Who factors ``L - sigma M`` (:func:`default_factorization` for ``"auto"``); a Cholesky
        that fails (``L`` not positive semidefinite) falls back to SuperLU with a warning.
    check_every : int
        Ritz values are extracted (a dense eigensolve of the projected matrix, which at K = 128
        costs several block solves) only every ``check_every`` blocks once enough columns exist,
        and whenever the basis is full: converged pairs may wait up to ``check_every - 1`` extra
        blocks, which is cheaper than checking after each (``benchmarks/linear_algebra.py``).
    shift : float
        The shift is ``sigma = -shift * 4 pi K / area``, a fraction of Weyl's estimate of
        ``lambda_K`` (``K`` of the first :meth:`solve`, 32 if :attr:`factor` is requested
        first): near enough to 0 not to slow the
        convergence, far enough to keep ``L - sigma M`` well conditioned (the solves are
        accurate to ``eps * lambda_max / |sigma|``, which bounds the attainable residuals).
        The factorization is kept for later solves.
    """

    def __init__(
        self,
        L: sp.spmatrix,
        M: sp.spmatrix | np.ndarray,
        *,
        shift: float = 0.05,
        block_size: int | None = None,
        basis_factor: float = 2.5,
        check_every: int = 4,
        factorization: Factorization = "auto",
    ) -> None:
        self.L, self.mass = _check_pencil(L, M)
        if not (np.isfinite(shift) and shift > 0):
            raise ArgumentError(f"shift must be a positive number, got {shift!r}")
        self.n = self.L.shape[0]
        self._sqrt_m = np.sqrt(self.mass)
        self._inv_sqrt_m = 1.0 / self._sqrt_m
        self.shift = float(shift)
        if block_size is not None and (isinstance(block_size, bool) or int(block_size) < 1):
            raise ArgumentError(f"block_size must be a positive integer, got {block_size!r}")
        if not (np.isfinite(basis_factor) and basis_factor >= 1.5):
            raise ArgumentError(f"basis_factor must be >= 1.5, got {basis_factor!r}")
        self.block_size = block_size
        self.basis_factor = float(basis_factor)
        if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 1:
            raise ArgumentError(f"check_every must be a positive integer, got {check_every!r}")
        self.check_every = int(check_every)
        if factorization not in FACTORIZATIONS:
            raise ArgumentError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")
        if factorization == "cholespy" and not cholespy_available():
            raise DependencyError("factorization='cholespy' needs the cholespy package: pip install cholespy")
        self.factorization = default_factorization(self.n) if factorization == "auto" else factorization
        self.num_solves = 0
        self.sigma: float | None = None
        self._chol: Solver | None = None
        # A = M^{-1/2} L M^{-1/2}, the standard symmetric form.
        d = sp.diags(self._inv_sqrt_m)
        self.A = (d @ self.L @ d).tocsr()

    @property
    def factor(self) -> Solver:
        """The Cholesky factorization of ``L - sigma M`` (computed on first use)."""
        if self._chol is None:
            if self.sigma is None:
                self._set_sigma(32)
            shifted = (self.L - self.sigma * sp.diags(self.mass)).tocsc()
            self._chol = factorize(shifted, self.factorization)
        return self._chol

    def _set_sigma(self, K: int) -> None:
        weyl = 4.0 * np.pi * max(K, 2) / float(self.mass.sum())
        self.sigma = -self.shift * weyl

    def _apply_t(self, y: np.ndarray) -> np.ndarray:
        """``T y = M^{1/2} (L - sigma M)^{-1} M^{1/2} y`` for y (V, r)."""
        self.num_solves += y.shape[1]
        s = self._sqrt_m[:, None]
        return s * self.factor.solve(s * y)

    def solve(
        self,
        k: int,
        *,
        method: Method = "auto",
        tol: float = 1e-8,
        max_restarts: int = 20,
        seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``K = min(k, V)`` smallest eigenpairs; see :func:`eigen_basis`."""
        if method not in _METHODS:
            raise ArgumentError(f"method must be one of {_METHODS}, got {method!r}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ArgumentError(f"k must be a non-negative integer, got {k!r}")
        if not (np.isfinite(tol) and tol > 0):
            raise ArgumentError(f"tol must be a positive number, got {tol!r}")
        K = int(min(k, self.n))
        if K == 0:
            return np.zeros(0), np.zeros((self.n, 0))
        if method == "auto":
            # Dense also when K is a large fraction of V: there the block Krylov solver was seen to
            # stall (V ~ 1500-2600, K = 128) and dense LAPACK costs only seconds.
            dense = self.n <= DENSE_MAX_VERTS or 3 * K >= self.n or (self.n <= 4000 and 25 * K >= self.n)
            method = "dense" if dense else "block"
        if method != "dense" and 3 * K >= self.n:
            method = "dense"  # Krylov methods need room beyond the wanted pairs
        if method != "dense" and self.sigma is None:
            self._set_sigma(K)
        if method == "dense":
            evals, y = self._dense(K)
        elif method == "arpack":
            evals, y = self._arpack(K, tol, seed)
        else:
            evals, y, converged = self._block(K, tol, max_restarts, seed)
            if not converged:  # never return unconverged pairs
                if self.n <= DENSE_FALLBACK_MAX_VERTS:
                    logger.warning("falling back to the dense solver")
                    evals, y = self._dense(K)
                else:
                    logger.warning("falling back to ARPACK (shift-invert on the same factorization)")
                    evals, y = self._arpack(K, tol, seed)
        order = np.argsort(evals, kind="stable")
        evals = evals[order]
        # Roundoff negatives (a PSD L) become 0; genuinely negative values are left alone.
        # Roundoff in the eigenvalues is relative to lambda_max ~ max diag(M^-1 L).
        scale = max(float(np.abs(evals).max()), float(np.abs(self.A.diagonal()).max()), 1e-300)
        tiny = 1e-9 * scale
        evals = np.where((evals < 0) & (evals > -tiny), 0.0, evals)
        evecs = self._inv_sqrt_m[:, None] * y[:, order]
        return evals, _fix_signs(evecs, self.mass)

    # -- solvers -------------------------------------------------------------------------------

    def _dense(self, K: int) -> tuple[np.ndarray, np.ndarray]:
        A = self.A.toarray()
        A = 0.5 * (A + A.T)
        return sla.eigh(A, subset_by_index=[0, K - 1])

    def _arpack(self, K: int, tol: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        op = spla.LinearOperator((self.n, self.n), matvec=lambda x: self._apply_t(x.reshape(-1, 1)).ravel(), dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(self.n)
        mu, y = spla.eigsh(op, k=K, which="LA", tol=tol, v0=v0, ncv=min(self.n, max(2 * K + 1, 20)))
        return self._lambda(mu), y

    def _lambda(self, mu: np.ndarray) -> np.ndarray:
        """Eigenvalues of (L, M) from Ritz values of T: ``lambda = sigma + 1 / mu``.

        More accurate than Rayleigh quotients of ``A`` (whose error grows with ``lambda_max``):
        the error in ``mu`` is quadratic in the small residual of ``T``.
        """
        return self.sigma + 1.0 / np.asarray(mu, dtype=np.float64)

    def _block(self, K: int, tol: float, max_restarts: int, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Thick-restart block Lanczos (block Krylov-Schur) on T, full reorthogonalization."""
        n = self.n
        rng = np.random.default_rng(seed)
        p = min(n // 3, K + max(8, K // 8))  # Ritz vectors kept at a restart
        b = int(self.block_size) if self.block_size else (16 if K <= 256 else 32)
        b = max(1, min(b, p))
        m_max = int(min(n - 2 * b, self.basis_factor * p))  # basis size that triggers a restart
        Q = np.empty((n, m_max + 2 * b), order="F")  # column blocks contiguous for BLAS
        H = np.zeros((m_max + 2 * b, m_max + 2 * b))
        Q[:, :b] = np.linalg.qr(rng.standard_normal((n, b)))[0]
        j, cur = 0, b  # columns [0, j) are closed: T Q[:, :j] = Q[:, :cur] H[:cur, :j]
        since_check = 0  # blocks added since the last Ritz extraction
        for restart in range(max_restarts + 1):
            while True:
                w = self._apply_t(Q[:, j:cur])  # (n, bb)
                qc = Q[:, :cur]
                nrm0 = np.linalg.norm(w, axis=0)
                coef = qc.T @ w
                w -= qc @ coef
                # A second Gram-Schmidt pass only when the cancellation was severe: one pass
                # leaves an orthogonality error ~ eps * |w_before| / |w_after|, and with the
                # moderate shift that ratio stays far below 1e2 (checked in the tests).
                if (np.linalg.norm(w, axis=0) < 1e-2 * nrm0).any():
                    c2 = qc.T @ w
                    w -= qc @ c2
                    coef += c2
                qn, r = _chol_qr(w)
                d = np.abs(np.diag(r))
                bad = d <= 1e-12 * max(1.0, d.max())
                if bad.any():  # invariant subspace found: continue with fresh directions
                    w2 = rng.standard_normal((n, int(bad.sum())))
                    for _ in range(2):
                        w2 -= qc @ (qc.T @ w2)
                        w2 -= qn[:, ~bad] @ (qn[:, ~bad].T @ w2)
                    qn[:, bad] = np.linalg.qr(w2)[0]
                    r[bad, :] = 0.0
                bb = cur - j
                H[:cur, j:cur] = coef
                H[cur : cur + bb, j:cur] = r
                Q[:, cur : cur + bb] = qn
                j, cur = cur, cur + bb
                since_check += 1
                full = j + bb > m_max
                if not full and (j < p + b or since_check < self.check_every):
                    continue
                since_check = 0
                # Ritz pairs of T (largest mu <-> smallest lambda) and their residual norms,
                # ||T x - mu x|| = ||H[j:cur, :j] z|| (the Krylov relation, no extra work).
                hm = H[:j, :j]
                # All of H's eigenpairs by divide and conquer, then the p largest: several times
                # faster than LAPACK's subset driver (evr) at these sizes (j of a few hundred).
                mu, z = sla.eigh(0.5 * (hm + hm.T), driver="evd")
                mu, z = mu[: j - p - 1 : -1] if j > p else mu[::-1], z[:, : j - p - 1 : -1] if j > p else z[:, ::-1]
                res = np.linalg.norm(H[j:cur, :j] @ z[:, :K], axis=0)
                conv = res <= tol * np.abs(mu[:K])
                logger.debug("block eigensolver: pass %d, basis %d, %d/%d converged, solves %d",
                             restart, j, int(conv.sum()), K, self.num_solves)
                if conv.all() or j + bb > m_max:
                    break
            last = conv.all() or restart == max_restarts
            x = Q[:, :j] @ (z[:, :K] if last else z)  # orthonormal Ritz vectors: (n, K) at the end, else (n, p)
            if last:
                break
            # Thick restart: the p best Ritz vectors and the open block.
            s_block = H[j:cur, :j] @ z  # (bb, p)
            Q[:, p : p + bb] = Q[:, j:cur]
            Q[:, :p] = x
            H[:] = 0.0
            H[:p, :p] = np.diag(mu)
            H[p : p + bb, :p] = s_block
            j, cur = p, p + bb
        if not conv.all():
            logger.warning("block eigensolver did not reach tol=%.1e after %d restarts (max residual %.2e)",
                           tol, max_restarts, float((res / np.abs(mu[:K])).max()))
        return self._lambda(mu[:K]), x[:, :K], bool(conv.all())


def eigen_basis(
    L: sp.spmatrix,
    M: sp.spmatrix | np.ndarray,
    k: int,
    *,
    method: Method = "auto",
    tol: float = 1e-8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of ``L phi = lambda M phi``.

    Parameters
    ----------
    L : scipy.sparse matrix, shape (V, V), float64
        Positive semidefinite Laplacian (see :mod:`geodesic_nets.geometry.laplacian`).
    M : scipy.sparse diagonal matrix, shape (V, V), or ndarray (V,)
        Positive lumped masses.
    k : int
        Number of eigenpairs wanted; ``K = min(k, V)`` are returned.
    method : {"auto", "block", "arpack", "dense"}
        Solver (see the module docstring). ``"auto"``: dense for ``V <= DENSE_MAX_VERTS``,
        ``3 K >= V`` or (``V <= 4000`` and ``25 K >= V``), else ``"block"``. When the block solver
        does not converge within its restarts it falls back to the dense solver (``V <=
        DENSE_FALLBACK_MAX_VERTS``) or to ARPACK on the same factorization, so unconverged pairs
        are never returned.
    tol : float
        Convergence test of the Krylov methods, on the shift-invert operator
        ``T = M^{1/2} (L - sigma M)^{-1} M^{1/2}``: ``||T y - mu y|| <= tol * mu`` for every
        wanted Ritz pair (as ARPACK's ``tol``). Eigenvalues come out accurate to far better
        than ``tol`` (about ``tol**2`` relative), eigenvectors to about ``tol / relative gap``.
    seed : int
        Seed of the random start block (results do not depend on it beyond ``tol``).

    Returns
    -------
    evals : ndarray, shape (K,), float64
        Ascending; roundoff negatives (above ``-1e-9 lambda_max``) are set to 0, so a PSD ``L``
        gives ``evals >= 0``. A mesh with ``c`` connected
        components (or isolated vertices) has ``c`` eigenvalues ~ 0.
    evecs : ndarray, shape (V, K), float64
        M-orthonormal: ``evecs.T @ M @ evecs = I``. Sign convention: each column has a
        positive mass-weighted third moment ``sum_i m_i phi_i^3``; where that vanishes
        (``|.| <= 1e-6 max|phi|``, e.g. odd functions on symmetric shapes) its largest-magnitude
        entry (the first vertex among ties) is positive. Within a degenerate eigenspace the
        basis is arbitrary.

    Raises
    ------
    GeometryError
        Empty or inconsistent matrices, non-positive masses.
    ValueError
        Bad options.
    """
    return EigenSolver(L, M).solve(k, method=method, tol=tol, seed=seed)
