"""Random rotations of 3-space: the package's one sampler of SO(3)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import ArgumentError

__all__ = ["random_rotation_matrix"]


def random_rotation_matrix(seed: int | np.random.Generator | None = None) -> np.ndarray:
    """A rotation uniformly distributed on SO(3) (Haar measure), shape (3, 3), float64.

    A uniformly random unit quaternion (four independent normals, normalized), through scipy's
    ``Rotation.random``.

    Parameters
    ----------
    seed : int, numpy Generator or None
        An int seeds a fresh ``np.random.default_rng(seed)``; a Generator is drawn from (and
        advanced); ``None`` takes fresh entropy.
    """
    if isinstance(seed, (bool, np.bool_)) or not (
        seed is None or isinstance(seed, (int, np.integer, np.random.Generator))
    ):
        raise ArgumentError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return Rotation.random(random_state=rng).as_matrix()
