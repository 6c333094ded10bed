"""Models for the tasks: input features + a network body + pooling to the task's output.

Every body runs with per-vertex outputs and ends in a linear layer; :class:`SurfaceModel` pools
after it (a mean commutes with a linear map, so this equals pooling before it) and exposes the
input of that last layer as the model's learned per-vertex features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import nn

from ..batch import MeshBatch
from ..nn import DiffusionNet, FieldType, GaugeEquivariantNet, PatchNet
from ..nn.pooling import global_mean_pool, vertices_to_faces
from .features import FeatureKind, InputFeatures
from ..errors import ArgumentError

__all__ = ["ModelName", "Outputs", "ModelSpec", "SurfaceModel", "DescriptorModel", "build_model", "needs_patches"]

ModelName = Literal["diffusion", "gauge", "monet", "gcnn", "acnn"]
Outputs = Literal["vertices", "faces", "global"]

_PATCH_MODELS = ("monet", "gcnn", "acnn")


def needs_patches(name: str) -> bool:
    """Whether the model needs geodesic patches in the operators (``patch_size > 0``)."""
    return name in _PATCH_MODELS


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model (stored in run directories and checkpoints).

    Parameters
    ----------
    name : {"diffusion", "gauge", "monet", "gcnn", "acnn"}
    in_features : {"xyz", "hks", "wks", "hks+xyz"}
    n_features : int
        HKS times / WKS energies.
    out_channels : int
    outputs : {"vertices", "faces", "global"}
    width : int
        Channels (diffusion, patch models) or multiplicity per irrep order (gauge).
    depth : int
        Blocks (diffusion) or layers (gauge, patch).
    kwargs : dict
        Extra keyword options of the network class (e.g. ``{"dropout": 0.1}`` for diffusion,
        ``{"max_order": 2, "nonlinearity": "norm"}`` for gauge, ``{"layer_kwargs": {...}}``).
    """

    name: ModelName = "diffusion"
    in_features: FeatureKind = "hks"
    n_features: int = 16
    out_channels: int = 1
    outputs: Outputs = "vertices"
    width: int = 128
    depth: int = 4
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in get_args(ModelName):
            raise ArgumentError(f"model must be one of {get_args(ModelName)}, got {self.name!r}")
        if self.outputs not in get_args(Outputs):
            raise ArgumentError(f"outputs must be one of {get_args(Outputs)}, got {self.outputs!r}")
        for what in ("n_features", "out_channels", "width", "depth"):
            v = getattr(self, what)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ArgumentError(f"{what} must be a positive int, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        return cls(**d)


def _body(spec: ModelSpec, in_channels: int) -> tuple[nn.Module, nn.Linear]:
    """The network with per-vertex outputs, and its final linear layer."""
    kw = dict(spec.kwargs)
    if spec.name == "diffusion":
        net = DiffusionNet(in_channels, spec.out_channels, width=spec.width, n_blocks=spec.depth,
                           outputs="vertices", **kw)
        return net, net.last
    if spec.name == "gauge":
        max_order = int(kw.pop("max_order", 2))
        net = GaugeEquivariantNet(FieldType.scalars(in_channels), FieldType.regular(max_order, spec.width),
                                  spec.out_channels, n_layers=spec.depth, outputs="vertices", **kw)
        return net, net.head
    net = PatchNet(spec.name, in_channels, spec.out_channels, width=spec.width, n_layers=spec.depth,
                   outputs="vertices", **kw)
    return net, net.lin_out


class SurfaceModel(nn.Module):
    """``InputFeatures -> body (per vertex) -> pooling``: the models that tasks train.

    Parameters
    ----------
    spec : ModelSpec
    augment : callable, optional
        Coordinate augmentation for ``xyz`` inputs in training mode (see :class:`InputFeatures`).
    """

    def __init__(self, spec: ModelSpec, *, augment=None) -> None:
        super().__init__()
        self.spec = spec
        self.inputs = InputFeatures(spec.in_features, n=spec.n_features, augment=augment)
        self.body, self._head = _body(spec, self.inputs.channels)

    @property
    def linear_head(self) -> nn.Linear | None:
        """The final linear layer when ``forward(batch, head=False)`` can return its input, else None.

        Available for per-vertex outputs of bodies with a ``features`` method (the gauge network);
        a task can then fuse the head with its loss (see :func:`~geodesic_nets.nn.linear_cross_entropy`).
        """
        if self.spec.outputs == "vertices" and callable(getattr(self.body, "features", None)):
            return self._head
        return None

    def forward(self, batch: MeshBatch, *, head: bool = True) -> torch.Tensor:
        """Outputs of shape (V, C_out), (F, C_out) or (B, C_out) following ``spec.outputs``.

        With ``head=False`` (only where :attr:`linear_head` is not None): the input of the final
        linear layer, shape (V, C_hidden), so that ``linear_head(forward(b, head=False)) ==
        forward(b)``. Going through ``forward`` keeps a DistributedDataParallel wrapper in charge.
        """
        if not head:
            if self.linear_head is None:
                raise ArgumentError(f"{self.spec.name} with outputs={self.spec.outputs!r} has no separable linear head")
            return self.body.features(self.inputs(batch), batch)  # (V, C_hidden)
        out = self.body(self.inputs(batch), batch)  # (V, C_out)
        if self.spec.outputs == "faces":
            return vertices_to_faces(out, batch)
        if self.spec.outputs == "global":
            return global_mean_pool(out, batch)
        return out

    @torch.no_grad()
    def vertex_features(self, batch: MeshBatch) -> torch.Tensor:
        """Learned per-vertex features: the input of the last linear layer, shape (V, C_hidden)."""
        seen: list[torch.Tensor] = []
        handle = self._head.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        try:
            self.body(self.inputs(batch), batch)
        finally:
            handle.remove()
        return seen[-1]


class DescriptorModel(nn.Module):
    """The unlearned baseline: a 'model' whose per-vertex features are its input descriptors.

    ``forward(batch) -> (V, spec.n_features)`` (or 3 for ``xyz``); with the same ``spec`` as a
    trained functional-map model it shows what learning adds over the raw descriptors.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.inputs = InputFeatures(spec.in_features, n=spec.n_features)

    def forward(self, batch: MeshBatch) -> torch.Tensor:
        return self.inputs(batch)


def build_model(spec: ModelSpec, *, augment=None) -> SurfaceModel:
    """A :class:`SurfaceModel` for ``spec``."""
    return SurfaceModel(spec, augment=augment)
