"""``geodesic-nets show RUN_DIR FILE --features`` and ``geodesic-nets show-map``: trained models."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import VIEWS, check_out, finish, positive_int
from ..errors import ArgumentError

__all__ = ["register", "show_features"]


def show_features(args: argparse.Namespace, run_dir: str, file: str) -> int:
    """Learned per-vertex features of the model in ``run_dir`` on ``file`` (PCA to RGB or channels)."""
    from .. import viz
    from ..io import load
    from ..tasks.runner import load_run

    check_out(args.out)
    run = load_run(run_dir, checkpoint=args.checkpoint, device="cpu")
    surface = load(file)
    (sample,) = run.samples([file])
    feats = run.vertex_features(sample).numpy()  # (V, C), vertex order of the file
    channels = "pca" if args.channels is None else tuple(args.channels)
    bad = [c for c in (args.channels or []) if not 0 <= c < feats.shape[1]]
    if bad:
        raise ArgumentError(f"channels {bad} out of range: the model has {feats.shape[1]} feature channels")
    result = viz.plot_features(surface, feats, channels=channels, window_size=args.size, screenshot=args.out,
                               view=args.view, title=f"{Path(run_dir).name}: {surface.name or Path(file).stem}")
    return finish(result, args.out, f"geodesic-nets show {run_dir} {file} --features")


def _cmd_show_map(args: argparse.Namespace) -> int:
    from .. import viz
    from ..io import load
    from ..tasks.runner import load_run

    check_out(args.out)
    run = load_run(args.run_dir, checkpoint=args.checkpoint, device="cpu")
    source, target = load(args.source), load(args.target)
    src, tgt = run.samples([args.source, args.target])
    p2p = run.point_map(src, tgt).numpy()  # (V_target,): a source vertex for each target vertex
    result = viz.plot_correspondence(source, target, p2p, pattern=args.pattern, window_size=args.size,
                                     screenshot=args.out, view=args.view,
                                     titles=(Path(args.source).stem, Path(args.target).stem))
    return finish(result, args.out, f"geodesic-nets show-map {args.run_dir}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``show-map`` to ``sub`` (``show RUN_DIR FILE --features`` is parsed by ``show``)."""
    m = sub.add_parser("show-map", help="draw the correspondence a trained model predicts between two files",
                       description="Colour the source with a pattern and carry it to the target through the "
                       "point map the model of RUN_DIR predicts (needs the [viz] extra).")
    m.add_argument("run_dir", help="run directory of a correspondence model")
    m.add_argument("source", help="source mesh file")
    m.add_argument("target", help="target mesh file")
    m.add_argument("--pattern", choices=["xyz", "checker"], default="xyz", help="colouring carried by the map")
    m.add_argument("--checkpoint", choices=["last", "best"], default="last", help="which checkpoint of the run")
    m.add_argument("--out", default=None, metavar="PNG", help="write a PNG instead of opening a window")
    m.add_argument("--size", type=positive_int, nargs=2, default=None, metavar=("W", "H"), help="image size in pixels")
    m.add_argument("--view", choices=VIEWS, default="iso", help="camera direction")
    m.set_defaults(func=_cmd_show_map)
