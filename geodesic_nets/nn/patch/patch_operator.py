"""The intrinsic patch operator: weighted gathers of neighbour features over geodesic patches.

Every patch layer (GCNN, ACNN, MoNet) computes, for each centre vertex ``v`` and each of ``S``
weighting functions ``w_s`` of the geodesic polar coordinates ``(rho, theta)``,

    (D(x) f)_s(v) = sum_{q in patch(v)} m_q w_s(rho_vq, theta_vq) f(q),

a quadrature of the integral ``int w_s f dA`` over the patch (``m_q`` the lumped vertex area).
The layers differ only in the weighting functions; this module holds the shared gather.

Layout
------
The batch stores patches flat: ``patch_center``, ``patch_neighbor``, ``patch_rho``,
``patch_theta`` of shape (P,), grouped by centre. :class:`PatchGather` turns them once per forward
into a dense ``(V, K)`` view (``K`` the largest patch; a reshape when every patch has ``K``
entries, a vectorized scatter otherwise, padding slots carrying zero quadrature weight). The
aggregation is then a batched ``(S, K) @ (K, C)`` product per vertex: memory ``O(V K C)`` for the
gathered features, never ``O(P S C)``. :func:`aggregate_flat` is the obvious ``index_add`` version
over the flat (P,) arrays, kept as the reference the fast path is tested against.

Radial scale
------------
Patches hold a fixed number of nearest vertices, so their geodesic radius follows the mesh
resolution. By default ``rho`` is divided by each patch's own radius (its largest ``rho``), so
that the weighting functions live on ``[0, 1]`` whatever the resolution; a fixed ``radius``
(in the units of the surface) can be given instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable

import torch

from ...batch import MeshBatch
from ...errors import ArgumentError, GeodesicNetsError

__all__ = ["PatchAggregate", "PatchGather", "aggregate_flat", "patches_for"]


@dataclass(frozen=True, eq=False)
class PatchGather:
    """Dense ``(V, K)`` view of a batch's geodesic patches and the weighted gather over it.

    Attributes
    ----------
    index : Tensor, shape (V, K), int64
        Neighbour of each patch slot; padding slots hold the centre itself (safe to gather).
    rho : Tensor, shape (V, K), float
        Radial coordinate, divided by the patch radius (default) or by the fixed ``radius``;
        0 in padding slots.
    theta : Tensor, shape (V, K), float
        Polar angle in the centre's tangent frame, ``(-pi, pi]``; 0 in padding slots.
    quadrature : Tensor, shape (V, K), float
        Lumped mass ``m_q`` of the neighbour; 0 in padding slots.
    at_center : Tensor, shape (V, K), bool
        True where ``rho == 0`` (the centre itself): there ``theta`` is meaningless and the layers
        use angle-free weights.
    kernels : Tensor, shape (V, K, S), float, or None
        The batch's precomputed anisotropic patch kernels (``MeshBatch.patch_kernels``) in the
        same slots, 0 in padding slots; None when the batch has none.

    Notes
    -----
    :meth:`cached` memoizes parameter-free weights (GCNN bins, ACNN kernels) on this object, so
    that the layers of a network sharing one ``PatchGather`` compute them once per forward.
    """

    index: torch.Tensor
    rho: torch.Tensor
    theta: torch.Tensor
    quadrature: torch.Tensor
    at_center: torch.Tensor
    kernels: torch.Tensor | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_batch(cls, batch: MeshBatch, *, radius: float | None = None) -> "PatchGather":
        """Build the dense view of ``batch``'s patches.

        Parameters
        ----------
        batch : MeshBatch
            Must carry patches (``compute_operators(..., patch_size=k)``).
        radius : float, optional
            Fixed geodesic radius dividing ``rho``; default each patch's largest ``rho``.

        Raises
        ------
        GeodesicNetsError
            If the batch has no patches.
        ValueError
            If ``radius`` is not positive.
        """
        if batch.patch_center is None:
            raise GeodesicNetsError(
                "patch layers need geodesic patches: build the operators with compute_operators(..., patch_size=k)"
            )
        if radius is not None and not radius > 0:
            raise ArgumentError(f"radius must be positive, got {radius!r}")
        center, neighbor = batch.patch_center, batch.patch_neighbor
        rho_flat, theta_flat = batch.patch_rho, batch.patch_theta
        nv = batch.total_verts
        dev = center.device
        kern_flat = batch.patch_kernels  # (P, S) or None
        kernels = None
        counts = torch.bincount(center, minlength=nv)  # (V,)
        k = int(counts.max()) if nv > 0 else 0
        if int(counts.min()) == k and bool((center[1:] >= center[:-1]).all()):
            # Every patch has K entries, grouped by centre: a reshape.
            index = neighbor.view(nv, k)
            rho = rho_flat.view(nv, k)
            theta = theta_flat.view(nv, k)
            valid = torch.ones(nv, k, dtype=torch.bool, device=dev)
            if kern_flat is not None:
                kernels = kern_flat.view(nv, k, kern_flat.shape[1])
        else:
            order = torch.argsort(center, stable=True)
            c, q = center[order], neighbor[order]
            first = torch.cumsum(counts, 0) - counts  # (V,)
            rank = torch.arange(len(c), device=dev) - first[c]  # (P,)
            index = torch.arange(nv, device=dev)[:, None].repeat(1, k)
            index[c, rank] = q
            rho = rho_flat.new_zeros(nv, k)
            theta = theta_flat.new_zeros(nv, k)
            valid = torch.zeros(nv, k, dtype=torch.bool, device=dev)
            rho[c, rank] = rho_flat[order]
            theta[c, rank] = theta_flat[order]
            valid[c, rank] = True
            if kern_flat is not None:
                kernels = kern_flat.new_zeros(nv, k, kern_flat.shape[1])
                kernels[c, rank] = kern_flat[order]
        if radius is None:
            scale = rho.amax(dim=1, keepdim=True)  # (V, 1)
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        else:
            scale = rho.new_tensor(float(radius))
        quadrature = torch.where(valid, batch.mass[index], torch.zeros((), dtype=rho.dtype, device=dev))
        return cls(
            index=index,
            rho=rho / scale,
            theta=theta,
            quadrature=quadrature,
            at_center=valid & (rho == 0),
            kernels=kernels,
        )

    def cached(self, key: Hashable, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``compute()`` once per ``key`` for this patch view (for weights without gradient).

        The result is stored in the layout :meth:`aggregate` reads fastest: a (V, K, S) view of
        a contiguous (V, S, K) tensor.
        """
        if key not in self._cache:
            with torch.no_grad():
                w = compute()
            self._cache[key] = w.transpose(1, 2).contiguous().transpose(1, 2)
        return self._cache[key]

    @property
    def num_verts(self) -> int:
        """Number of centres V."""
        return int(self.index.shape[0])

    @property
    def patch_width(self) -> int:
        """Slots per patch K."""
        return int(self.index.shape[1])

    def normalize(self, kernel: torch.Tensor) -> torch.Tensor:
        """Quadrature weights normalized to sum to one per centre and weighting function.

        Parameters
        ----------
        kernel : Tensor, shape (V, K, S)
            Values ``w_s(rho, theta)`` of S weighting functions at every slot.

        Returns
        -------
        Tensor, shape (V, K, S)
            ``m_q w_s / sum_q m_q w_s`` (0 where a function vanishes on the whole patch).
        """
        w = kernel * self.quadrature[..., None]  # (V, K, S)
        tiny = torch.finfo(w.dtype).tiny
        return w / w.sum(dim=1, keepdim=True).clamp_min(tiny)

    def aggregate(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Weighted gather ``out[v, s] = sum_k weights[v, k, s] x[index[v, k]]``.

        Parameters
        ----------
        x : Tensor, shape (V, C)
        weights : Tensor, shape (V, K, S)
            Already include the quadrature (see :meth:`normalize`); padding slots must be 0.

        Returns
        -------
        Tensor, shape (V, S, C)
        """
        if x.shape[0] != self.num_verts:
            raise ArgumentError(f"x has {x.shape[0]} rows, the batch has {self.num_verts} vertices")
        if weights.shape[:2] != self.index.shape:
            raise ArgumentError(f"weights must have shape (V, K, S) = {tuple(self.index.shape)} + (S,), got {tuple(weights.shape)}")
        return PatchAggregate.apply(x, weights, self.index)


def patches_for(
    x: torch.Tensor, batch: MeshBatch, patches: "PatchGather | None", *, in_channels: int, radius: float | None
) -> "PatchGather":
    """Check a patch layer's input ``x`` (V, in_channels) and return the gather to use.

    ``patches`` when given (shared by the layers of a network), else
    ``PatchGather.from_batch(batch, radius=radius)``.
    """
    if x.ndim != 2 or x.shape[1] != in_channels:
        raise ArgumentError(f"x must have shape (V, {in_channels}), got {tuple(x.shape)}")
    return PatchGather.from_batch(batch, radius=radius) if patches is None else patches


class PatchAggregate(torch.autograd.Function):
    """``out[v] = weights[v]^T x[index[v]]`` as contiguous batched products, forward and backward.

    Autograd through ``torch.bmm`` of transposed views falls back to one small product per vertex
    on the CPU; here every ``bmm`` gets contiguous operands, and the gathered features ``x[index]``
    (V, K, C) are recomputed in the backward instead of being saved (memory ``O(V C + V K S)``
    kept per layer). First derivatives only.

    Parameters (of ``apply``)
    -------------------------
    x : Tensor, shape (V, C)
    weights : Tensor, shape (V, K, S)
    index : Tensor, shape (V, K), int64

    Returns
    -------
    Tensor, shape (V, S, C)
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weights: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        nv, k = index.shape
        flat = index.reshape(-1)
        gathered = x.index_select(0, flat).view(nv, k, x.shape[1])  # (V, K, C)
        ctx.save_for_backward(x, weights, flat)
        return torch.bmm(weights.transpose(1, 2).contiguous(), gathered)  # (V, S, C)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weights, flat = ctx.saved_tensors
        nv, k, _ = weights.shape
        grad = grad.contiguous()  # (V, S, C)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            g_gathered = torch.bmm(weights.contiguous(), grad)  # (V, K, C)
            grad_x = torch.zeros_like(x).index_add_(0, flat, g_gathered.view(nv * k, -1))
        if ctx.needs_input_grad[1]:
            gathered = x.index_select(0, flat).view(nv, k, x.shape[1])  # (V, K, C)
            grad_w = torch.bmm(gathered, grad.transpose(1, 2).contiguous())  # (V, K, S)
        return grad_x, grad_w, None


def aggregate_flat(
    x: torch.Tensor, center: torch.Tensor, neighbor: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Reference patch gather over flat patch arrays (``index_add``; memory ``O(P S C)``).

    Parameters
    ----------
    x : Tensor, shape (V, C)
    center, neighbor : Tensor, shape (P,), int64
    weights : Tensor, shape (P, S)

    Returns
    -------
    Tensor, shape (V, S, C)
        ``out[v, s] = sum_{p: center[p] = v} weights[p, s] x[neighbor[p]]``.
    """
    contrib = weights[:, :, None] * x[neighbor][:, None, :]  # (P, S, C)
    out = x.new_zeros(x.shape[0], weights.shape[1], x.shape[1])
    return out.index_add(0, center, contrib)
