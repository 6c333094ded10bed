"""``geodesic-nets show``: pictures of files and fields, headless, with clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from geodesic_nets import cli, primitives, viz
from geodesic_nets.cli import show
from geodesic_nets.io import save

pytest.importorskip("pyvista")


@pytest.fixture(autouse=True)
def with_show(monkeypatch):
    """Run through cli.main with the show group registered (whether or not the lead has yet)."""
    if show not in cli._GROUPS:
        monkeypatch.setattr(cli, "_GROUPS", tuple(cli._GROUPS) + (show,))


@pytest.fixture
def plane_file(tmp_path):
    path = tmp_path / "plane.off"
    save(primitives.plane_grid(12), path)
    return path


def _png(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _viridis_position(rgb) -> float:
    import matplotlib

    lut = matplotlib.colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = lut / np.linalg.norm(lut, axis=1, keepdims=True)
    c = np.asarray(rgb, dtype=np.float64)
    return float(np.argmax(lut @ (c / np.linalg.norm(c)))) / 255.0


def test_show_writes_a_png_of_the_requested_size(plane_file, tmp_path, capsys):
    out = tmp_path / "plain.png"
    assert cli.main(["show", str(plane_file), "--out", str(out), "--size", "200", "150"]) == 0
    img = _png(out)
    assert img.shape == (150, 200, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20
    assert str(out) in capsys.readouterr().out


def test_show_geodesic_colours_run_from_the_source(plane_file, tmp_path):
    out = tmp_path / "geo.png"
    # Vertex 0 of plane_grid is the corner (-0.5, -0.5): bottom left when looking down z.
    assert cli.main(["show", str(plane_file), "--scalar", "geodesic:0", "--view", "xy", "--out", str(out),
                     "--size", "240", "200"]) == 0
    img = _png(out).astype(int)
    band = img[int(0.12 * 200): int(0.8 * 200)]  # below the title, above the colour bar
    coloured = band.max(axis=2) - band.min(axis=2) > 40  # viridis is saturated; text, lines are not
    rows, cols = np.nonzero(coloured)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    assert (r1 - r0) > 60 and (c1 - c0) > 60
    near = np.median(band[r1 - 5: r1 - 1, c0 + 1: c0 + 5].reshape(-1, 3), axis=0)
    far = np.median(band[r0 + 1: r0 + 5, c1 - 5: c1 - 1].reshape(-1, 3), axis=0)
    assert _viridis_position(near) < 0.2 and _viridis_position(far) > 0.8


@pytest.mark.parametrize("field, panels", [("hks", 3), ("eigen:2", 1), ("curvature", 2), ("mean", 1)])
def test_show_fields(tmp_path, field, panels):
    mesh = tmp_path / "blob.obj"
    save(primitives.bumpy_sphere(2), mesh)
    out = tmp_path / "field.png"
    assert cli.main(["show", str(mesh), "--scalar", field, "--k-eig", "12", "--out", str(out)]) == 0
    img = _png(out)
    assert img.shape == (420, 500 * panels, 3)  # default: 500 x 420 per view
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_show_frames_over_a_field(tmp_path):
    mesh = tmp_path / "sphere.ply"
    save(primitives.icosphere(1), mesh)
    out = tmp_path / "frames.png"
    assert cli.main(["show", str(mesh), "--frames", "--scalar", "eigen:1", "--out", str(out),
                     "--size", "160", "120", "--k-eig", "8"]) == 0
    img = _png(out).astype(int)
    red = (img[..., 0] > 120) & (img[..., 0] > img[..., 1:].max(axis=-1) + 60)
    assert red.sum() > 10  # the x axes


def test_show_on_a_bad_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nf 1 2 7\n")
    assert cli.main(["show", str(bad), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "broken.obj" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
    assert cli.main(["show", str(tmp_path / "missing.off"), "--out", str(tmp_path / "x.png")]) == 1
    assert "missing.off" in capsys.readouterr().err


def test_show_errors_on_bad_requests(plane_file, tmp_path, capsys, monkeypatch):
    cloud = tmp_path / "cloud.xyz"
    save(primitives.sphere_point_cloud(200), cloud)
    assert cli.main(["show", str(cloud), "--scalar", "gaussian", "--out", str(tmp_path / "c.png")]) == 1
    assert "point cloud" in capsys.readouterr().err
    assert cli.main(["show", str(plane_file), "--scalar", "geodesic:5000", "--out", str(tmp_path / "g.png")]) == 1
    assert "5000" in capsys.readouterr().err
    assert cli.main(["show", str(plane_file), "--scalar", "hks", "--frames", "--k-eig", "8",
                     "--out", str(tmp_path / "h.png")]) == 2
    assert "--frames" in capsys.readouterr().err
    assert cli.main(["show", str(plane_file), "--out", str(tmp_path / "h.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["show", str(plane_file), "--scalar", "temperature"])
    assert info.value.code == 2
    assert "unknown scalar field 'temperature'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["show", str(plane_file), "--scalar", "geodesic:x"])
    assert "geodesic needs a non-negative integer" in capsys.readouterr().err


def test_show_without_out_needs_a_display(plane_file, capsys, monkeypatch):
    monkeypatch.setattr(viz, "has_display", lambda: False)
    assert cli.main(["show", str(plane_file)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "display" in err


def test_parse_scalar():
    assert show.parse_scalar("hks") == ("hks", None)
    assert show.parse_scalar("geodesic:12") == ("geodesic", 12)
    assert show.parse_scalar("eigen:0") == ("eigen", 0)
    for bad in ("eigen", "eigen:-1", "hks:3", "curv"):
        with pytest.raises(Exception, match="eigen|hks|unknown"):
            show.parse_scalar(bad)
