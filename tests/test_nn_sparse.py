"""CSR sparse x dense product with a transposed-CSR backward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from geodesic_nets.nn.sparse import CsrOperator, csr_matmul


def _random_sparse(rows, cols, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(rows, cols, generator=gen, dtype=dtype)
    a[torch.rand(rows, cols, generator=gen) < 0.7] = 0
    return a


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["coo", "csr", "dense"])
def test_matches_dense_product(dtype, layout):
    a = _random_sparse(9, 6, dtype)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        m = {"coo": a.to_sparse, "csr": a.to_sparse_csr, "dense": lambda: a}[layout]()
    op = CsrOperator(m)
    x = torch.randn(6, 4, dtype=dtype)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(csr_matmul(op, x), a @ x, **tol)
    torch.testing.assert_close(op @ x[:, 0], a @ x[:, 0], **tol)  # vectors too
    assert op.shape == (9, 6)


def test_gradcheck_rectangular():
    op = CsrOperator(_random_sparse(8, 5, torch.float64).to_sparse())
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: csr_matmul(op, x), (x,))
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: csr_matmul(op, v), (v,))


def test_backward_is_transpose_and_deterministic():
    a = _random_sparse(30, 20, torch.float32, seed=2)
    op = CsrOperator(a.to_sparse())
    x = torch.randn(20, 7, requires_grad=True)
    g = torch.randn(30, 7)
    grads = []
    for _ in range(2):
        x.grad = None
        csr_matmul(op, x).backward(g)
        grads.append(x.grad.clone())
    assert torch.equal(grads[0], grads[1])
    torch.testing.assert_close(grads[0], a.t() @ g, atol=1e-5, rtol=1e-5)


def test_errors():
    op = CsrOperator(_random_sparse(4, 3, torch.float64).to_sparse())
    with pytest.raises(ValueError, match="cannot multiply"):
        csr_matmul(op, torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="float32"):
        csr_matmul(op, torch.zeros(3, 2, dtype=torch.float32))
    with pytest.raises(TypeError, match="floating"):
        CsrOperator(torch.zeros(3, 3, dtype=torch.int64).to_sparse())
    with pytest.raises(ValueError, match="matrix"):
        CsrOperator(torch.zeros(3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cols", [1, 7, 300])  # 300: float32 runs 128-column blocks of embedding_bag
def test_row_range_products_match_dense(dtype, cols):
    """``mm_rows`` / ``mm_t_rows`` (and ``mm`` / ``mm_t``) against dense products, empty rows included."""
    a = _random_sparse(23, 17, dtype, seed=3)
    a[4] = 0  # an empty row
    a[:, 5] = 0  # an empty column (an empty row of the transpose)
    op = CsrOperator(a.to_sparse())
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(17, cols, generator=gen, dtype=dtype), torch.randn(23, cols, generator=gen, dtype=dtype)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(op.mm(x), a @ x, **tol)
    torch.testing.assert_close(op.mm_t(y), a.t() @ y, **tol)
    for start, stop in [(0, 23), (3, 11), (4, 5), (22, 23), (7, 7)]:
        torch.testing.assert_close(op.mm_rows(start, stop, x), (a @ x)[start:stop], **tol)
    for start, stop in [(0, 17), (5, 6), (9, 17)]:
        torch.testing.assert_close(op.mm_t_rows(start, stop, y), (a.t() @ y)[start:stop], **tol)


def test_scipy_input_and_derived_operators():
    a = _random_sparse(6, 4, torch.float64, seed=5)
    op = CsrOperator(sp.csr_matrix(a.numpy()))
    assert op.shape == (6, 4) and op.matrix.dtype == torch.float64
    torch.testing.assert_close(op.mm(torch.eye(4, dtype=torch.float64)), a)
    built = []
    first = op.derived("twice", lambda: built.append(1) or CsrOperator(2 * a))
    assert op.derived("twice", lambda: built.append(1) or CsrOperator(2 * a)) is first
    assert built == [1]  # built once
    with pytest.raises(TypeError, match="float32 or float64"):
        CsrOperator(sp.csr_matrix(np.eye(3, dtype=np.int64)))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    a = _random_sparse(9, 6, torch.float64)
    x = torch.randn(6, 4, dtype=torch.float64)
    op = CsrOperator(a.to_sparse().cuda())
    torch.testing.assert_close(csr_matmul(op, x.cuda()).cpu(), a @ x)
