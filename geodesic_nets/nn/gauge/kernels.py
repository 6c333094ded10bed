"""Gauge-equivariant kernels: the solved SO(2) constraint and the radial profiles.

A one-ring kernel ``K(theta)`` maps features of order ``n`` (input) at a neighbour, already
transported into the centre's frame, to order ``m`` (output) at the centre, ``theta`` being the
neighbour's polar angle. Gauge equivariance requires, for every angle ``phi``,

    K(theta - phi) = rho_out(-phi) K(theta) rho_in(phi),        rho_m(a) = R(m a)  (rho_0 = 1).

Solution (complex form: an order-m pair is ``z = c + i s``; a real-linear map is
``z -> a z + b conj(z)``): ``a(theta) = A exp(i (m - n) theta)`` and
``b(theta) = B exp(i (m + n) theta)`` with constants A, B; for m = 0 the output is ``Re(a z)``
with ``a = A exp(-i n theta)``, for n = 0 ``b`` is redundant. Counting real parameters:
(m, n) both > 0: 4; one of them 0: 2; both 0: 1, which is in every case the number of entries of
a real (d_m x d_n) matrix. Indeed the whole solution space is

    K(theta) = rho_out(theta) W rho_in(-theta),    W any real (d_out x d_in) matrix,

i.e. "rotate the neighbour features into the frame aligned with the edge, apply an unconstrained
linear map, rotate back". This is what :class:`~geodesic_nets.nn.gauge.GaugeConv` evaluates
(with one W per radial basis function), without forming K.

At ``rho = 0`` (self-interaction) the angle is undefined and K must satisfy
``K = rho_out(-phi) K rho_in(phi)``: only m = n blocks survive, as complex multiplications
``z -> A z`` (2 parameters for m > 0, 1 for m = 0).
"""

from __future__ import annotations

import torch

from .field_type import FieldType, rotate_irreps
from ...errors import ArgumentError

__all__ = ["kernel_basis_size", "edge_kernel", "self_kernel", "radial_basis"]


def kernel_basis_size(m_out: int, m_in: int, *, at_origin: bool = False) -> int:
    """Number of real basis kernels for one (output order, input order) block.

    Parameters
    ----------
    m_out, m_in : int
        Irrep orders, >= 0.
    at_origin : bool
        The self-interaction (rho = 0) kernel instead of the angular one.
    """
    if m_out < 0 or m_in < 0:
        raise ArgumentError(f"orders must be >= 0, got {m_out}, {m_in}")
    d_out, d_in = (1 if m_out == 0 else 2), (1 if m_in == 0 else 2)
    if not at_origin:
        return d_out * d_in
    if m_out != m_in:
        return 0
    return 1 if m_out == 0 else 2


def edge_kernel(theta: torch.Tensor, weight: torch.Tensor, in_type: FieldType, out_type: FieldType) -> torch.Tensor:
    """Explicit kernel matrices ``K(theta) = rho_out(theta) W rho_in(-theta)``.

    Parameters
    ----------
    theta : Tensor, shape (N,)
    weight : Tensor, shape (C_out, C_in)
        W, unconstrained.
    in_type, out_type : FieldType

    Returns
    -------
    Tensor, shape (N, C_out, C_in)
        O(N C_out C_in) memory: for tests and reference implementations.
    """
    N = theta.shape[0]
    C_out, C_in = out_type.dim, in_type.dim
    if weight.shape != (C_out, C_in):
        raise ArgumentError(f"weight must have shape ({C_out}, {C_in}), got {tuple(weight.shape)}")
    eye = torch.eye(C_in, dtype=theta.dtype, device=theta.device)
    # columns of rho_in(-theta): rotate each unit vector
    cols = torch.stack([rotate_irreps(eye[j].expand(N, -1), -theta, in_type) for j in range(C_in)], dim=-1)  # (N, C_in, C_in)
    wk = weight @ cols  # (N, C_out, C_in)
    rows = [rotate_irreps(wk[:, :, j], theta, out_type) for j in range(C_in)]
    return torch.stack(rows, dim=-1)  # (N, C_out, C_in)


def self_kernel(params: dict[int, torch.Tensor], in_type: FieldType, out_type: FieldType) -> torch.Tensor:
    """Self-interaction matrix from per-order parameters.

    Parameters
    ----------
    params : dict int -> Tensor
        For order 0: shape (n_out, n_in); for order m > 0: shape (2, n_out, n_in), the real and
        imaginary parts of a complex matrix acting on the pairs ``c + i s``. Orders missing from
        either type are ignored.
    in_type, out_type : FieldType

    Returns
    -------
    Tensor, shape (C_out, C_in)
        Block diagonal in the orders.
    """
    ref = next(iter(params.values()))
    S = ref.new_zeros(out_type.dim, in_type.dim)
    for m, p in params.items():
        so, si = out_type.slice(m), in_type.slice(m)
        if m == 0:
            S[so, si] = p
        else:
            a, b = p[0], p[1]  # (n_out, n_in)
            blk = torch.stack((torch.stack((a, -b), -1), torch.stack((b, a), -1)), -2)  # (n_out, n_in, 2, 2)
            S[so, si] = blk.permute(0, 2, 1, 3).reshape(2 * a.shape[0], 2 * a.shape[1])
    return S


def radial_basis(rel_length: torch.Tensor, n_radial: int) -> torch.Tensor:
    """Radial profiles of the edge lengths.

    Parameters
    ----------
    rel_length : Tensor, shape (E,)
        Edge length over the mean edge length of its mesh.
    n_radial : int
        R >= 1. R = 1 gives the constant profile. Otherwise Gaussians centred at
        ``linspace(0, 2, R)`` with width ``2 / (R - 1)``, normalized to sum to 1 on every edge
        (a smooth partition of unity, so the overall scale matches R = 1).

    Returns
    -------
    Tensor, shape (E, R)
    """
    if n_radial < 1:
        raise ArgumentError(f"n_radial must be >= 1, got {n_radial}")
    if n_radial == 1:
        return torch.ones_like(rel_length)[:, None]
    centres = torch.linspace(0.0, 2.0, n_radial, dtype=rel_length.dtype, device=rel_length.device)
    width = 2.0 / (n_radial - 1)
    g = torch.exp(-0.5 * ((rel_length[:, None] - centres) / width) ** 2)  # (E, R)
    return g / g.sum(dim=1, keepdim=True)
