"""glTF 2.0 (``.glb``, ``.gltf``) through trimesh: all meshes of the scene, transforms applied."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import MeshFormatError, UnsupportedFormatError
from ._files import PathLike, check_path

__all__ = ["read_gltf"]

logger = logging.getLogger(__name__)


def read_gltf(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices and triangles of every mesh in a glTF scene, concatenated in scene-graph order.

    Each geometry instance is placed by its node's world transform; vertices are taken as the
    file stores them (trimesh ``process=False``: no merging, no reordering).

    Returns
    -------
    verts : ndarray, shape (V, 3), float64
    faces : ndarray, shape (F, 3), int64, or None
        ``None`` when the scene holds only point clouds.

    Raises
    ------
    MeshFormatError
        When trimesh cannot parse the file (its exception is chained) or the scene is empty.
    UnsupportedFormatError
        When the scene mixes meshes and point clouds.
    """
    import trimesh

    p = str(check_path(path))
    try:
        scene = trimesh.load(p, force="scene", process=False)
        instances = []
        for node in scene.graph.nodes_geometry:
            transform, geom_name = scene.graph[node]
            instances.append((np.asarray(transform, dtype=np.float64), scene.geometry[geom_name]))
    except MeshFormatError:
        raise
    except Exception as exc:  # trimesh raises many kinds on corrupt input
        raise MeshFormatError(f"cannot read the glTF scene: {type(exc).__name__}: {exc}", path=p) from exc
    if not instances:
        raise MeshFormatError("the glTF scene holds no geometry", path=p)
    kinds = {type(g).__name__ for _, g in instances}
    if kinds - {"Trimesh", "PointCloud"}:
        raise UnsupportedFormatError(f"glTF geometry of kind {sorted(kinds)}", path=p)
    if len(kinds) > 1:
        raise UnsupportedFormatError("the glTF scene mixes meshes and point clouds", path=p)
    verts, faces, offset = [], [], 0
    for transform, geom in instances:
        v = np.asarray(geom.vertices, dtype=np.float64)
        v = v @ transform[:3, :3].T + transform[:3, 3]
        verts.append(v)
        if kinds == {"Trimesh"}:
            faces.append(np.asarray(geom.faces, dtype=np.int64).reshape(-1, 3) + offset)
        offset += len(v)
    logger.info("%s: %d geometry instances concatenated", p, len(instances))
    return np.concatenate(verts), (np.concatenate(faces) if faces else None)
