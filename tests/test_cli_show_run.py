"""`show RUN_DIR FILE --features` and `show-map RUN_DIR SOURCE TARGET` on a small trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyvista")

from geodesic_nets.cli import main
from geodesic_nets.io import save
from geodesic_nets.primitives import bumpy_sphere


@pytest.fixture(scope="module")
def fmap_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("showrun")
    out = root / "run"
    assert main(["train", "--task", "functional_maps", "--dataset", "synthetic_correspondence", "--epochs", "1",
                 "--batch-size", "2", "--features", "wks", "--width", "8", "--depth", "1", "--k-eig", "40",
                 "--dataset-option", "n_shapes=6", "--no-progress", "--out", str(out)]) == 0
    a, b = root / "a.obj", root / "b.obj"
    save(bumpy_sphere(2, seed=1), a)
    save(bumpy_sphere(2, seed=2), b)
    return out, a, b


def _image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a PNG."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _distinct_colours(path: Path) -> int:
    return len(np.unique(_image(path).reshape(-1, 3), axis=0))


def test_features_png(fmap_run, tmp_path):
    run, a, _ = fmap_run
    png = tmp_path / "f.png"
    assert main(["show", str(run), str(a), "--features", "--out", str(png), "--size", "320", "240"]) == 0
    assert _image(png).shape == (240, 320, 3)
    assert _distinct_colours(png) > 50


def test_feature_channels_and_their_errors(fmap_run, tmp_path, capsys):
    run, a, _ = fmap_run
    png = tmp_path / "c.png"
    assert main(["show", str(run), str(a), "--features", "--channels", "0", "1", "--out", str(png)]) == 0
    assert png.stat().st_size > 5000
    assert main(["show", str(run), str(a), "--features", "--channels", "999", "--out", str(png)]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["show", str(run), str(a), "--out", str(png)]) == 2
    assert "--features" in capsys.readouterr().err


def test_show_map_png(fmap_run, tmp_path):
    run, a, b = fmap_run
    png = tmp_path / "m.png"
    assert main(["show-map", str(run), str(a), str(b), "--out", str(png), "--size", "480", "240",
                 "--pattern", "checker"]) == 0
    assert _image(png).shape == (240, 480, 3)
    assert _distinct_colours(png) > 20
