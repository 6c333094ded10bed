"""Anisotropic CNN convolution (Boscaini et al. 2016, "Learning shape correspondence with
anisotropic convolutional neural networks").

Construction
------------
The paper's patch operator weighs the neighbourhood of ``v`` by anisotropic heat kernels
``h_{alpha, theta_k, t}(v, .)``: heat kernels of the anisotropic Laplacian whose conductivity is
``alpha`` along the direction ``theta_k`` (measured from the principal curvature direction) and 1
across it, computed spectrally from that operator's eigenpairs, and normalized to unit integral:

    (D(v) f)_{alpha, t, k} = sum_q m_q h_{alpha, theta_k, t}(v, q) f(q) / sum_q m_q h_{alpha, theta_k, t}(v, q),

giving ``D(v) f`` of shape ``(C_in, n_alpha, n_t, n_theta)``, to which a learned filter
``W (C_out, C_in, n_alpha, n_t, n_theta)`` is applied. Two sources of kernels are offered.

``spectral=AnisotropicSettings(...)`` (the paper's construction): the kernels are precomputed per
mesh by :func:`geodesic_nets.compute_operators` with the same settings
(``OperatorSettings(anisotropic=...)``; :mod:`geodesic_nets.geometry.anisotropic`): for each
orientation the anisotropic Laplacian oriented by the principal curvature directions, its
eigenpairs, and its heat kernel at every geodesic patch entry (the sums above run over the
patch). The kernels do not depend on the tangent frames at all, so the layer is exactly invariant
to gauge rotations; the orientation comes from the surface's curvature (rigid-invariant,
undefined on umbilic regions such as planes and spheres, where a deterministic fallback is used).

Closed form (default, no precomputation): the short-time asymptotic of a heat kernel with
constant conductivity ``D = R_k diag(alpha, 1) R_k^T`` in the tangent plane (the flat-space
anisotropic Gaussian), with the geodesic log map ``rho e^{i theta}`` standing for the displacement:

    h_{alpha, k, t}(rho, theta) = exp(-rho^2 / (4 t) * (cos^2(theta - theta_k) / alpha
                                                         + sin^2(theta - theta_k))),
    theta_k = pi k / n_theta,  k = 0 .. n_theta - 1,

with ``rho`` divided by the patch radius (so ``t`` is in squared patch radii). ``alpha > 1``
elongates the kernel along ``theta_k``. Here ``theta_k`` is measured in the tangent frame.

Orientation (``orientation=``)
------------------------------
``"principal"`` (spectral only, its default): ``theta_k`` is measured from the principal
curvature direction, as in the paper; the filter is applied as is.
``"gauge"`` (closed form only): ``theta_k`` is measured from the vertex's frame x axis; the
output depends on the gauge.
``"max_pool"`` (default of the closed form): the filter is applied for its ``n_theta`` cyclic
shifts along the orientation axis and the maximum is kept. The kernels are ``pi``-periodic in
``theta``, so a gauge rotation by a multiple of ``pi / n_theta`` permutes them cyclically: the
closed-form output is exactly invariant to those rotations, approximately to others (relative L2
change of one random layer under random per-vertex gauges on a bumpy sphere: about 2e-5 on smooth
HKS inputs, 0.03 on white noise, ``n_theta=8``). With spectral kernels it makes the output independent
of which of the ``n_theta`` orientations is called ``theta_0`` (e.g. the minimum instead of the
maximum curvature direction, a shift by ``pi / 2``, when ``n_theta`` is even).
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn

from ...batch import MeshBatch
from ...errors import ArgumentError, GeodesicNetsError
from ...settings import AnisotropicSettings
from .patch_operator import PatchGather, patches_for

__all__ = ["ACNNConv"]

Orientation = Literal["gauge", "max_pool", "principal"]

_DEFAULT_N_THETA = 8
_DEFAULT_SCALES = (0.02, 0.08)
_DEFAULT_ANISOTROPY = (6.0,)


class ACNNConv(nn.Module):
    """Anisotropic heat-kernel patch convolution.

    Parameters
    ----------
    in_channels, out_channels : int
    spectral : AnisotropicSettings or dict, optional, keyword-only
        Use the batch's precomputed spectral kernels, built with these settings
        (``OperatorSettings(anisotropic=...)``); ``n_theta``, ``scales``, ``anisotropy`` and
        ``radius`` then come from them and must not be given.
    n_theta : int, keyword-only
        Closed form: number of kernel orientations in ``[0, pi)`` (default 8).
    scales : sequence of float, keyword-only
        Closed form: diffusion times ``t`` in squared patch radii (default ``(0.02, 0.08)``).
    anisotropy : sequence of float, keyword-only
        Closed form: conductivity ratios ``alpha >= 1`` (default ``(6.0,)``).
    orientation : {"principal", "gauge", "max_pool"}, optional, keyword-only
        See the module docstring; default ``"principal"`` with spectral kernels, ``"max_pool"``
        with the closed form.
    radius : float, optional, keyword-only
        Closed form: fixed geodesic radius dividing ``rho``; default each patch's own radius.
    bias : bool, keyword-only

    Shapes
    ------
    ``forward(x (V, C_in), batch) -> (V, C_out)``; ``weight`` is
    ``(C_out, C_in, n_alpha, n_t, n_theta)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        spectral: AnisotropicSettings | dict | None = None,
        n_theta: int | None = None,
        scales: Sequence[float] | None = None,
        anisotropy: Sequence[float] | None = None,
        orientation: Orientation | None = None,
        radius: float | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(spectral, dict):
            spectral = AnisotropicSettings(**spectral)
        if spectral is not None and not isinstance(spectral, AnisotropicSettings):
            raise ArgumentError(f"spectral must be AnisotropicSettings, a dict or None, got {spectral!r}")
        if spectral is not None:
            given = [name for name, val in (("n_theta", n_theta), ("scales", scales), ("anisotropy", anisotropy),
                                            ("radius", radius)) if val is not None]
            if given:
                raise ArgumentError(f"{', '.join(given)}: set by the spectral settings, not the layer")
            n_theta, scales, anisotropy = spectral.n_orientations, spectral.times, spectral.anisotropy
            orientation = "principal" if orientation is None else orientation
            allowed: tuple[str, ...] = ("principal", "max_pool")
        else:
            n_theta = _DEFAULT_N_THETA if n_theta is None else n_theta
            scales = _DEFAULT_SCALES if scales is None else scales
            anisotropy = _DEFAULT_ANISOTROPY if anisotropy is None else anisotropy
            orientation = "max_pool" if orientation is None else orientation
            allowed = ("gauge", "max_pool")
        if orientation not in allowed:
            kind = "spectral" if spectral is not None else "closed-form"
            raise ArgumentError(f"orientation of {kind} kernels must be one of {allowed}, got {orientation!r}")
        for name, val in (("in_channels", in_channels), ("out_channels", out_channels), ("n_theta", n_theta)):
            if not isinstance(val, int) or val < 1:
                raise ArgumentError(f"{name} must be a positive int, got {val!r}")
        scales, anisotropy = tuple(float(s) for s in scales), tuple(float(a) for a in anisotropy)
        if not scales or min(scales) <= 0:
            raise ArgumentError(f"scales must be a non-empty sequence of positive times, got {scales!r}")
        if not anisotropy or min(anisotropy) < 1:
            raise ArgumentError(f"anisotropy must be a non-empty sequence of ratios >= 1, got {anisotropy!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.spectral = spectral
        self.n_theta, self.scales, self.anisotropy = n_theta, scales, anisotropy
        self.orientation, self.radius = orientation, radius
        n_a, n_t = len(anisotropy), len(scales)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, n_a, n_t, n_theta))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(in_channels * n_a * n_t * n_theta))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        k = torch.arange(n_theta)
        self.register_buffer("_shift", (k[None, :] - k[:, None]) % n_theta, persistent=False)  # (S, T)

    def extra_repr(self) -> str:
        kernels = "closed_form" if self.spectral is None else f"spectral={self.spectral}"
        return (
            f"{self.in_channels}, {self.out_channels}, {kernels}, n_theta={self.n_theta}, scales={self.scales}, "
            f"anisotropy={self.anisotropy}, orientation={self.orientation!r}, radius={self.radius}"
        )

    def kernels(self, patches: PatchGather) -> torch.Tensor:
        """Normalized anisotropic kernels at every patch slot.

        Returns
        -------
        Tensor, shape (V, K, n_alpha * n_t * n_theta)
            Ordered (alpha, t, theta_k); each kernel sums to 1 over a patch (with the lumped
            areas as quadrature).

        Raises
        ------
        GeodesicNetsError
            Spectral layer on a batch without (matching) precomputed kernels.
        """
        if self.spectral is not None:
            want = self.spectral.num_kernels
            if patches.kernels is None:
                raise GeodesicNetsError(
                    "spectral ACNN needs precomputed anisotropic patch kernels: build the operators with "
                    f"OperatorSettings(patch_size=k, anisotropic={self.spectral})"
                )
            if patches.kernels.shape[2] != want:
                raise GeodesicNetsError(
                    f"the batch has {patches.kernels.shape[2]} anisotropic kernels per patch entry, this layer "
                    f"expects {want} (n_alpha * n_t * n_theta of {self.spectral})"
                )
            return patches.normalize(patches.kernels)
        r2 = patches.rho[..., None] ** 2  # (V, K, 1)
        dt, dev = r2.dtype, r2.device
        orient = torch.arange(self.n_theta, dtype=dt, device=dev) * (math.pi / self.n_theta)
        d = patches.theta[..., None] - orient  # (V, K, T)
        cos2, sin2 = torch.cos(d) ** 2, torch.sin(d) ** 2
        alpha = torch.tensor(self.anisotropy, dtype=dt, device=dev)
        t = torch.tensor(self.scales, dtype=dt, device=dev)
        quad = cos2[..., None, :] / alpha[:, None] + sin2[..., None, :]  # (V, K, A, T)
        # The centre (rho = 0) gets exp(0) = 1 whatever its (meaningless) angle.
        h = torch.exp(-(r2[..., None, None] / (4 * t[:, None])) * quad[..., :, None, :])  # (V, K, A, t, T)
        return patches.normalize(h.flatten(2))

    def forward(self, x: torch.Tensor, batch: MeshBatch, patches: PatchGather | None = None) -> torch.Tensor:
        """Apply the layer.

        Parameters
        ----------
        x : Tensor, shape (V, C_in)
        batch : MeshBatch
            With geodesic patches (and, for spectral kernels, their anisotropic kernels).
        patches : PatchGather, optional
            Precomputed ``PatchGather.from_batch(batch, radius=self.radius)``.

        Returns
        -------
        Tensor, shape (V, C_out)
        """
        patches = patches_for(x, batch, patches, in_channels=self.in_channels, radius=self.radius)
        nv, nt = x.shape[0], self.n_theta
        key = ("acnn", self.spectral, self.n_theta, self.scales, self.anisotropy)
        d = patches.aggregate(x, patches.cached(key, lambda: self.kernels(patches)))  # (V, A*t*T, C_in)
        d = d.reshape(nv, -1)  # (V, A*t*T*C_in), free
        w = self.weight.permute(0, 2, 3, 4, 1)  # (C_out, A, t, T, C_in): the order of d
        if self.orientation == "max_pool":
            w = w[:, :, :, self._shift]  # (C_out, A, t, S, T, C_in)
            w = w.permute(3, 0, 1, 2, 4, 5).reshape(nt * self.out_channels, -1)  # (S*C_out, A*t*T*C_in)
            out = (d @ w.T).view(nv, nt, self.out_channels).amax(dim=1)
        else:
            out = d @ w.reshape(self.out_channels, -1).T
        if self.bias is not None:
            out = out + self.bias
        return out
