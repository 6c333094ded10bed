"""CSR sparse x dense products with a cheap, deterministic backward.

``torch.sparse.mm`` on a COO matrix is slow on the CPU and its backward converts formats on every
call. :class:`CsrOperator` keeps a CSR matrix **and** its transpose (built once per batch), so that
the forward is ``A @ x`` and the backward is ``A^T @ grad`` with no conversion. The matrix itself is
a constant (no gradient).

On the CPU, float32 products run in ``torch.nn.functional.embedding_bag`` (mode ``"sum"`` with
per-sample weights is exactly a CSR times dense product: one bag per row, the column indices as
the bag's members, the values as their weights), whose FBGEMM kernel is vectorised: ~2.5x faster
than scipy's scalar CSR loop for (V, 128) blocks, ~8x faster than torch's own CPU CSR product.
That kernel slows down ~10x beyond ~192 columns, so wider blocks go through it 128 columns at a
time. Float64 products run in scipy's CSR kernel on zero-copy numpy views. Both are row-wise
loops, hence deterministic. On a GPU torch's CSR product (cuSPARSE) is used.
"""

from __future__ import annotations

import warnings
from typing import Callable, Hashable

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import ArgumentError

__all__ = ["CsrOperator", "csr_matmul"]

# Widest column block handed to embedding_bag at once (its kernel is ~10x slower at 256 columns).
_BAG_COLUMNS = 128


