"""Geometry processing on numpy arrays (float64): no torch here.

One concept per submodule; the public names are re-exported here.

========================  ==============================================================
module                    contents
========================  ==============================================================
``elements``              edges, lengths, areas, angles, normals
``neighbors``             k-nearest-neighbour graphs of point clouds
``sampling``              farthest-point sampling of vertices
``validate``              checks on point clouds before the compiled extensions
``laplacian``             cotan / robust Laplacians and mass matrices
``spectral``              eigenpairs of ``L phi = lambda M phi``
``factorization``         the eigensolver's sparse factorizations (CHOLMOD via cholespy, own, SuperLU)
``sparse_cholesky``       the package's multifrontal sparse Cholesky
``frames``                vertex tangent frames (gauges)
``connection``            discrete Levi-Civita connection (its sign conventions)
``tangent_space``         intrinsic edge angles of a mesh (vertex tangent spaces)
``transport``             the Connection type; transport along edges and paths, holonomy
``connection_laplacian``  the connection (Bochner) Laplacian
``gradient``              face and tangent-plane gradient operators
``components``            connected components of a mesh
``heat_geodesics``        heat-method geodesic distance (factor once, many sources)
``exact_geodesics``       exact polyhedral (MMP) geodesic distance
``geodesic_blocks``       many-source distances with any solver, a block of rows at a time
``geodesics``             the four above gathered (their import path of earlier releases)
``logmap``                log maps (geodesic polar coordinates) in the package's frames
``patches``               geodesic polar patches of every vertex
``descriptors``           HKS and WKS
``curvature``             angle defect, Gaussian and mean curvature
``anisotropic``           principal directions, anisotropic Laplacians, their patch heat kernels
``rotations``             the package's one uniform random rotation (SO(3))
``decimation``            quadric-error decimation, with each new vertex's source vertex
========================  ==============================================================
"""

from . import (
    anisotropic,
    connection,
    curvature,
    decimation,
    descriptors,
    elements,
    frames,
    geodesics,
    gradient,
    laplacian,
    logmap,
    neighbors,
    patches,
    rotations,
    sampling,
    spectral,
    validate,
)
from .anisotropic import (
    anisotropic_heat_kernels,
    anisotropic_laplacian,
    face_principal_directions,
    weyl_time_unit,
)
from .components import mesh_components
from .connection import levi_civita_connection
from .connection_laplacian import connection_laplacian
from .curvature import angle_defect, gaussian_curvature, mean_curvature, principal_curvatures
from .decimation import Decimation, decimate, non_manifold_edges
from .descriptors import hks, hks_times, wks, wks_energies
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
from .exact_geodesics import ExactGeodesicSolver, exact_geodesic
from .frames import TangentFrames, reference_neighbors, vertex_frames
from .geodesic_blocks import (
    GeodesicSolver,
    geodesic_distance_blocks,
    geodesic_distance_matrix,
    pairwise_geodesic_distances,
)
from .heat_geodesics import HeatGeodesicSolver, heat_geodesic
from .gradient import face_gradient, hat_gradients, tangent_gradient
from .laplacian import (
    cotan_laplacian,
    cotan_laplacian_from_lengths,
    cotan_weights_from_lengths,
    laplacian_and_mass,
    mass_from_lengths,
    mass_matrix,
)
from .logmap import LogMapSolver, log_map
from .transport import Connection, holonomy, transport_along_path, transport_vectors, wrap_angle
from .neighbors import knn, knn_edges
from .sampling import farthest_points
from .validate import check_mesh_scale, check_point_cloud
from .patches import GeodesicPatches, geodesic_patches
from .rotations import random_rotation_matrix
from .spectral import EigenSolver, eigen_basis

_GATHERED = (
    anisotropic, elements, neighbors, laplacian, spectral, descriptors, curvature, frames, sampling, validate,
    connection, gradient, geodesics, logmap, patches, rotations, decimation,
)
# every submodule's public names, less their upper-case tuning constants (those stay in the submodule)
__all__ = [name for module in _GATHERED for name in module.__all__ if not name.isupper()]
