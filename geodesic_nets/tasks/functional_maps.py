"""Dense correspondence with deep functional maps (FAUST_r protocol).

The model turns each shape into per-vertex features (V, C). For a pair (a, b), the features
are projected on the first ``k`` eigenfunctions of each shape and the functional map ``C_ab``
(K x K, functions on a -> functions on b) is the regularized least-squares solution of
:func:`~geodesic_nets.tasks.fmaps.fmap_from_features`. Training is supervised (GeomFmaps):
``|| C_ab - C_ab^true ||_F^2`` with the true map from the shapes' reference correspondences
(``sample.corr``). At test time the map becomes a point map by nearest neighbours in the aligned
spectral embeddings (optionally refined by ZoomOut), and its error is the geodesic distance on
a between the predicted and the true point, for every reference point, normalized by
sqrt(area of a).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..data.sample import SampleBatch
from ..errors import GeodesicNetsError
from .base import Task
from .fmaps import fmap_from_features, least_squares, pointmap_from_fmap, zoomout
from .geodesic_error import correspondence_geodesic_errors, error_curve
from .inference import iterate_batches

__all__ = ["FunctionalMapTask", "true_fmap"]


def true_fmap(evecs_a: torch.Tensor, evecs_b: torch.Tensor, corr_a: torch.Tensor, corr_b: torch.Tensor) -> torch.Tensor:
    """The functional map a -> b of a point correspondence, shape (K, K).

    ``corr_a[i] <-> corr_b[i]``; solves ``evecs_b[corr_b] C = evecs_a[corr_a]`` in the least-squares
    sense (the pull-back of a's eigenfunctions through the map b -> a, expressed on b's basis),
    with :func:`~geodesic_nets.tasks.fmaps.least_squares` (bitwise reproducible on the CPU).
    """
    return least_squares(evecs_b[corr_b], evecs_a[corr_a])


class FunctionalMapTask(Task):
    """Supervised deep functional maps between pairs of shapes.

    Parameters
    ----------
    k : int
        Eigenfunctions per shape in the functional map.
    lambda_ : float
        Weight of the Laplacian-commutativity regularization.
    resolvent_gamma : float or None
        Resolvent mask exponent (None: squared eigenvalue differences).
    zoomout_to : int or None
        Refine test maps with ZoomOut up to this many eigenfunctions (None: no refinement).
    zoomout_step : int
        Eigenfunctions added per ZoomOut iteration.
    both_directions : bool
        Evaluate a -> b and b -> a for every test pair.
    normalize_features : bool
        Scale every vertex's feature vector to unit length before the functional-map solve (in
        training and evaluation). The solve's regularization ``lambda_`` is not invariant to the
        features' scale; without this a network can grow its outputs until the penalty no longer
        matters and the solve turns ill-conditioned (seen with the ACNN patch networks on
        FAUST_r, whose training diverged without it).
    """

    name = "functional_maps"
    primary_metric = "mean_geodesic_error"
    higher_is_better = False

    def __init__(self, *, k: int = 30, lambda_: float = 1e-3, resolvent_gamma: float | None = 0.5,
                 zoomout_to: int | None = None, zoomout_step: int = 1, both_directions: bool = True,
                 radii: Sequence[float] | None = None, normalize_features: bool = False) -> None:
        if k < 2:
            raise ValueError(f"k must be >= 2, got {k}")
        if zoomout_to is not None and zoomout_to < k:
            raise ValueError(f"zoomout_to must be >= k={k}, got {zoomout_to}")
        self.k, self.lambda_, self.resolvent_gamma = k, lambda_, resolvent_gamma
        if zoomout_step < 1:
            raise ValueError(f"zoomout_step must be >= 1, got {zoomout_step}")
        self.zoomout_to, self.zoomout_step, self.both_directions = zoomout_to, zoomout_step, both_directions
        self.radii = tuple(radii) if radii is not None else tuple(np.round(np.linspace(0, 0.25, 26), 3).tolist())
        self.normalize_features = bool(normalize_features)

    def _features(self, feats: torch.Tensor) -> torch.Tensor:
        """(V, C) features as the solve sees them: unit rows when ``normalize_features``."""
        return torch.nn.functional.normalize(feats, dim=1) if self.normalize_features else feats

    # ------------------------------------------------------------------ training
    def _fmap(self, fa, fb, ia: int, ib: int, sb: SampleBatch, evecs: Sequence[torch.Tensor], mass) -> torch.Tensor:
        k = self.k
        return fmap_from_features(fa, fb, evecs[ia][:, :k], evecs[ib][:, :k], mass[ia], mass[ib],
                                  sb.batch.evals[ia, :k], sb.batch.evals[ib, :k],
                                  lambda_=self.lambda_, resolvent_gamma=self.resolvent_gamma)

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Pairs (0, 1), (2, 3), ... of the batch; the batch size must be even."""
        B = sb.num_meshes
        if B < 2 or B % 2:
            raise GeodesicNetsError(f"functional-map training pairs consecutive shapes: the batch size must be even, got {B}")
        if sb.corr is None:
            raise GeodesicNetsError("functional-map training needs reference correspondences (sample.corr)")
        if int(sb.batch.eig_mask.sum(1).min()) < self.k:
            raise GeodesicNetsError(f"the shapes need at least k={self.k} eigenpairs")
        feats = sb.batch.split(self._features(model(sb.batch)))  # B x (V_b, C)
        evecs, mass = sb.batch.split(sb.batch.evecs), sb.batch.split(sb.batch.mass)
        losses = []
        for ia in range(0, B, 2):
            ib = ia + 1
            C = self._fmap(feats[ia], feats[ib], ia, ib, sb, evecs, mass)
            C_true = true_fmap(evecs[ia][:, :self.k], evecs[ib][:, :self.k], sb.corr[ia], sb.corr[ib])
            losses.append(((C - C_true) ** 2).sum())
        loss = torch.stack(losses).mean()
        return loss, {"fmap_loss": float(loss.detach())}

    # ------------------------------------------------------------------ evaluation
    def _pairs(self, dataset) -> list[tuple[int, int]]:
        pairs = dataset.test_pairs() if hasattr(dataset, "test_pairs") else [
            (i, j) for i in range(len(dataset)) for j in range(i + 1, len(dataset))]
        if self.both_directions:
            pairs = [p for (i, j) in pairs for p in ((i, j), (j, i))]
        return list(pairs)

    def maps(self, model: nn.Module, dataset, pairs, *, device, dtype, batch_size: int = 1) -> dict[tuple[int, int], torch.Tensor]:
        """Point maps ``p2p[(a, b)]`` (V_b,) int64: for every vertex of b, a vertex of a."""
        feats = []
        for sb, f in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
            feats.extend(sb.batch.split(self._features(f)))
        used = sorted({i for pair in pairs for i in pair})
        ops = {i: dataset[i].operators.to(device, dtype) for i in used}  # once per shape, not per pair
        out = {}
        with torch.no_grad():
            for ia, ib in pairs:
                sa, sbm = ops[ia], ops[ib]
                k = self.k
                C = fmap_from_features(feats[ia], feats[ib], sa.evecs[:, :k], sbm.evecs[:, :k], sa.mass, sbm.mass,
                                       sa.evals[:k], sbm.evals[:k], lambda_=self.lambda_,
                                       resolvent_gamma=self.resolvent_gamma)
                if self.zoomout_to is None:
                    p2p = pointmap_from_fmap(C, sa.evecs[:, :k], sbm.evecs[:, :k])
                else:
                    kz = min(self.zoomout_to, sa.evecs.shape[1], sbm.evecs.shape[1])
                    _, p2p = zoomout(C, sa.evecs[:, :kz], sbm.evecs[:, :kz], k_final=kz, step=self.zoomout_step,
                                     mass_b=sbm.mass)
                out[(ia, ib)] = p2p.cpu()
        return out

    def evaluate(self, model: nn.Module, dataset, *, device, dtype, batch_size: int = 1) -> dict[str, Any]:
        pairs = self._pairs(dataset)
        if not pairs:
            raise GeodesicNetsError("functional-map evaluation needs at least two shapes")
        maps = self.maps(model, dataset, pairs, device=device, dtype=dtype, batch_size=batch_size)
        # group the queries by the shape the error is measured on (a): one geodesic solve per shape
        by_target: dict[int, list[tuple[tuple[int, int], np.ndarray, np.ndarray]]] = defaultdict(list)
        for (ia, ib), p2p in maps.items():
            ca, cb = dataset[ia].corr, dataset[ib].corr
            if ca is None or cb is None:
                raise GeodesicNetsError(f"shapes {dataset[ia].name} and {dataset[ib].name} need reference correspondences")
            by_target[ia].append(((ia, ib), p2p[cb].numpy(), ca.numpy()))
        per_pair: dict[tuple[int, int], float] = {}
        all_errors = []
        for ia, items in by_target.items():
            ops = dataset[ia].operators
            pred = np.concatenate([p for _, p, _ in items])
            true = np.concatenate([t for _, _, t in items])
            e = correspondence_geodesic_errors(ops.verts.double().numpy(), ops.faces.numpy(), pred, true)
            off = 0
            for key, p, _ in items:
                per_pair[key] = float(e[off:off + len(p)].mean())
                off += len(p)
            all_errors.append(e)
        e = np.concatenate(all_errors)
        pair_means = np.array(list(per_pair.values()))
        names = [s.name for s in dataset]
        return {
            "mean_geodesic_error": float(e.mean()),
            "mean_geodesic_error_x100": float(100 * e.mean()),
            "pair_error_std_x100": float(100 * pair_means.std()),
            "n_pairs": len(per_pair),
            "error_curve": {"radii": list(self.radii), "fraction": error_curve(e, self.radii).fractions.tolist()},
            "worst_pairs": sorted(([names[a], names[b], 100 * v] for (a, b), v in per_pair.items()),
                                  key=lambda r: -r[2])[:5],
        }