def _to_csr(a: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        if a.layout == torch.sparse_csr:
            return a
        if a.layout == torch.sparse_coo:
            return a.coalesce().to_sparse_csr()
        if a.layout == torch.strided:
            return a.to_sparse_csr()
    raise ArgumentError(f"expected a COO, CSR or dense matrix, got layout {a.layout}")


def _csr_transpose(a: torch.Tensor) -> torch.Tensor:
    # COO transpose + coalesce sorts by the new rows: an exact CSR of A^T.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return a.to_sparse_coo().t().coalesce().to_sparse_csr()


def _scipy_from_torch(a: torch.Tensor) -> sp.csr_matrix:
    """scipy CSR copy of a CPU torch matrix (COO, coalesced or not, CSR or dense), same dtype."""
    shape = tuple(a.shape)
    if a.layout == torch.sparse_coo:
        idx = a._indices().numpy()
        return sp.csr_matrix((a._values().detach().numpy(), (idx[0], idx[1])), shape=shape)  # sums duplicates
    if a.layout == torch.sparse_csr:
        return sp.csr_matrix(
            (a.values().detach().numpy(), a.col_indices().numpy(), a.crow_indices().numpy()), shape=shape
        )
    if a.layout == torch.strided:
        return sp.csr_matrix(a.detach().numpy())
    raise ArgumentError(f"expected a COO, CSR or dense matrix, got layout {a.layout}")


def _bag_product(crow: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, start: int, stop: int,
                 x: torch.Tensor) -> torch.Tensor:
    """Rows ``start:stop`` of a float32 CPU CSR matrix times a dense (N, C) block, via embedding_bag.

    Row r of the result is ``sum_j vals[j] * x[cols[j]]`` over ``crow[r] <= j < crow[r+1]``, i.e.
    bag r of ``embedding_bag(cols, x, crow, per_sample_weights=vals, mode="sum")``.

    Returns
    -------
    Tensor, shape (stop - start, C)
    """
    lo, hi = int(crow[start]), int(crow[stop])
    offsets = crow[start : stop + 1] if lo == 0 else crow[start : stop + 1] - lo  # bags must start at 0
    args = dict(mode="sum", per_sample_weights=vals[lo:hi], include_last_offset=True)
    if x.shape[1] <= _BAG_COLUMNS:
        return torch.nn.functional.embedding_bag(cols[lo:hi], x.contiguous(), offsets, **args)
    blocks = torch.split(x, _BAG_COLUMNS, dim=1)
    bags = [torch.nn.functional.embedding_bag(cols[lo:hi], b.contiguous(), offsets, **args) for b in blocks]
    return torch.cat(bags, 1)


def _torch_from_scipy(a: sp.csr_matrix) -> torch.Tensor:
    """torch CSR view of a scipy CSR matrix (index arrays and values shared, int32 or int64)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        idx = np.int32 if a.indices.dtype == np.int32 and a.indptr.dtype == np.int32 else np.int64
        return torch.sparse_csr_tensor(
            torch.from_numpy(np.ascontiguousarray(a.indptr, dtype=idx)),
            torch.from_numpy(np.ascontiguousarray(a.indices, dtype=idx)),
            torch.from_numpy(a.data),
            size=a.shape,
        )


class _CsrMatmul(torch.autograd.Function):
    """y = A @ x with A constant (a CsrOperator); grad_x = A^T @ grad_y."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: "CsrOperator", a_t: "CsrOperator") -> torch.Tensor:  # type: ignore[override]
        ctx.a_t = a_t
        return a.mm(x)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = ctx.a_t.mm_t(grad_y.contiguous())
        return grad_x, None, None


class CsrOperator:
    """A constant sparse matrix ready for fast products, forward and backward.

    Parameters
    ----------
    matrix : Tensor, shape (R, N), or scipy sparse matrix
        Sparse COO, sparse CSR or dense; float32 or float64 (a scipy matrix: CPU). Converted to
        CSR once, together with its transpose.

    Notes
    -----
    Not an ``nn.Module`` (it has no parameters): build one per batch and reuse it in every layer.
    On the CPU the torch CSR tensors share their index arrays (int32 when they fit) and values
    with the scipy matrices.
    """

    def __init__(self, matrix: torch.Tensor | sp.spmatrix) -> None:
        self._scipy: tuple[sp.csr_matrix, sp.csr_matrix] | None = None
        self._derived: dict[Hashable, CsrOperator] = {}
        if sp.issparse(matrix):
            a = sp.csr_matrix(matrix)
            if a.dtype not in (np.float32, np.float64):
                raise ArgumentError(f"expected a float32 or float64 matrix, got {a.dtype}")
            self._init_cpu(a)
            return
        if matrix.dim() != 2:
            raise ArgumentError(f"expected a matrix, got shape {tuple(matrix.shape)}")
        if not matrix.dtype.is_floating_point:
            raise ArgumentError(f"expected a floating matrix, got {matrix.dtype}")
        if matrix.device.type == "cpu":
            self._init_cpu(_scipy_from_torch(matrix))
        else:
            self.matrix = _to_csr(matrix)  # (R, N)
            self.matrix_t = _csr_transpose(self.matrix)  # (N, R)

    def _init_cpu(self, a: sp.csr_matrix) -> None:
        # scipy builds CSR and its transpose in O(nnz) (no sort), and runs the float64 products.
        a_t = a.T.tocsr()
        self._scipy = (a, a_t)
        self.matrix = _torch_from_scipy(a)  # (R, N)
        self.matrix_t = _torch_from_scipy(a_t)  # (N, R)

    def mm(self, x: torch.Tensor) -> torch.Tensor:
        """``matrix @ x`` without autograd; x (N, C) -> (R, C)."""
        return self._product(0, 0, self.shape[0], x)

    def mm_t(self, x: torch.Tensor) -> torch.Tensor:
        """``matrix^T @ x`` without autograd; x (R, C) -> (N, C)."""
        return self._product(1, 0, self.shape[1], x)

    def mm_rows(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        """Rows ``start:stop`` of ``matrix @ x`` without autograd; x (N, C) -> (stop - start, C)."""
        return self._product(0, start, stop, x)

    def mm_t_rows(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        """Rows ``start:stop`` of ``matrix^T @ x`` without autograd; x (R, C) -> (stop - start, C)."""
        return self._product(1, start, stop, x)

    def _product(self, which: int, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        matrix = self.matrix_t if which else self.matrix
        whole = start == 0 and stop == matrix.shape[0]
        if self._scipy is None:  # GPU: torch's CSR product
            return matrix @ x if whole else (matrix @ x)[start:stop]
        x = x.detach()
        if x.dtype == torch.float32:
            return _bag_product(matrix.crow_indices(), matrix.col_indices(), matrix.values(), start, stop, x)
        a = self._scipy[which]
        return torch.from_numpy(np.asarray((a if whole else a[start:stop]) @ x.numpy()))

    def derived(self, key: Hashable, build: Callable[[], "CsrOperator"]) -> "CsrOperator":
        """An operator computed from this one: built by ``build()`` on the first request of ``key``,
        then kept with this (constant) operator, so that the layers sharing it build it once."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return csr_matmul(self, x)


def csr_matmul(op: CsrOperator, x: torch.Tensor) -> torch.Tensor:
    """Product ``op.matrix @ x``, differentiable in ``x``.

    Parameters
    ----------
    op : CsrOperator, shape (R, N)
    x : Tensor, shape (N,) or (N, C)
        Same dtype and device as the matrix.

    Returns
    -------
    Tensor, shape (R,) or (R, C)
    """
    if x.shape[0] != op.shape[1]:
        raise ArgumentError(f"matrix of shape {op.shape} cannot multiply x of shape {tuple(x.shape)}")
    if x.dtype != op.matrix.dtype or x.device != op.matrix.device:
        raise ArgumentError(
            f"x is {x.dtype} on {x.device} but the matrix is {op.matrix.dtype} on {op.matrix.device}"
        )
    vec = x.dim() == 1
    x2 = x.unsqueeze(1) if vec else x
    y = _CsrMatmul.apply(x2.contiguous(), op, op)
    return y.squeeze(1) if vec else y
