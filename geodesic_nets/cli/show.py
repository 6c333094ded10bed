"""``geodesic-nets show``: look at a mesh or point cloud file and a field on it.

``geodesic-nets show FILE [--scalar hks|geodesic:VERTEX|eigen:K|curvature|gaussian|mean]
[--frames] [--out PNG] [--size W H]`` draws the surface, optionally coloured by a field computed
on it, optionally with its vertex frames; without ``--out`` it opens a window, which needs a
display.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .options import VIEWS, check_out, finish, positive_int
from .show_run import show_features
from ..errors import ArgumentError

__all__ = ["register", "parse_scalar", "scalar_fields"]

_SCALARS = ("hks", "geodesic:VERTEX", "eigen:K", "curvature", "gaussian", "mean")


def parse_scalar(text: str) -> tuple[str, int | None]:
    """``"geodesic:12"`` -> ``("geodesic", 12)``; ``"hks"`` -> ``("hks", None)``.

    Raises
    ------
    argparse.ArgumentTypeError
        For an unknown field or a missing / non-integer / negative index.
    """
    kind, _, arg = text.partition(":")
    if kind in ("hks", "curvature", "gaussian", "mean") and not arg:
        return kind, None
    if kind in ("geodesic", "eigen"):
        try:
            index = int(arg)
        except ValueError:
            index = -1
        if index >= 0:
            return kind, index
        raise argparse.ArgumentTypeError(f"{kind} needs a non-negative integer, e.g. {kind}:0; got {text!r}")
    raise argparse.ArgumentTypeError(f"unknown scalar field {text!r}; expected one of {', '.join(_SCALARS)}")


def scalar_fields(surface: Any, kind: str, index: int | None, *, k_eig: int) -> tuple[dict[str, np.ndarray], dict]:
    """The field(s) to draw and extra plot options for one ``--scalar`` choice.

    Returns
    -------
    fields : dict of str to ndarray, shape (V,)
    options : dict
        ``cmap`` and ``clim`` suggestions ("symmetric" for signed fields).
    """
    from ..errors import GeometryError

    if kind == "geodesic":
        from ..geometry.geodesics import heat_geodesic

        if index >= surface.num_verts:
            raise GeometryError(f"geodesic source vertex {index} is out of range: {surface.name} has "
                                f"{surface.num_verts} vertices")
        return {f"distance from {index}": heat_geodesic(surface.verts, surface.faces, index)}, {}
    if kind in ("hks", "eigen"):
        from ..geometry.descriptors import hks, hks_times
        from ..operators import compute_operators

        k = max(k_eig, index + 1) if kind == "eigen" else k_eig
        ops = compute_operators(surface, k_eig=k)
        if kind == "eigen":
            if index >= ops.num_eigs:
                raise GeometryError(f"eigen:{index} asked for, but {surface.name} has only {ops.num_eigs} eigenpairs")
            return {f"eigenfunction {index}": ops.evecs[:, index]}, {"cmap": "coolwarm", "clim": "symmetric"}
        times = hks_times(ops.evals, 3)
        h = hks(ops.evals, ops.evecs, times)
        return {f"HKS t={t:.3g}": h[:, j] for j, t in enumerate(times)}, {"cmap": "magma"}
    from ..geometry.curvature import gaussian_curvature, mean_curvature

    if surface.is_point_cloud:
        raise GeometryError(f"--scalar {kind}: curvatures need a triangle mesh; {surface.name} is a point cloud")
    fields = {}
    if kind in ("curvature", "gaussian"):
        fields["Gaussian curvature"] = gaussian_curvature(surface.verts, surface.faces)
    if kind in ("curvature", "mean"):
        fields["mean curvature"] = mean_curvature(surface.verts, surface.faces)
    return fields, {"cmap": "coolwarm", "clim": "symmetric"}


def _cmd_show(args: argparse.Namespace) -> int:
    from .. import viz
    from ..io import load

    check_out(args.out)
    if len(args.inputs) == 2 or args.features:
        if len(args.inputs) != 2 or not args.features:
            raise ArgumentError("a trained model's features are drawn with: show RUN_DIR FILE --features")
        return show_features(args, *args.inputs)
    if len(args.inputs) != 1:
        raise ArgumentError(f"show takes one file (or RUN_DIR FILE --features), got {len(args.inputs)} paths")
    args.file = args.inputs[0]
    surface = load(args.file)
    common = {"window_size": args.size, "screenshot": args.out, "view": args.view}
    title = surface.name or str(args.file)
    if args.scalar is None:
        if args.frames:
            out = viz.plot_frames(surface, n_arrows=min(surface.num_verts, args.max_frames), title=title, **common)
        else:
            out = viz.plot_surface(surface, title=title, show_edges=not surface.is_point_cloud, **common)
    else:
        fields, opts = scalar_fields(surface, *args.scalar, k_eig=args.k_eig)
        cmap = args.cmap or opts.get("cmap", "viridis")
        if args.frames:
            if len(fields) != 1:
                raise ArgumentError(f"--frames draws over one field; --scalar {args.scalar[0]} gives {len(fields)}")
            (name, vals), = fields.items()
            out = viz.plot_frames(surface, n_arrows=min(surface.num_verts, args.max_frames), scalars={name: vals},
                                  cmap=cmap, clim=opts.get("clim"), show_edges=False, title=title, **common)
        elif args.scalar[0] == "geodesic":
            (vals,) = fields.values()
            out = viz.plot_geodesic(surface, vals, source=args.scalar[1], cmap=cmap, title=title, **common)
        else:
            out = viz.plot_scalars(surface, fields, cmap=cmap, clim=opts.get("clim"), title=title, **common)
    return finish(out, args.out, f"geodesic-nets show {args.file}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``show`` sub-command to ``sub``."""
    show = sub.add_parser(
        "show",
        help="draw a mesh or point cloud, optionally coloured by a field (needs the [viz] extra)",
        description="Draw a mesh or point cloud file, optionally coloured by a field computed on it. "
        "Without --out a window opens (which needs a display). "
        "`show RUN_DIR FILE --features` draws what a trained model learned on FILE.",
    )
    show.add_argument("inputs", nargs="+", metavar="FILE",
                      help="mesh or point cloud file (obj, off, ply, stl, glb, xyz, npy), or RUN_DIR FILE with --features")
    show.add_argument("--features", action="store_true",
                      help="with RUN_DIR FILE: the learned per-vertex features of the trained model (PCA to RGB)")
    show.add_argument("--channels", type=int, nargs="+", default=None,
                      help="with --features: draw these channels side by side instead of the PCA")
    show.add_argument("--checkpoint", choices=["last", "best"], default="last", help="with --features")
    show.add_argument("--scalar", type=parse_scalar, default=None, metavar="FIELD",
                      help="hks (3 diffusion times), geodesic:VERTEX (distance from a vertex), eigen:K "
                      "(K-th Laplace eigenfunction, 0 = constant), curvature (Gaussian and mean), gaussian, mean")
    show.add_argument("--frames", action="store_true", help="draw the vertex frames (x red, y green)")
    show.add_argument("--max-frames", type=positive_int, default=600, help="frames drawn at most (spread evenly)")
    show.add_argument("--out", default=None, metavar="PNG", help="write this PNG instead of opening a window")
    show.add_argument("--size", type=positive_int, nargs=2, default=None, metavar=("W", "H"),
                      help="picture size in pixels (default 500 x 420 per view)")
    show.add_argument("--view", choices=VIEWS, default="iso",
                      help="camera direction")
    show.add_argument("--cmap", default=None, help="colour map name (default depends on the field)")
    show.add_argument("--k-eig", type=positive_int, default=48, help="eigenpairs computed for hks and eigen:K")
    show.set_defaults(func=_cmd_show)
