"""glTF 2.0 (``.glb``, ``.gltf``) through trimesh: all meshes of the scene, transforms applied."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import MeshFormatError, UnsupportedFormatError
from ._files import PathLike, check_path, read_bytes

__all__ = ["read_gltf"]

logger = logging.getLogger(__name__)


_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942


def _json_problem(text: bytes) -> str | None:
    import json

    try:
        doc = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        return "its JSON is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"its JSON is malformed at character {exc.pos} ({exc.msg})"
    if not isinstance(doc, dict) or "asset" not in doc:
        return "its JSON is not a glTF document (no 'asset' object)"
    return None


def _container_problem(data: bytes, *, binary: bool) -> str | None:
    """What is wrong with a ``.glb`` container or a ``.gltf`` JSON document, or None.

    GLB: the 12-byte header (magic ``glTF``, version 2, total length equal to the file size), then
    chunks of (length, type, data) whose lengths fit the file, the first one JSON.
    """
    if not binary:
        return _json_problem(data)
    if len(data) < 12 or data[:4] != b"glTF":
        return "it does not start with the binary glTF magic 'glTF'"
    version, total = int.from_bytes(data[4:8], "little"), int.from_bytes(data[8:12], "little")
    if version != 2:
        return f"binary glTF version {version}; only version 2 is read"
    if total != len(data):
        return f"the header gives a length of {total} bytes but the file has {len(data)} (truncated or padded)"
    pos, chunk = 12, 0
    while pos < len(data):
        if pos + 8 > len(data):
            return f"chunk {chunk} ends inside its 8-byte header"
        length, kind = int.from_bytes(data[pos : pos + 4], "little"), int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + length > len(data):
            return f"chunk {chunk} claims {length} bytes but only {len(data) - pos - 8} remain"
        if chunk == 0:
            if kind != _GLB_JSON:
                return "its first chunk is not the JSON chunk"
            problem = _json_problem(data[pos + 8 : pos + 8 + length].rstrip(b" \x00"))
            if problem:
                return problem
        pos, chunk = pos + 8 + length, chunk + 1
    if chunk == 0:
        return "it holds no chunk (no JSON)"
    return None


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
    problem = _container_problem(read_bytes(path), binary=p.lower().endswith(".glb"))
    if problem:
        raise MeshFormatError(f"not a readable glTF file: {problem}", path=p)
    try:
        scene = trimesh.load(p, force="scene", process=False)
        instances = []
        for node in scene.graph.nodes_geometry:
            transform, geom_name = scene.graph[node]
            instances.append((np.asarray(transform, dtype=np.float64), scene.geometry[geom_name]))
    except MeshFormatError:
        raise
    except Exception as exc:  # trimesh raises many kinds on corrupt input
        raise MeshFormatError(
            f"the glTF container is sound but its scene cannot be built (trimesh: {type(exc).__name__}: {exc})", path=p
        ) from exc
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
