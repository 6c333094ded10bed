"""Geometry processing on numpy arrays (float64): no torch here.

Public names are re-exported below; each submodule holds one concept.
"""

from .elements import (
    boundary_vertex_mask,
    corner_angles,
    corner_angles_from_lengths,
    directed_edges,
    face_areas,
    face_areas_from_lengths,
    face_edge_lengths,
    face_normals,
    undirected_edges,
    vertex_adjacency,
    vertex_areas,
    vertex_normals,
)
from .neighbors import knn, knn_edges

__all__ = [
    "boundary_vertex_mask",
    "corner_angles",
    "corner_angles_from_lengths",
    "directed_edges",
    "face_areas",
    "face_areas_from_lengths",
    "face_edge_lengths",
    "face_normals",
    "undirected_edges",
    "vertex_adjacency",
    "vertex_areas",
    "vertex_normals",
    "knn",
    "knn_edges",
]
