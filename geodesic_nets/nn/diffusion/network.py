"""DiffusionNet (Sharp et al. 2022): learned diffusion + spatial gradient features + per-vertex MLP.

The operators every block needs (the per-mesh eigenbasis slices, the implicit system, the stacked
gradient in CSR form) are prepared once per forward and shared by all blocks.

On the CPU, a block with spectral diffusion and a basis no wider than the block (K <= C) runs as
one tiled autograd function (:mod:`~geodesic_nets.nn.diffusion.block`); otherwise (implicit
diffusion, K > C, a GPU) as the composition of its layers. Both compute the same function.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import torch
from torch import nn

from ...batch import MeshBatch
from ..mlp import MLP
from ..pooling import global_mean_pool, vertices_to_faces
from ..sparse import CsrOperator
from .block import BlockOperators, spectral_block
from .gradient_features import SpatialGradientFeatures, stacked_gradient
from .learned import DiffusionMethod, ImplicitSystem, LearnedDiffusion, SpectralBasis
from ...errors import ArgumentError

__all__ = ["DiffusionNetBlock", "DiffusionNet"]

Outputs = Literal["vertices", "faces", "global"]


def _has_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` runs forward hooks: then it is called, not folded into a block."""
    from torch.nn.modules import module as torch_module

    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or torch_module._global_forward_hooks
        or torch_module._global_forward_pre_hooks
    )


