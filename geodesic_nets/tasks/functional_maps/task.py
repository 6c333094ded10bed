"""Dense correspondence with deep functional maps, supervised or unsupervised (FAUST_r protocol).

The model turns each shape into per-vertex features (V, C). For a pair (a, b), the features
are projected on the first ``k`` eigenfunctions of each shape and the functional map ``C_ab``
(K x K, functions on a -> functions on b) is the regularized least-squares solution of
:func:`~geodesic_nets.tasks.functional_maps.fmap_from_features` (the Laplacian-commutativity resolvent
mask as penalty); with a bidirectional loss ``C_ba`` is solved too.

Training (:mod:`geodesic_nets.tasks.functional_maps.losses`):

* ``supervision="supervised"`` (GeomFmaps, Donati et al. 2020): ``||C_ab - C_ab^true||^2``
  with the true map from the shapes' reference correspondences (``sample.corr``), plus any of
  the unsupervised terms below given a weight.
* ``supervision="unsupervised"`` (SURFMNet's penalties, Roufosse et al. 2019, with the
  coupling term of ULRSSM, Cao et al. 2023): bijectivity ``C_ab C_ba = I``, orthogonality
  ``C^T C = I``, Laplacian commutativity, and the coupling between ``C_ab`` and the functional
  map of the soft point map built from feature similarity (softmax of cosine similarities
  over a temperature). The ground truth is never read.

At test time a point map comes from the functional map (nearest neighbours in the aligned
spectral embeddings), straight from the features, or from the features through a functional
map of ``pointmap_k`` eigenfunctions (ULRSSM's test-time map); ZoomOut may refine it and
test-time adaptation (a few optimizer steps of the unsupervised loss on the one pair, from the
stored weights each time) may precede it. The error is the geodesic distance on a between the
predicted and the true point, for every reference point, normalized by sqrt(area of a).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Literal, Sequence, get_args

import numpy as np
import torch
from torch import nn

from ...data.sample import SampleBatch, collate_samples
from ...errors import ArgumentError, GeodesicNetsError
from ...geometry.sampling import farthest_points
from ..base import Task
from ..geodesic_error import correspondence_geodesic_errors, error_curve
from ..inference import iterate_batches
from .losses import (
    bijectivity_loss,
    check_temperature,
    coupling_loss,
    laplacian_commutativity_loss,
    orthogonality_loss,
    soft_pointmap,
    supervised_fmap_loss,
)
from .pointmaps import fmap_from_pointmap, nearest_neighbor_map, pointmap_from_fmap
from .refinement import zoomout
from .solve import fmap_from_features, least_squares

__all__ = ["FunctionalMapTask", "true_fmap", "Supervision", "PointmapSource", "LOSS_TERMS"]

Supervision = Literal["supervised", "unsupervised"]
PointmapSource = Literal["fmap", "features", "feature_fmap"]

#: the loss terms and their default weights under each kind of supervision (ULRSSM's for
#: unsupervised: bijectivity 1, orthogonality 1, Laplacian 0, coupling 1)
LOSS_TERMS: dict[str, dict[str, float]] = {
    "supervised": {"fmap": 1.0, "bijectivity": 0.0, "orthogonality": 0.0, "laplacian": 0.0, "coupling": 0.0},
    "unsupervised": {"fmap": 0.0, "bijectivity": 1.0, "orthogonality": 1.0, "laplacian": 0.0, "coupling": 1.0},
}


def true_fmap(evecs_a: torch.Tensor, evecs_b: torch.Tensor, corr_a: torch.Tensor, corr_b: torch.Tensor) -> torch.Tensor:
    """The functional map a -> b of a point correspondence, shape (K, K).

    ``corr_a[i] <-> corr_b[i]``; solves ``evecs_b[corr_b] C = evecs_a[corr_a]`` in the least-squares
    sense (the pull-back of a's eigenfunctions through the map b -> a, expressed on b's basis),
    with :func:`~geodesic_nets.tasks.functional_maps.least_squares` (bitwise reproducible on the CPU).
    """
    return least_squares(evecs_b[corr_b], evecs_a[corr_a])


def _weight(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ArgumentError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class FunctionalMapTask(Task):
    """Deep functional maps between pairs of shapes, supervised or unsupervised.

    Parameters
    ----------
    k : int
        Eigenfunctions per shape in the functional map (training and the ``"fmap"`` point map).
    lambda_ : float
        Weight of the Laplacian-commutativity regularization of the solve.
    resolvent_gamma : float or None
        Resolvent mask exponent (None: squared eigenvalue differences).
    supervision : {"supervised", "unsupervised"}
        Sets the default loss weights (:data:`LOSS_TERMS`). Unsupervised training never reads
        the reference correspondences, and refuses a non-zero ``w_fmap``.
    w_fmap, w_bijectivity, w_orthogonality, w_laplacian, w_coupling : float or None
        Weights of the supervised term and of the unsupervised terms (None: the default of
        ``supervision``). Bijectivity and the second direction of the others need ``C_ba``,
        which is then solved too.
    temperature : float
        Softmax temperature of the soft point map of the coupling term (cosine similarities of
        the features; ULRSSM uses 0.07).
    normalize_features : bool
        Scale every vertex's feature vector to unit length before the functional-map solve (in
        training and evaluation). The solve's regularization ``lambda_`` is not invariant to the
        features' scale; without this a network can grow its outputs until the penalty no longer
        matters and the solve turns ill-conditioned (seen with the ACNN patch networks on
        FAUST_r, whose training diverged without it).
    pointmap : {"fmap", "features", "feature_fmap"}
        Test-time point map: from the ``k x k`` functional map of the solve; nearest neighbours
        of the (unit) features; or ULRSSM's: the feature map turned into a functional map of
        ``pointmap_k`` eigenfunctions and back into a point map (a spectral smoothing of it).
    pointmap_k : int or None
        Eigenfunctions of the ``"feature_fmap"`` map (None: all the shapes have, at most 200).
    zoomout_to : int or None
        Refine test maps with ZoomOut (Melzi et al. 2019) up to this many eigenfunctions
        (None: no refinement), starting from the map ``pointmap`` gives.
    zoomout_step : int
        Eigenfunctions added per ZoomOut iteration.
    zoomout_samples : int or None
        Fast ZoomOut: iterate on this many farthest-point samples of each shape, then map every
        vertex once at the end (:func:`~geodesic_nets.tasks.functional_maps.zoomout`); None: every vertex.
    tta_steps : int
        Test-time adaptation: before mapping a test pair, this many Adam steps of the
        unsupervised loss (the unsupervised default weights) on that pair alone, from the
        stored weights every time; the model passed in is never modified. 0: none.
    tta_lr : float
        Learning rate of test-time adaptation.
    both_directions : bool
        Evaluate a -> b and b -> a for every test pair.
    progress : bool
        A progress bar over the test pairs (stderr).
    """

    name = "functional_maps"
    primary_metric = "mean_geodesic_error"
    higher_is_better = False

    def __init__(self, *, k: int = 30, lambda_: float = 1e-3, resolvent_gamma: float | None = 0.5,
                 supervision: Supervision = "supervised", w_fmap: float | None = None,
                 w_bijectivity: float | None = None, w_orthogonality: float | None = None,
                 w_laplacian: float | None = None, w_coupling: float | None = None, temperature: float = 0.07,
                 normalize_features: bool = False, pointmap: PointmapSource = "fmap", pointmap_k: int | None = None,
                 zoomout_to: int | None = None, zoomout_step: int = 1,
                 zoomout_samples: int | None = None, tta_steps: int = 0, tta_lr: float = 1e-3,
                 both_directions: bool = True, radii: Sequence[float] | None = None, progress: bool = False) -> None:
        if k < 2:
            raise ArgumentError(f"k must be >= 2, got {k}")
        if zoomout_to is not None and zoomout_to < 2:
            raise ArgumentError(f"zoomout_to must be >= 2, got {zoomout_to}")
        if supervision not in get_args(Supervision):
            raise ArgumentError(f"supervision must be one of {get_args(Supervision)}, got {supervision!r}")
        if pointmap not in get_args(PointmapSource):
            raise ArgumentError(f"pointmap must be one of {get_args(PointmapSource)}, got {pointmap!r}")
        if pointmap_k is not None and pointmap_k < 2:
            raise ArgumentError(f"pointmap_k must be >= 2, got {pointmap_k}")
        if zoomout_step < 1:
            raise ArgumentError(f"zoomout_step must be >= 1, got {zoomout_step}")
        if zoomout_samples is not None and zoomout_samples < 2:
            raise ArgumentError(f"zoomout_samples must be >= 2, got {zoomout_samples}")
        if isinstance(tta_steps, bool) or not isinstance(tta_steps, int) or tta_steps < 0:
            raise ArgumentError(f"tta_steps must be a non-negative int, got {tta_steps!r}")
        self.k, self.lambda_, self.resolvent_gamma = k, lambda_, resolvent_gamma
        self.supervision = supervision
        given = {"fmap": w_fmap, "bijectivity": w_bijectivity, "orthogonality": w_orthogonality,
                 "laplacian": w_laplacian, "coupling": w_coupling}
        self.weights = {term: _weight(f"w_{term}", LOSS_TERMS[supervision][term] if w is None else w)
                        for term, w in given.items()}
        if supervision == "unsupervised" and self.weights["fmap"] > 0:
            raise ArgumentError("unsupervised training reads no ground truth: w_fmap must be 0")
        if not any(self.weights.values()):
            raise ArgumentError("every loss weight is 0: nothing to train")
        self.temperature = check_temperature(temperature)
        self.normalize_features = bool(normalize_features)
        self.pointmap, self.pointmap_k = pointmap, pointmap_k
        self.zoomout_to, self.zoomout_step, self.both_directions = zoomout_to, zoomout_step, both_directions
        self.zoomout_samples = zoomout_samples
        self.tta_steps, self.tta_lr = tta_steps, float(tta_lr)
        self.radii = tuple(radii) if radii is not None else tuple(np.round(np.linspace(0, 0.25, 26), 3).tolist())
        self.progress = bool(progress)

    def _features(self, feats: torch.Tensor) -> torch.Tensor:
        """(V, C) features as the solve sees them: unit rows when ``normalize_features``."""
        return torch.nn.functional.normalize(feats, dim=1) if self.normalize_features else feats

    # ------------------------------------------------------------------ training
    def _solve(self, fa, fb, ops_a, ops_b, k: int) -> torch.Tensor:
        """``C_ab`` (k, k) from features ``fa`` (V_a, C), ``fb`` (V_b, C); ``ops_*`` = (evecs, mass, evals)."""
        (ea, ma, la), (eb, mb, lb) = ops_a, ops_b
        return fmap_from_features(fa, fb, ea[:, :k], eb[:, :k], ma, mb, la[:k], lb[:k],
                                  lambda_=self.lambda_, resolvent_gamma=self.resolvent_gamma)

    def pair_loss(self, fa: torch.Tensor, fb: torch.Tensor, ops_a, ops_b, *, weights: dict[str, float] | None = None,
                  corr: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of one pair and its terms.

        Parameters
        ----------
        fa : Tensor, shape (V_a, C)
        fb : Tensor, shape (V_b, C)
            The network's raw features.
        ops_a, ops_b : tuple (evecs (V, K), mass (V,), evals (K,))
        weights : dict, optional
            Term weights (default: the task's).
        corr : (Tensor (P,), Tensor (P,)), optional
            Reference correspondences ``corr_a[i] <-> corr_b[i]``; only read by the supervised term.
        """
        w = self.weights if weights is None else weights
        k = self.k
        fa, fb = self._features(fa), self._features(fb)
        C_ab = self._solve(fa, fb, ops_a, ops_b, k)  # (k, k)
        two_way = w["bijectivity"] > 0 or w["orthogonality"] > 0 or w["laplacian"] > 0 or w["coupling"] > 0
        C_ba = self._solve(fb, fa, ops_b, ops_a, k) if two_way else None
        (ea, ma, la), (eb, mb, lb) = ops_a, ops_b
        terms: dict[str, torch.Tensor] = {}
        if w["fmap"] > 0:
            if corr is None:
                raise GeodesicNetsError("the supervised functional-map loss needs reference correspondences (sample.corr)")
            terms["fmap"] = supervised_fmap_loss(C_ab, true_fmap(ea[:, :k], eb[:, :k], corr[0], corr[1]))
        if w["bijectivity"] > 0:
            terms["bijectivity"] = bijectivity_loss(C_ab, C_ba)
        if w["orthogonality"] > 0:
            terms["orthogonality"] = orthogonality_loss(C_ab) + orthogonality_loss(C_ba)
        if w["laplacian"] > 0:
            terms["laplacian"] = (laplacian_commutativity_loss(C_ab, la[:k], lb[:k])
                                  + laplacian_commutativity_loss(C_ba, lb[:k], la[:k]))
        if w["coupling"] > 0:
            P_ba = soft_pointmap(fb, fa, temperature=self.temperature)  # (V_b, V_a)
            P_ab = soft_pointmap(fa, fb, temperature=self.temperature)  # (V_a, V_b)
            terms["coupling"] = (coupling_loss(C_ab, P_ba, ea[:, :k], eb[:, :k], mb)
                                 + coupling_loss(C_ba, P_ab, eb[:, :k], ea[:, :k], ma))
        total = sum(w[t] * v for t, v in terms.items())
        return total, terms

    def loss(self, model: nn.Module, sb: SampleBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Pairs (0, 1), (2, 3), ... of the batch; the batch size must be even."""
        B = sb.num_meshes
        if B < 2 or B % 2:
            raise GeodesicNetsError(f"functional-map training pairs consecutive shapes: the batch size must be even, got {B}")
        supervised = self.weights["fmap"] > 0
        if supervised and sb.corr is None:
            raise GeodesicNetsError("functional-map training needs reference correspondences (sample.corr)")
        if int(sb.batch.eig_mask.sum(1).min()) < self.k:
            raise GeodesicNetsError(f"the shapes need at least k={self.k} eigenpairs")
        feats = sb.batch.split(model(sb.batch))  # B x (V_b, C)
        evecs, mass = sb.batch.split(sb.batch.evecs), sb.batch.split(sb.batch.mass)
        ops = [(evecs[i], mass[i], sb.batch.evals[i]) for i in range(B)]
        losses, stats = [], defaultdict(float)
        for ia in range(0, B, 2):
            ib = ia + 1
            corr = (sb.corr[ia], sb.corr[ib]) if supervised else None
            loss, terms = self.pair_loss(feats[ia], feats[ib], ops[ia], ops[ib], corr=corr)
            losses.append(loss)
            for t, v in terms.items():
                stats[f"{t}_loss"] += float(v.detach()) / (B // 2)
        loss = torch.stack(losses).mean()
        return loss, dict(stats)

    # ------------------------------------------------------------------ evaluation
    def _pairs(self, dataset) -> list[tuple[int, int]]:
        pairs = dataset.test_pairs() if hasattr(dataset, "test_pairs") else [
            (i, j) for i in range(len(dataset)) for j in range(i + 1, len(dataset))]
        if self.both_directions:
            pairs = [p for (i, j) in pairs for p in ((i, j), (j, i))]
        return list(pairs)

    def pair_map(self, fa: torch.Tensor, fb: torch.Tensor, ops_a, ops_b,
                 samples: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Point map ``b -> a`` (V_b,) int64 of one pair from its raw features (no gradient).

        ``ops_*`` = (evecs (V, K), mass (V,), evals (K,)) on the features' device and dtype;
        ``samples``: the vertex samples (S_a,), (S_b,) of fast ZoomOut.
        """
        (ea, _, _), (eb, mb, _) = ops_a, ops_b
        k_all = min(ea.shape[1], eb.shape[1])
        with torch.no_grad():
            if self.pointmap == "fmap":
                C = self._solve(self._features(fa), self._features(fb), ops_a, ops_b, self.k)
                p2p = None
            else:
                # nearest neighbours of unit features: the cosine similarity's argmax
                p2p = nearest_neighbor_map(torch.nn.functional.normalize(fa, dim=1),
                                           torch.nn.functional.normalize(fb, dim=1))
                C = None
                if self.pointmap == "feature_fmap" or self.zoomout_to is not None:
                    kp = min(self.pointmap_k or 200, k_all) if self.pointmap == "feature_fmap" else min(self.k, k_all)
                    if self.zoomout_to is not None:
                        kp = min(kp, self.zoomout_to)
                    C = fmap_from_pointmap(p2p, ea[:, :kp], eb[:, :kp], mb)
            if self.zoomout_to is not None:
                kz = min(self.zoomout_to, k_all)
                C = C[:kz, :kz]
                sa, sb_ = samples if samples is not None else (None, None)
                _, p2p = zoomout(C, ea[:, :kz], eb[:, :kz], k_final=kz, step=self.zoomout_step, mass_b=mb,
                                 samples_a=sa, samples_b=sb_)
            elif C is not None:
                p2p = pointmap_from_fmap(C, ea[:, :C.shape[1]], eb[:, :C.shape[0]])
        return p2p

    def adapted(self, model: nn.Module, batch) -> nn.Module:
        """A copy of ``model`` after ``tta_steps`` Adam steps of the unsupervised loss on one pair.

        ``batch``: a :class:`~geodesic_nets.batch.MeshBatch` of the two shapes (a, b) on the
        model's device and dtype. ``model`` itself is not modified (it is copied first).
        """
        tuned = copy.deepcopy(model)
        tuned.train()
        opt = torch.optim.Adam([p for p in tuned.parameters() if p.requires_grad], lr=self.tta_lr)
        weights = dict(LOSS_TERMS["unsupervised"])
        evecs, mass = batch.split(batch.evecs), batch.split(batch.mass)
        ops = [(evecs[i], mass[i], batch.evals[i]) for i in range(2)]
        with torch.enable_grad():
            for _ in range(self.tta_steps):
                opt.zero_grad(set_to_none=True)
                fa, fb = batch.split(tuned(batch))
                loss, _ = self.pair_loss(fa, fb, ops[0], ops[1], weights=weights)
                loss.backward()
                opt.step()
        tuned.eval()
        return tuned

    def maps(self, model: nn.Module, dataset, pairs, *, device, dtype, batch_size: int = 1) -> dict[tuple[int, int], torch.Tensor]:
        """Point maps ``p2p[(a, b)]`` (V_b,) int64: for every vertex of b, a vertex of a."""
        from tqdm.auto import tqdm

        used = sorted({i for pair in pairs for i in pair})
        ops, samples = {}, {}
        for i in used:  # once per shape, not per pair
            o = dataset[i].operators.to(device, dtype)
            ops[i] = (o.evecs, o.mass, o.evals)
            if self.zoomout_to is not None and self.zoomout_samples is not None:
                fps = farthest_points(dataset[i].operators.verts.double().cpu().numpy(), self.zoomout_samples)
                samples[i] = torch.as_tensor(fps, device=o.evecs.device)
        feats: list[torch.Tensor] = []
        if not self.tta_steps:
            for sb, f in iterate_batches(model, dataset, device=device, dtype=dtype, batch_size=batch_size):
                feats.extend(sb.batch.split(f))
        out = {}
        for ia, ib in tqdm(pairs, disable=not self.progress, unit="map", desc="maps", leave=False):
            if self.tta_steps:
                batch = collate_samples([dataset[ia], dataset[ib]]).batch.to(device, dtype)
                tuned = self.adapted(model, batch)
                with torch.no_grad():
                    fa, fb = batch.split(tuned(batch))
            else:
                fa, fb = feats[ia], feats[ib]
            pair_samples = (samples[ia], samples[ib]) if samples else None
            out[(ia, ib)] = self.pair_map(fa, fb, ops[ia], ops[ib], pair_samples).cpu()
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
