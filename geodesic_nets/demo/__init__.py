"""The embedded default job: ``geodesic-nets demo``.

Everything runs on meshes the package generates itself (no downloads, no data files):

1. geometry on an icosphere, where every number has a closed form, and a bumpy blob
   (:mod:`.geometry`);
2. a shape classifier and a deep-functional-map correspondence model trained on the synthetic
   datasets (:mod:`.training`);
3. pictures of the learned features and of a predicted correspondence (:mod:`.pictures`; needs
   the ``[viz]`` extra, skipped with a message without it).

``out_dir/metrics.json`` gathers the results; the run directories are under ``out_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import GeodesicNetsError
from .geometry import geometry_demo
from .training import classification_demo, correspondence_demo

__all__ = ["run_demo", "DEFAULT_OUT"]

DEFAULT_OUT = Path("data") / "demo"


def run_demo(
    *,
    k_eig: int = 64,
    out_dir: str | Path | None = None,
    train: bool = True,
    epochs: int | None = None,
    pictures: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the demo and return its results (also written to ``out_dir/metrics.json``).

    Parameters
    ----------
    k_eig : int
        Eigenpairs per mesh in the geometry part.
    out_dir : path, optional
        Output directory (default ``data/demo``); replaced runs are started afresh.
    train : bool
        Run the training part.
    epochs : int, optional
        Epochs of each training (default 15 for classification, 12 for correspondence).
    pictures : bool
        Write the PNGs (needs pyvista).
    echo : callable
        Receives each line of the human-readable report.
    """
    import shutil

    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"geometry": geometry_demo(k_eig=k_eig, out_dir=out, echo=echo)}
    if train:
        for name in ("classification", "correspondence"):
            if (out / name).exists():
                shutil.rmtree(out / name)
        kw = {} if epochs is None else {"epochs": epochs}
        summary["classification"] = classification_demo(out, echo=echo, **kw)
        summary["correspondence"] = correspondence_demo(out, echo=echo, **kw)
        if pictures:
            try:
                from .pictures import demo_pictures

                summary["pictures"] = demo_pictures(out)
                for name, path in summary["pictures"].items():
                    echo(f"wrote {path} ({name})")
            except GeodesicNetsError as exc:  # no pyvista, or no way to render
                echo(f"no pictures: {exc}")
    from ..tasks.records import write_json

    write_json(out / "metrics.json", summary)
    echo(f"\nwrote {out / 'metrics.json'}")
    return summary