class DiffusionNetBlock(nn.Module):
    """One residual block: ``x + MLP([x, diffuse(x), gradient_features(diffuse(x))])``.

    Parameters
    ----------
    width : int
        Channels in and out.
    diffusion : {"spectral", "implicit"}
    mlp_hidden : sequence of int, optional
        Hidden widths of the block's MLP; default ``(width, width)``.
    dropout : float
        Dropout probability inside the MLP.
    gradient_features : bool
        Include the spatial gradient features (without them the block is isotropic).
    gradient_rotations : bool
        Complex (rotation + scale) rather than real gradient mixing.
    """

    def __init__(
        self,
        width: int,
        *,
        diffusion: DiffusionMethod = "spectral",
        mlp_hidden: Sequence[int] | None = None,
        dropout: float = 0.5,
        gradient_features: bool = True,
        gradient_rotations: bool = True,
    ) -> None:
        super().__init__()
        self.width = width
        self.diffusion = LearnedDiffusion(width, method=diffusion)
        self.gradient_features = (
            SpatialGradientFeatures(width, rotations=gradient_rotations) if gradient_features else None
        )
        n_in = 3 * width if gradient_features else 2 * width
        hidden = (width, width) if mlp_hidden is None else tuple(mlp_hidden)
        self.mlp = MLP(n_in, hidden, width, dropout=dropout)

    def forward(
        self,
        x: torch.Tensor,
        batch: MeshBatch,
        *,
        basis: SpectralBasis | None = None,
        system: ImplicitSystem | None = None,
        gradient: CsrOperator | None = None,
        operators: BlockOperators | None = None,
        input_linear: nn.Linear | None = None,
        output_linear: nn.Linear | None = None,
    ) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        x : Tensor, shape (V, width) (or (V, input_linear.in_features))
        batch : MeshBatch
        basis, system, gradient, operators : optional
            Operators prepared once per batch (see :meth:`DiffusionNet.forward`); ``operators``
            (with its basis) serves the tiled form, see :meth:`tiled`.
        input_linear, output_linear : nn.Linear, optional
            Layers around the block: it returns ``output_linear(block(input_linear(x)))``. The
            tiled form folds them in (DiffusionNet's first and last layers), so that its
            V-sized products read and write their narrower sides.

        Returns
        -------
        Tensor, shape (V, width) (or (V, output_linear.out_features))
        """
        width_in = input_linear.in_features if input_linear is not None else self.width
        if x.dim() != 2 or x.shape[1] != width_in:
            raise ArgumentError(f"expected x of shape (V, {width_in}), got {tuple(x.shape)}")
        if self.diffusion.method == "spectral":
            basis = operators.basis if operators is not None else basis
            basis = basis if basis is not None else SpectralBasis.from_batch(batch)
            if self.tiled(x, basis):
                if operators is None:
                    if self.gradient_features is not None and gradient is None:
                        gradient = stacked_gradient(batch)
                    operators = BlockOperators.build(
                        basis, gradient if self.gradient_features is not None else None,
                        rotations=self.gradient_features is None or self.gradient_features.rotations,
                    )
                return self._forward_tiled(x, operators, input_linear, output_linear)
        if input_linear is not None:
            x = input_linear(x)  # (V, C)
        diffused = self.diffusion(x, batch, basis=basis, system=system)  # (V, C)
        parts = [x, diffused]
        if self.gradient_features is not None:
            if gradient is None:
                gradient = stacked_gradient(batch)
            parts.append(self.gradient_features(diffused, batch, gradient=gradient))  # (V, C)
        out = x + self.mlp(parts)  # (V, C); the parts are never concatenated
        return output_linear(out) if output_linear is not None else out

    def tiled(self, x: torch.Tensor, basis: SpectralBasis | None) -> bool:
        """Whether :meth:`forward` runs as one tiled autograd function for this input and basis.

        It does with spectral diffusion, ``x`` on the CPU and every member's K_b <= width; both
        forms compute the same function (up to rounding).
        """
        return (
            self.diffusion.method == "spectral"
            and basis is not None
            and x.device.type == "cpu"
            and max(phi.shape[1] for phi in basis.evecs) <= self.width
        )

    def _forward_tiled(
        self,
        x: torch.Tensor,
        operators: BlockOperators,
        input_linear: nn.Linear | None,
        output_linear: nn.Linear | None,
    ) -> torch.Tensor:
        gf = self.gradient_features
        first, *rest = self.mlp.linears
        return spectral_block(
            x,
            operators,
            time=self.diffusion.clamped_time(x.dtype),
            first_weight=first.weight,
            first_bias=first.bias,
            weight_re=gf.weight_re if gf is not None else None,
            weight_im=gf.weight_im if gf is not None else None,
            linears=[(lin.weight, lin.bias) for lin in rest],
            dropout=self.mlp.dropout if self.mlp.training else 0.0,
            input_linear=(input_linear.weight, input_linear.bias) if input_linear is not None else None,
            output_linear=(output_linear.weight, output_linear.bias) if output_linear is not None else None,
        )


class DiffusionNet(nn.Module):
    """DiffusionNet on a :class:`~geodesic_nets.batch.MeshBatch` (meshes and point clouds mixed).

    Parameters
    ----------
    in_channels, out_channels : int
    width : int
        Channels inside the blocks.
    n_blocks : int
    outputs : {"vertices", "faces", "global"}
        Per-vertex output (V, C_out), per-face mean of its vertices (F, C_out), or the
        mass-weighted mean per mesh (B, C_out).
    diffusion : {"spectral", "implicit"}
    dropout : float
        Dropout probability inside every block's MLP (DiffusionNet's default 0.5; off in eval mode).
    last_activation : callable, optional
        Applied to the output, e.g. ``torch.nn.functional.log_softmax`` with ``dim=-1`` bound.
    mlp_hidden : sequence of int, optional
        Hidden widths of each block's MLP; default ``(width, width)``.
    gradient_features, gradient_rotations : bool
        See :class:`DiffusionNetBlock`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        width: int = 128,
        n_blocks: int = 4,
        outputs: Outputs = "vertices",
        diffusion: DiffusionMethod = "spectral",
        dropout: float = 0.5,
        last_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        mlp_hidden: Sequence[int] | None = None,
        gradient_features: bool = True,
        gradient_rotations: bool = True,
    ) -> None:
        super().__init__()
        if outputs not in ("vertices", "faces", "global"):
            raise ArgumentError(f"outputs must be 'vertices', 'faces' or 'global', got {outputs!r}")
        if diffusion not in ("spectral", "implicit"):
            raise ArgumentError(f"diffusion must be 'spectral' or 'implicit', got {diffusion!r}")
        if min(in_channels, out_channels, width, n_blocks) < 1:
            raise ArgumentError(
                f"in_channels, out_channels, width and n_blocks must be >= 1, got "
                f"{in_channels}, {out_channels}, {width}, {n_blocks}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.outputs = outputs
        self.diffusion = diffusion
        self.gradient_features = gradient_features
        self.gradient_rotations = gradient_rotations
        self.last_activation = last_activation
        self.first = nn.Linear(in_channels, width)
        self.blocks = nn.ModuleList(
            DiffusionNetBlock(
                width,
                diffusion=diffusion,
                mlp_hidden=mlp_hidden,
                dropout=dropout,
                gradient_features=gradient_features,
                gradient_rotations=gradient_rotations,
            )
            for _ in range(n_blocks)
        )
        self.last = nn.Linear(width, out_channels)

    def forward(self, x: torch.Tensor, batch: MeshBatch) -> torch.Tensor:
        """Run the network.

        Parameters
        ----------
        x : Tensor, shape (V, in_channels)
        batch : MeshBatch

        Returns
        -------
        Tensor, shape (V, out_channels), (F, out_channels) or (B, out_channels)
            Following ``outputs``.
        """
        if x.dim() != 2 or x.shape != (batch.total_verts, self.in_channels):
            raise ArgumentError(
                f"expected x of shape (V={batch.total_verts}, {self.in_channels}), got {tuple(x.shape)}"
            )
        basis = SpectralBasis.from_batch(batch) if self.diffusion == "spectral" else None
        if self.blocks[0].tiled(x, basis):
            operators = BlockOperators.from_batch(
                batch, basis, features=self.gradient_features, rotations=self.gradient_rotations
            )
            # The first and last layers fold into the end blocks, unless hooks watch them.
            first = None if _has_hooks(self.first) else self.first
            last = None if _has_hooks(self.last) else self.last
            out = x if first is not None else self.first(x)
            for i, block in enumerate(self.blocks):
                out = block(out, batch, operators=operators, input_linear=first if i == 0 else None,
                            output_linear=last if i == len(self.blocks) - 1 else None)
            if last is None:
                out = self.last(out)
        else:
            system = ImplicitSystem.from_batch(batch) if self.diffusion == "implicit" else None
            gradient = stacked_gradient(batch) if self.gradient_features else None
            h = self.first(x)  # (V, width)
            for block in self.blocks:
                h = block(h, batch, basis=basis, system=system, gradient=gradient)
            out = self.last(h)  # (V, out)
        if self.outputs == "faces":
            out = vertices_to_faces(out, batch)  # (F, out)
        elif self.outputs == "global":
            out = global_mean_pool(out, batch)  # (B, out)
        if self.last_activation is not None:
            out = self.last_activation(out)
        return out
