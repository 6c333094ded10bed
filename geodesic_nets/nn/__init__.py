"""Torch layers on surfaces: diffusion, gradient features, pooling and the models built from them."""

__all__: list[str] = []
