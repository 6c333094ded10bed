"""Triangle areas for the report, the repair and the normalization.

``io`` sits below ``geometry`` and does not import it; this is the one measure it needs, computed
exactly as :func:`geodesic_nets.geometry.elements.face_areas` does (half the norm of the cross
product of two edge vectors), which a test checks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["face_areas"]


def face_areas(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle areas, shape (F,) float64 (0 for degenerate faces).

    Parameters
    ----------
    verts : array, shape (V, 3)
    faces : array, shape (F, 3), int, indices in range
    """
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3)
    return 0.5 * np.linalg.norm(cross, axis=1)
