"""Functional maps: the solve from features, point maps, ZoomOut, the losses and the task.

Convention
----------
A functional map ``C_ab`` of shape (K_b, K_a) carries functions on shape ``a`` to functions on
shape ``b`` in truncated eigenbases ``Phi_a`` (V_a, K_a), ``Phi_b`` (V_b, K_b), both orthonormal
for their lumped masses (``Phi^T M Phi = I``)::

    f_b ~ Phi_b C_ab Phi_a^T M_a f_a

It is the spectral form of a point-to-point map ``T: b -> a`` stored as ``p2p`` (V_b,) int64
(``p2p[v]`` is the vertex of ``a`` matched to vertex ``v`` of ``b``): the map pulls functions
back, ``f_b = f_a o T`` (``f_b = Pi f_a`` with ``Pi[v, p2p[v]] = 1``), so
``C_ab = Phi_b^+ Pi Phi_a`` (:func:`fmap_from_pointmap`). Row ``i`` of ``C_ab`` belongs to the
``i``-th eigenfunction of ``b``, column ``j`` to the ``j``-th of ``a``; a map between isometric
shapes is (nearly) orthogonal and commutes with the Laplacians, ``C_ab Lambda_a = Lambda_b C_ab``.

* :func:`fmap_from_features` is the differentiable regularized least-squares layer of deep
  functional maps (GeomFmaps, Donati et al. 2020) with the Laplacian-commutativity or resolvent
  mask (Ren et al. 2019) as penalty.
* :func:`pointmap_from_fmap` / :func:`fmap_from_pointmap` convert between the two forms;
  :func:`zoomout` is the spectral upsampling of Melzi et al. 2019.
* :func:`nearest_neighbor_map` matches vertices in a feature space.

Nearest-neighbour searches are blocked: no distance matrix larger than
``block_size x block_size`` is ever formed.

=================  ===================================================================
module             contents
=================  ===================================================================
``solve``          least squares, spectral coefficients, commutativity mask, the solve
``pointmaps``      nearest neighbours, point map <-> functional map
``refinement``     ZoomOut
``losses``         supervised, bijectivity, orthogonality, Laplacian, coupling losses
``task``           :class:`FunctionalMapTask` (training and evaluation), :func:`true_fmap`
``validation``     input checks shared by the modules above
=================  ===================================================================
"""

from . import losses, pointmaps, refinement, solve, task
from .losses import *  # noqa: F403 (each submodule's explicit __all__)
from .pointmaps import *  # noqa: F403
from .refinement import *  # noqa: F403
from .solve import *  # noqa: F403
from .task import *  # noqa: F403
from .losses import check_temperature

__all__ = [
    *solve.__all__, *pointmaps.__all__, *refinement.__all__, *losses.__all__, "check_temperature", *task.__all__,
]
