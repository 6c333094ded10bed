"""CSR sparse x dense products with a cheap, deterministic backward.

``torch.sparse.mm`` on a COO matrix is slow on the CPU and its backward converts formats on every
call. :class:`CsrOperator` keeps a CSR matrix **and** its transpose (built once per batch), so that
the forward is ``A @ x`` and the backward is ``A^T @ grad`` with no conversion. Both are row-wise
CSR kernels, hence deterministic on the CPU. The matrix itself is a constant (no gradient).
"""

from __future__ import annotations

import warnings

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


class _CsrMatmul(torch.autograd.Function):
    """y = A @ x with A constant; grad_x = A^T @ grad_y."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor, a_t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.a_t = a_t
        return a @ x

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = ctx.a_t @ grad_y.contiguous()
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
        self.matrix = _to_csr(matrix)  # (R, N)
        self.matrix_t = _csr_transpose(self.matrix)  # (N, R)

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
    y = _CsrMatmul.apply(x2.contiguous(), op.matrix, op.matrix_t)
    return y.squeeze(1) if vec else y
