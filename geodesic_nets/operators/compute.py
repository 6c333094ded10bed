"""compute_bundle: run the registry's stages on a surface; resolve_settings: settings from keywords."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from ..errors import ArgumentError, GeometryError
from ..geometry.validate import scale_problem
from ..settings import OperatorSettings
from ..surface import Surface
from .bundle import SurfaceOperators
from .fields import STAGES

__all__ = ["compute_bundle", "resolve_settings"]

log = logging.getLogger(__name__)


def resolve_settings(settings: OperatorSettings | None = None, **keywords: Any) -> OperatorSettings:
    """``settings``, or settings built from ``keywords`` (those left None take their defaults).

    Raises
    ------
    ArgumentError
        When ``settings`` is given together with a keyword whose value disagrees with it: the
        keyword would otherwise be ignored without a word.
    """
    given = {k: v for k, v in keywords.items() if v is not None}
    if settings is None:
        return OperatorSettings(**given)
    if not isinstance(settings, OperatorSettings):
        raise ArgumentError(f"settings must be an OperatorSettings, got {type(settings).__name__}")
    asked = dataclasses.replace(settings, **given)  # validates and normalizes (a dict -> AnisotropicSettings)
    clash = [k for k in given if getattr(asked, k) != getattr(settings, k)]
    if clash:
        said = ", ".join(f"{k}={given[k]!r} (settings has {getattr(settings, k)!r})" for k in clash)
        raise ArgumentError(f"compute_operators got settings and keywords that disagree: {said}; give one or the other")
    return settings


def compute_bundle(surface: Surface, settings: OperatorSettings) -> SurfaceOperators:
    """Run every enabled stage of the registry; errors name the surface."""
    try:
        return _run_stages(surface, settings)
    except GeometryError as exc:
        name = surface.name or "surface"
        if name in str(exc):
            raise
        raise GeometryError(f"{name}: {exc}") from exc


def _run_stages(surface: Surface, settings: OperatorSettings) -> SurfaceOperators:
    if surface.num_verts == 0:
        raise GeometryError(f"{surface.name or 'surface'}: cannot compute operators of an empty surface")
    if surface.faces is not None and surface.num_faces == 0:
        raise GeometryError(f"{surface.name or 'surface'}: mesh has vertices but no faces; load it as a point cloud")
    problem = scale_problem(surface.verts, surface.faces, what=surface.name or "mesh")
    if problem:
        log.warning("%s", problem)
    done: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for stage in STAGES:
        if not stage.enabled(settings):
            continue
        t0 = time.perf_counter()
        values = stage.run(surface, settings, done)
        timings[stage.name] = time.perf_counter() - t0
        done.update({f.name: v for f, v in zip(stage.outputs, values, strict=True)})
    log.debug("operators of %s: %s", surface, timings)
    return SurfaceOperators(
        verts=surface.verts, faces=surface.faces, settings=settings, timings=timings, **done
    )
