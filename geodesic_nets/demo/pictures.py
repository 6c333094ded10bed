"""The pictures of ``geodesic-nets demo``: learned features and a correspondence (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..surface import Surface
from ..tasks.runner import load_datasets, load_run

__all__ = ["demo_pictures"]


def _surface(sample) -> Surface:
    ops = sample.operators
    return Surface(ops.verts.double().numpy(), ops.faces.numpy(), name=sample.name)


def demo_pictures(out_dir: Path, *, size: tuple[int, int] = (1000, 500)) -> dict[str, str]:
    """Render from the run directories the training demo left in ``out_dir``.

    Writes ``features.png`` (the correspondence model's learned features of a test shape, PCA
    to RGB) and ``correspondence.png`` (a coordinate colour pattern on
    one test shape carried to another through the predicted map). Returns name -> path.
    """
    from ..viz import plot_correspondence, plot_features

    corr_run = load_run(out_dir / "correspondence", device="cpu")
    test = load_datasets(corr_run.experiment, ["test"], progress=False)["test"]
    source, target = test[0], test[1]
    feats = corr_run.vertex_features(target).numpy()
    paths = {}
    paths["features"] = str(plot_features(_surface(target), feats, channels="pca", title="learned features (PCA)",
                                          window_size=(size[1], size[1]), screenshot=out_dir / "features.png"))
    p2p = corr_run.point_map(source, target).numpy()
    paths["correspondence"] = str(plot_correspondence(_surface(source), _surface(target), np.asarray(p2p),
                                                      window_size=size, screenshot=out_dir / "correspondence.png"))
    return paths
