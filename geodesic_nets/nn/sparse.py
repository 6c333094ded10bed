"""CSR sparse x dense products with a cheap, deterministic backward.

``torch.sparse.mm`` on a COO matrix is slow on the CPU and its backward converts formats on every
call. :class:`CsrOperator` keeps a CSR matrix **and** its transpose (built once per batch), so that
the forward is ``A @ x`` and the backward is ``A^T @ grad`` with no conversion. The matrix itself is
a constant (no gradient).

On the CPU the products run in scipy's CSR kernel on zero-copy numpy views: torch's CPU CSR
product zero-fills and copies its operands and was measured ~10x slower for (V, 128) blocks, and
superlinearly slower in the number of columns. Both are row-wise loops, hence deterministic. On a
GPU torch's CSR product (cuSPARSE) is used.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["CsrOperator", "csr_matmul"]


def _to_csr(a: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        if a.layout == torch.sparse_csr:
            return a
        if a.layout == torch.sparse_coo:
            return a.coalesce().to_sparse_csr()
        if a.layout == torch.strided:
            return a.to_sparse_csr()
    raise TypeError(f"expected a COO, CSR or dense matrix, got layout {a.layout}")


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
    raise TypeError(f"expected a COO, CSR or dense matrix, got layout {a.layout}")


def _torch_from_scipy(a: sp.csr_matrix) -> torch.Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(a.indptr.astype(np.int64)),
            torch.from_numpy(a.indices.astype(np.int64)),
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
    matrix : Tensor, shape (R, N)
        Sparse COO, sparse CSR or dense; float32 or float64. Converted to CSR once, together
        with its transpose.

    Notes
    -----
    Not an ``nn.Module`` (it has no parameters): build one per batch and reuse it in every layer.
    """

    def __init__(self, matrix: torch.Tensor) -> None:
        if matrix.dim() != 2:
            raise ValueError(f"expected a matrix, got shape {tuple(matrix.shape)}")
        if not matrix.dtype.is_floating_point:
            raise TypeError(f"expected a floating matrix, got {matrix.dtype}")
        self._scipy: tuple[sp.csr_matrix, sp.csr_matrix] | None = None
        if matrix.device.type == "cpu":
            # scipy builds CSR and its transpose in O(nnz) (no sort), and runs the products.
            a = _scipy_from_torch(matrix)
            a_t = a.T.tocsr()
            self._scipy = (a, a_t)
            self.matrix = _torch_from_scipy(a)  # (R, N)
            self.matrix_t = _torch_from_scipy(a_t)  # (N, R)
        else:
            self.matrix = _to_csr(matrix)  # (R, N)
            self.matrix_t = _csr_transpose(self.matrix)  # (N, R)

    def mm(self, x: torch.Tensor) -> torch.Tensor:
        """``matrix @ x`` without autograd; x (N, C) contiguous -> (R, C)."""
        if self._scipy is not None:
            return torch.from_numpy(np.asarray(self._scipy[0] @ x.detach().numpy()))
        return self.matrix @ x

    def mm_t(self, x: torch.Tensor) -> torch.Tensor:
        """``matrix^T @ x`` without autograd; x (R, C) contiguous -> (N, C)."""
        if self._scipy is not None:
            return torch.from_numpy(np.asarray(self._scipy[1] @ x.detach().numpy()))
        return self.matrix_t @ x

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)  # type: ignore[return-value]

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
        raise ValueError(f"matrix of shape {op.shape} cannot multiply x of shape {tuple(x.shape)}")
    if x.dtype != op.matrix.dtype or x.device != op.matrix.device:
        raise TypeError(
            f"x is {x.dtype} on {x.device} but the matrix is {op.matrix.dtype} on {op.matrix.device}"
        )
    vec = x.dim() == 1
    x2 = x.unsqueeze(1) if vec else x
    y = _CsrMatmul.apply(x2.contiguous(), op, op)
    return y.squeeze(1) if vec else y
