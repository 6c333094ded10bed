"""FieldType: features built from stacks of SO(2) irreducible representations.

A feature vector of type ``FieldType((n_0, n_1, ..., n_M))`` holds ``n_m`` copies of the order-m
irrep of SO(2), laid out by order:

* first the ``n_0`` order-0 channels (one real channel each, invariant under gauge changes),
* then, for m = 1..M, ``n_m`` pairs ``(cos, sin)`` interleaved: channels ``[c_1, s_1, c_2, s_2, ...]``
  so that the order-m block viewed as ``(V, n_m, 2)`` gives the pairs.

Gauge convention (the one of :mod:`geodesic_nets.geometry.frames`): rotating a vertex's frame
counter-clockwise by ``phi`` changes a tangent vector's polar angle by ``-phi``, i.e. its
coordinates by ``R(-phi)``; an order-m pair ``(c, s)`` (read as the complex number ``c + i s``)
changes by ``R(-m phi)`` (multiplication by ``exp(-i m phi)``).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ...errors import ArgumentError

__all__ = ["FieldType", "rotate_irreps"]


class FieldType:
    """Multiplicities of the SO(2) irreps of orders 0..M in a feature vector.

    Parameters
    ----------
    multiplicities : sequence of int
        ``multiplicities[m]`` copies of the order-m irrep (m = 0..M); each >= 0, at least one > 0.

    Attributes
    ----------
    multiplicities : tuple of int
    max_order : int
        M.
    dim : int
        Number of real channels C = n_0 + 2 (n_1 + ... + n_M).
    """

    def __init__(self, multiplicities: Sequence[int]):
        mult = tuple(int(m) for m in multiplicities)
        if len(mult) == 0 or any(m < 0 for m in mult) or sum(mult) == 0:
            raise ArgumentError(f"multiplicities must be non-negative with at least one positive, got {multiplicities!r}")
        self.multiplicities = mult
        self.max_order = len(mult) - 1
        offsets, off = [], 0
        for m, n in enumerate(mult):
            offsets.append(off)
            off += n * (1 if m == 0 else 2)
        self._offsets = tuple(offsets)
        self.dim = off

    # ------------------------------------------------------------------ layout
    def slice(self, order: int) -> slice:
        """Channel slice of the order-``order`` block (empty when its multiplicity is 0)."""
        if not 0 <= order <= self.max_order:
            raise ArgumentError(f"order must be in 0..{self.max_order}, got {order}")
        width = self.multiplicities[order] * (1 if order == 0 else 2)
        return slice(self._offsets[order], self._offsets[order] + width)

    def channel_orders(self) -> torch.Tensor:
        """Order of the irrep each channel belongs to, shape (C,), int64."""
        out = []
        for m, n in enumerate(self.multiplicities):
            out += [m] * (n if m == 0 else 2 * n)
        return torch.tensor(out, dtype=torch.int64)

    @property
    def num_scalars(self) -> int:
        """Number of gauge invariants :func:`~geodesic_nets.nn.gauge.to_scalars` returns."""
        return sum(self.multiplicities)

    @classmethod
    def scalars(cls, n: int) -> "FieldType":
        """``n`` order-0 (invariant) channels."""
        return cls((n,))

    @classmethod
    def regular(cls, max_order: int, n_fields: int) -> "FieldType":
        """``n_fields`` band-limited regular fields: every order 0..max_order ``n_fields`` times."""
        return cls((n_fields,) * (max_order + 1))

    def is_regular(self) -> bool:
        """True when every order 0..M has the same multiplicity."""
        return len(set(self.multiplicities)) == 1

    # ------------------------------------------------------------------ gauge action
    def transform(self, x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Coordinates of the features in the gauge rotated by ``angles``.

        Parameters
        ----------
        x : Tensor, shape (N, C)
        angles : Tensor, shape (N,)
            Counter-clockwise frame rotation per row.

        Returns
        -------
        Tensor, shape (N, C)
            Order-m pairs multiplied by ``R(-m * angles)``; order-0 channels unchanged.
        """
        return rotate_irreps(x, -angles, self)

    def rotation_matrix(self, angles: torch.Tensor) -> torch.Tensor:
        """Block-diagonal matrices of :meth:`transform`, shape (N, C, C) (for tests; O(N C^2))."""
        eye = torch.eye(self.dim, dtype=angles.dtype, device=angles.device)
        cols = [self.transform(eye[j].expand(angles.shape[0], -1), angles) for j in range(self.dim)]
        return torch.stack(cols, dim=-1)

    def check(self, x: torch.Tensor, what: str = "x") -> None:
        """Raise ValueError unless ``x`` is (N, C) with C = ``self.dim``."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ArgumentError(f"{what} must have shape (N, {self.dim}) for {self}, got {tuple(x.shape)}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldType) and other.multiplicities == self.multiplicities

    def __hash__(self) -> int:
        return hash(self.multiplicities)

    def __repr__(self) -> str:
        return f"FieldType({list(self.multiplicities)})"


def rotate_irreps(x: torch.Tensor, angles: torch.Tensor, field_type: FieldType, cos_sin=None) -> torch.Tensor:
    """Rotate every order-m pair of ``x`` by ``R(m * angles)`` (order 0 unchanged).

    Parameters
    ----------
    x : Tensor, shape (N, C)
    angles : Tensor, shape (N,)
    field_type : FieldType
        With ``dim == C``.
    cos_sin : tuple of Tensor, optional
        Precomputed ``(cos(m angles), sin(m angles))``, each (N, M) for m = 1..M (saves work when
        the same angles rotate several tensors).

    Returns
    -------
    Tensor, shape (N, C)
    """
    ft = field_type
    parts = []
    if ft.multiplicities[0] > 0:
        parts.append(x[:, ft.slice(0)])
    for m in range(1, ft.max_order + 1):
        n = ft.multiplicities[m]
        if n == 0:
            continue
        if cos_sin is None:
            c, s = torch.cos(m * angles)[:, None], torch.sin(m * angles)[:, None]  # (N, 1)
        else:
            c, s = cos_sin[0][:, m - 1, None], cos_sin[1][:, m - 1, None]
        blk = x[:, ft.slice(m)].reshape(x.shape[0], n, 2)  # (N, n, 2)
        a, b = blk[..., 0], blk[..., 1]
        parts.append(torch.stack((c * a - s * b, s * a + c * b), dim=-1).reshape(x.shape[0], 2 * n))
    return torch.cat(parts, dim=1)
