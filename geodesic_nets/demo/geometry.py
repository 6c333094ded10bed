"""The geometry part of ``geodesic-nets demo``.

Runs the geometry pipeline on meshes the package generates itself (no downloads, no data files):
a unit icosphere, where every number has a closed form to compare with, and a bumpy blob. For
each it prints the validation report, the operator timings, the first eigenvalues, heat-method
against exact geodesic distances, and heat kernel signature statistics.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import primitives
from ..geometry.curvature import angle_defect
from ..geometry.descriptors import hks, hks_times
from ..geometry.exact_geodesics import exact_geodesic
from ..geometry.heat_geodesics import HeatGeodesicSolver
from ..geometry.patches import geodesic_patches
from ..io import inspect
from ..operators import compute_operators
from ..surface import Surface

__all__ = ["geometry_demo"]


def _sphere_eigenvalues(k: int) -> np.ndarray:
    """The first k eigenvalues of the unit sphere, l(l+1) with multiplicity 2l+1."""
    vals: list[float] = []
    l = 0
    while len(vals) < k:
        vals += [l * (l + 1.0)] * (2 * l + 1)
        l += 1
    return np.asarray(vals[:k])


def _geodesic_stats(surface: Surface, sources: np.ndarray) -> dict:
    solver = HeatGeodesicSolver(surface.verts, surface.faces)
    rel = []
    for s in sources:
        heat = solver.distance(int(s))
        exact = exact_geodesic(surface.verts, surface.faces, int(s))
        far = exact > 1e-9
        rel.append(np.abs(heat[far] - exact[far]) / exact[far])
    rel = np.concatenate(rel)
    return {"sources": len(sources), "mean_rel_error_heat_vs_exact": float(rel.mean()),
            "max_rel_error_heat_vs_exact": float(rel.max())}


def _report_surface(surface: Surface, k_eig: int, out: Callable[[str], None], *, sphere: bool) -> dict:
    out(f"\n=== {surface.name}: {surface.num_verts} vertices, {surface.num_faces} faces ===")
    report = inspect(surface)
    out(str(report))
    t0 = time.perf_counter()
    ops = compute_operators(surface, k_eig=k_eig)
    total = time.perf_counter() - t0
    out("operators: " + ", ".join(f"{k} {v:.3f}s" for k, v in ops.timings.items()) + f" (total {total:.3f}s)")
    result: dict = {"name": surface.name, "num_verts": surface.num_verts, "operator_seconds": total,
                    "evals": ops.evals[:16].tolist()}
    out("first eigenvalues: " + " ".join(f"{x:.4f}" for x in ops.evals[:16]))
    if sphere:
        ref = _sphere_eigenvalues(16)
        err = np.abs(ops.evals[1:16] - ref[1:]) / ref[1:]
        out("unit sphere l(l+1):  " + " ".join(f"{x:.4f}" for x in ref))
        out(f"relative eigenvalue error (1..15): max {err.max():.2e}")
        result["max_rel_eigenvalue_error"] = float(err.max())
    rng = np.random.default_rng(0)
    sources = rng.choice(surface.num_verts, size=3, replace=False)
    geo = _geodesic_stats(surface, sources)
    out(f"geodesics from {geo['sources']} vertices: heat vs exact (MMP) relative error "
        f"mean {geo['mean_rel_error_heat_vs_exact']:.2%}, max {geo['max_rel_error_heat_vs_exact']:.2%}")
    if sphere:
        s = int(sources[0])
        exact = exact_geodesic(surface.verts, surface.faces, s)
        great = np.arccos(np.clip(surface.verts @ surface.verts[s], -1, 1))
        far = great > 1e-9
        gerr = float(np.mean(np.abs(exact[far] - great[far]) / great[far]))
        out(f"exact geodesic vs great-circle distance: mean relative error {gerr:.2%}")
        geo["mean_rel_error_exact_vs_great_circle"] = gerr
    result["geodesics"] = geo
    times = hks_times(ops.evals, n=4)
    desc = hks(ops.evals, ops.evecs, times)  # (V, 4)
    spread = desc.std(0) / desc.mean(0)
    out("HKS at t = " + ", ".join(f"{t:.3g}" for t in times) + ": coefficient of variation over vertices "
        + ", ".join(f"{x:.2e}" for x in spread))
    result["hks_cv"] = spread.tolist()
    total_curvature = float(angle_defect(surface.verts, surface.faces).sum())
    chi = report.euler_characteristic
    out(f"Gauss-Bonnet: total angle defect {total_curvature:.6f} = 2 pi chi = {2 * np.pi * chi:.6f}")
    result["total_angle_defect"] = total_curvature
    patches = geodesic_patches(surface.verts, surface.faces, ops.frames, ops.connection, k=16)
    rho = patches.rho.reshape(surface.num_verts, 16)
    out(f"geodesic polar patches (k=16): mean radius {rho[:, -1].mean():.4f}, "
        f"{patches.center.shape[0]} (vertex, neighbour) pairs")
    result["patch_mean_radius"] = float(rho[:, -1].mean())
    return result


def geometry_demo(*, k_eig: int = 64, out_dir: Path | None = None, echo: Callable[[str], None] = print) -> dict:
    """Geometry on an icosphere (closed forms) and a bumpy blob; returns the results.

    With ``out_dir``, the generated meshes are written there (``.obj``).
    """
    surfaces = [(primitives.icosphere(4), True), (primitives.bumpy_sphere(4, seed=0), False)]
    results = [_report_surface(s, k_eig, echo, sphere=sph) for s, sph in surfaces]
    if out_dir is not None:
        from ..io import save

        out_dir.mkdir(parents=True, exist_ok=True)
        for s, _ in surfaces:
            save(s, out_dir / f"{s.name.split('(')[0]}.obj")
    return {"k_eig": k_eig, "surfaces": results}
