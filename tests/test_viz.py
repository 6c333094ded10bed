"""geodesic_nets.viz, rendered headless: sizes, non-blank pictures, colours that follow the data,
the frames and transport geometry behind the arrows, and the error without pyvista."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from geodesic_nets import GeodesicNetsError, GeometryError, primitives, viz
from geodesic_nets.geometry import holonomy, levi_civita_connection, vertex_frames
from geodesic_nets.viz import _backend

SIZE = (160, 120)


@pytest.fixture(scope="module")
def pv():
    return pytest.importorskip("pyvista")


@pytest.fixture(scope="module")
def plane():
    return primitives.plane_grid(12)  # z = 0, [-0.5, 0.5]^2


def _render(plotter) -> np.ndarray:
    """The plotter's picture as (H, W, 3) uint8; the plotter stays open for world_to_pixels."""
    return np.asarray(plotter.screenshot(None, return_img=True))[..., :3]


def _patch(img: np.ndarray, rc, r: int = 2) -> np.ndarray:
    """Median colour of the (2r+1)^2 pixels around (row, col)."""
    row, col = int(rc[0]), int(rc[1])
    assert 0 <= row < img.shape[0] and 0 <= col < img.shape[1], f"pixel {rc} outside {img.shape}"
    return np.median(img[row - r: row + r + 1, col - r: col + r + 1].reshape(-1, 3), axis=0)


def _cmap_position(rgb: np.ndarray, name: str = "viridis") -> float:
    """Where in [0, 1] along the colour map a (shaded) pixel colour lies: the entry of nearest
    direction in RGB space (lighting scales the brightness, not the direction much)."""
    import matplotlib

    lut = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = lut / np.linalg.norm(lut, axis=1, keepdims=True)
    c = np.asarray(rgb, dtype=np.float64)
    return float(np.argmax(lut @ (c / np.linalg.norm(c)))) / 255.0


def _direction_distance(rgb: np.ndarray, color: np.ndarray) -> float:
    a = np.asarray(rgb, dtype=np.float64)
    b = np.asarray(color, dtype=np.float64)
    return float(np.linalg.norm(a / np.linalg.norm(a) - b / np.linalg.norm(b)))


def _png(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _assert_not_blank(img: np.ndarray, *, min_colors: int = 50, min_fraction: float = 0.1) -> None:
    colors = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colors) >= min_colors, f"only {len(colors)} distinct colours"
    drawn = np.any(img < 250, axis=2).mean()  # background is white
    assert drawn >= min_fraction, f"only {drawn:.1%} of the pixels are not background"


# ------------------------------------------------------------------------ lazy import, errors
def test_importing_viz_does_not_import_pyvista():
    code = "import sys, geodesic_nets.viz; print('pyvista' in sys.modules, 'vtk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _no_pyvista(name):
    raise ModuleNotFoundError(f"No module named {name!r}")


@pytest.mark.parametrize("how", ["patched_import", "sys_modules_none"])
def test_missing_pyvista_raises_an_error_naming_the_extra(monkeypatch, plane, how):
    if how == "patched_import":
        monkeypatch.setattr(_backend, "_import_module", _no_pyvista)
    else:
        monkeypatch.setitem(sys.modules, "pyvista", None)  # makes `import pyvista` fail
    with pytest.raises(viz.VizDependencyError) as info:
        viz.plot_scalars(plane, plane.verts[:, 0], screenshot="never.png")
    assert isinstance(info.value, GeodesicNetsError) and isinstance(info.value, ImportError)
    assert "geodesic-nets[viz]" in str(info.value) and "pip install" in str(info.value)
    for fn, args in ((viz.plot_geodesic, (plane,)), (viz.plot_frames, (plane,))):
        with pytest.raises(viz.VizDependencyError):
            fn(*args, **({"source": 0} if fn is viz.plot_geodesic else {}))


def test_bad_values_and_options_are_named(plane):
    with pytest.raises(ValueError, match=rf"V={plane.num_verts} or F={plane.num_faces}"):
        viz.plot_scalars(plane, np.zeros(7))
    with pytest.raises(ValueError, match="window_size"):
        viz.plot_scalars(plane, plane.verts[:, 0], window_size=(0, 10))
    with pytest.raises(ValueError, match=r"\.png"):
        viz.plot_scalars(plane, plane.verts[:, 0], screenshot="picture.jpg")
    with pytest.raises(ValueError, match="view"):
        viz.plot_scalars(plane, plane.verts[:, 0], view="top")
    with pytest.raises(ValueError, match="no faces"):
        viz.plot_scalars(primitives.sphere_point_cloud(50), np.zeros(50), location="faces")
    with pytest.raises(ValueError, match="target vertex 3 maps to 999"):
        viz.check_p2p(np.array([0, 1, 2, 999]), 10, 4)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        viz.check_p2p(np.zeros(3, dtype=int), 10, 4)
    with pytest.raises(ValueError, match="non-negative"):
        viz.plot_error_map(plane, -np.ones(plane.num_verts))
    with pytest.raises(ValueError, match="channels"):
        viz.plot_features(plane, np.zeros((plane.num_verts, 2)), channels=(0, 5))


# ------------------------------------------------------------------------ scalars
def test_scalar_png_has_the_size_and_is_not_blank(pv, plane, tmp_path):
    out = viz.plot_scalars(plane, plane.verts[:, 0], screenshot=tmp_path / "x.png", window_size=SIZE)
    assert out == tmp_path / "x.png" and out.exists()
    img = _png(out)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    _assert_not_blank(img)


def test_scalar_colours_follow_the_values(pv, plane):
    p = viz.plot_scalars(plane, plane.verts[:, 0], view="xy", window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        left, right = viz.world_to_pixels(p, [[-0.45, 0.0, 0.0], [0.45, 0.0, 0.0]])
        assert left[1] < right[1]  # +x is to the right when looking down z
        assert _cmap_position(_patch(img, left)) < 0.2
        assert _cmap_position(_patch(img, right)) > 0.8
    finally:
        p.close()


def test_several_fields_are_linked_views_each_with_its_own_data(pv, plane):
    fields = {"x": plane.verts[:, 0], "minus x": -plane.verts[:, 0]}
    p = viz.plot_scalars(plane, fields, view="xy", window_size=(2 * SIZE[0], SIZE[1]), off_screen=True)
    try:
        img = _render(p)
        assert img.shape[:2] == (SIZE[1], 2 * SIZE[0])
        pts = [[-0.45, 0.0, 0.0], [0.45, 0.0, 0.0]]
        (l0, r0), (l1, r1) = viz.world_to_pixels(p, pts, subplot=(0, 0)), viz.world_to_pixels(p, pts, subplot=(0, 1))
        assert r0[1] < SIZE[0] <= l1[1]  # the second view is the right half
        assert _cmap_position(_patch(img, l0)) < 0.2 < 0.8 < _cmap_position(_patch(img, r0))
        assert _cmap_position(_patch(img, l1)) > 0.8 > 0.2 > _cmap_position(_patch(img, r1))
        cams = [r.camera for r in p.renderers]
        assert cams[0] is cams[1]  # linked
    finally:
        p.close()


def test_face_values_and_point_clouds(pv, plane, tmp_path):
    centroid_x = plane.verts[plane.faces].mean(axis=1)[:, 0]
    p = viz.plot_scalars(plane, centroid_x, view="xy", window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        left, right = viz.world_to_pixels(p, [[-0.45, 0.0, 0.0], [0.45, 0.0, 0.0]])
        assert _cmap_position(_patch(img, left)) < 0.2 and _cmap_position(_patch(img, right)) > 0.8
    finally:
        p.close()
    cloud = primitives.sphere_point_cloud(600)
    p = viz.plot_scalars(cloud, cloud.verts[:, 2], view="xz", point_size=10, window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        top, bottom = viz.world_to_pixels(p, [[0.0, -1.0, 0.8], [0.0, -1.0, -0.8]])
        assert top[0] < bottom[0]
        assert _cmap_position(_patch(img, top, 1)) > _cmap_position(_patch(img, bottom, 1)) + 0.5
    finally:
        p.close()


# ------------------------------------------------------------------------ geodesics
def test_geodesic_low_at_the_source_high_far_away(pv, plane, tmp_path):
    source = int(np.argmin(plane.verts[:, 0] + plane.verts[:, 1]))  # corner (-0.5, -0.5)
    p = viz.plot_geodesic(plane, source=source, view="xy", show_source=False, window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        near, far = viz.world_to_pixels(p, [[-0.46, -0.46, 0.0], [0.46, 0.46, 0.0]])
        assert _cmap_position(_patch(img, near, 1)) < 0.15
        assert _cmap_position(_patch(img, far, 1)) > 0.85
    finally:
        p.close()
    path = viz.plot_geodesic(plane, source=source, screenshot=tmp_path / "g.png", window_size=SIZE)
    _assert_not_blank(_png(path))


def test_isolines_are_drawn(pv, plane):
    d = np.linalg.norm(plane.verts[:, :2] + 0.5, axis=1)
    assert np.allclose(viz.isoline_levels(d, 3), np.linspace(0, d.max(), 5)[1:-1])

    def dark_pixels(n):
        p = viz.plot_geodesic(plane, d, n_isolines=n, isoline_color="black", view="xy", window_size=SIZE,
                              off_screen=True)
        try:
            img = _render(p)
            (r0, c0), (r1, c1) = viz.world_to_pixels(p, [[-0.4, 0.4, 0.0], [0.4, -0.4, 0.0]])
            return int((img[r0:r1, c0:c1].max(axis=2) < 40).sum())
        finally:
            p.close()

    assert dark_pixels(6) > dark_pixels(0) + 50


# ------------------------------------------------------------------------ vectors, frames, transport
def test_frame_coordinates_and_world_vectors_draw_the_same_arrows(pv):
    s = primitives.icosphere(1)
    frames = vertex_frames(s.verts, s.faces)
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(s.num_verts, 2))
    a = viz.plot_vector_field(s, coords, scale=0.2, window_size=SIZE, off_screen=True)
    b = viz.plot_vector_field(s, frames.to_world(coords), scale=0.2, window_size=SIZE, off_screen=True)
    c = viz.plot_vector_field(s, coords[:, ::-1], scale=0.2, window_size=SIZE, off_screen=True)
    try:
        ia, ib, ic = _render(a), _render(b), _render(c)
    finally:
        for p in (a, b, c):
            p.close()
    assert np.abs(ia.astype(int) - ib.astype(int)).max() <= 2
    assert np.abs(ia.astype(int) - ic.astype(int)).mean() > 1.0  # other vectors, other picture


def test_vector_arrows_show_where_the_field_is_nonzero(pv, plane):
    field = np.zeros((plane.num_verts, 2))
    right = plane.verts[:, 0] > 0.1
    field[right] = (1.0, 0.0)
    p = viz.plot_vector_field(plane, field, color="black", view="xy", window_size=(240, 180), off_screen=True)
    try:
        img = _render(p)
        (r0, c0), (r1, c1) = viz.world_to_pixels(p, [[-0.45, 0.45, 0.0], [0.45, -0.45, 0.0]])
        mid = (c0 + c1) // 2
        dark = img.max(axis=2) < 100  # the surface is light grey, the arrows black
        assert dark[r0:r1, mid + 5: c1].sum() > 15
        assert dark[r0:r1, c0: mid - 5].sum() == 0
    finally:
        p.close()


def _color_pixels(img: np.ndarray, channel: int) -> int:
    c = img.astype(int)
    others = [k for k in range(3) if k != channel]
    return int(((c[..., channel] > 120) & (c[..., channel] > c[..., others].max(axis=-1) + 60)).sum())


def test_frames_draw_x_red_y_green_and_normals_blue_on_request(pv):
    s = primitives.icosphere(1)
    counts = {}
    for normals in (False, True):
        p = viz.plot_frames(s, show_normals=normals, window_size=SIZE, off_screen=True)
        try:
            img = _render(p)
        finally:
            p.close()
        counts[normals] = [_color_pixels(img, ch) for ch in range(3)]
    assert counts[False][0] > 20 and counts[False][1] > 20
    assert counts[False][2] < 5 < 20 < counts[True][2]


def test_transport_on_a_plane_keeps_the_world_direction(plane):
    frames = vertex_frames(plane.verts, plane.faces)
    conn = levi_civita_connection(plane.verts, plane.faces, frames)
    n = 13  # grid vertices per side, index = i * n + j for x_i, y_j
    path = [0, 1, 2, n + 2, 2 * n + 2, 2 * n + 3, n + 3]
    coords = viz.transported_coords(conn, path, np.array([0.3, -0.7]))
    world = coords[:, :1] * frames.basis_x[path] + coords[:, 1:] * frames.basis_y[path]
    assert np.allclose(world, world[0], atol=1e-12)
    assert not np.allclose(coords, coords[0])  # the frames differ, the vector does not


def test_transport_around_a_loop_turns_by_the_holonomy(pv, tmp_path):
    globe = primitives.uv_sphere(12, 16)
    loop = [1 + 2 * 16 + k for k in range(16)] + [1 + 2 * 16]
    frames = vertex_frames(globe.verts, globe.faces)
    conn = levi_civita_connection(globe.verts, globe.faces, frames)
    coords = viz.transported_coords(conn, loop, np.array([1.0, 0.0]))
    turn = np.arctan2(coords[-1, 1], coords[-1, 0]) - np.arctan2(coords[0, 1], coords[0, 0])
    assert np.isclose(np.angle(np.exp(1j * turn)), holonomy(conn, loop), atol=1e-9)
    theta = np.pi * 3 / 12
    assert np.isclose(holonomy(conn, loop), 2 * np.pi * (1 - np.cos(theta)), atol=0.05)
    out = viz.plot_transport(globe, loop, [1.0, 0.0], screenshot=tmp_path / "t.png", window_size=SIZE)
    img = _png(out)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    _assert_not_blank(img, min_colors=30)
    with pytest.raises(GeometryError, match="not joined by an edge"):
        viz.plot_transport(globe, [0, globe.num_verts - 1], [1.0, 0.0], off_screen=True)


# ------------------------------------------------------------------------ correspondence
def test_pattern_colours():
    s = primitives.plane_grid(8)
    xyz = viz.pattern_colors(s, "xyz")
    assert xyz.shape == (s.num_verts, 3) and xyz.min() >= 0 and xyz.max() <= 1
    assert np.allclose(xyz[:, 0], s.verts[:, 0] + 0.5) and np.allclose(xyz[:, 1], s.verts[:, 1] + 0.5)
    checker = viz.pattern_colors(s, "checker", n_checks=2)  # 2 x 2 cells, the far sides included
    quadrant = (s.verts[:, 0] > 1e-9).astype(int) + (s.verts[:, 1] > 1e-9)
    inner = np.all(np.abs(s.verts[:, :2]) > 1e-9, axis=1)
    colors = np.unique(checker, axis=0)
    assert len(colors) == 2
    same = np.all(checker[inner][:, None] == checker[inner][None], axis=2)
    assert np.array_equal(same, (quadrant[inner][:, None] % 2) == (quadrant[inner][None] % 2))


def test_correspondence_transfers_colours_through_the_map(pv, plane):
    mirror = np.array([np.argmin(np.linalg.norm(plane.verts - v * [-1, 1, 1], axis=1)) for v in plane.verts])
    p = viz.plot_correspondence(plane, plane, mirror, view="xy", window_size=(2 * SIZE[0], SIZE[1]), off_screen=True)
    try:
        img = _render(p)
        pts = [[-0.4, 0.1, 0.0], [0.4, 0.1, 0.0]]
        (sl, sr), (tl, tr) = viz.world_to_pixels(p, pts, subplot=(0, 0)), viz.world_to_pixels(p, pts, subplot=(0, 1))
        src_l, src_r, tgt_l, tgt_r = (_patch(img, x) for x in (sl, sr, tl, tr))
        assert np.abs(src_l - src_r).max() > 60  # the xyz pattern varies with x (red)
        assert np.abs(tgt_l - src_r).max() <= 12 and np.abs(tgt_r - src_l).max() <= 12
    finally:
        p.close()


def test_error_map_png_and_colours(pv, plane, tmp_path):
    err = np.linalg.norm(plane.verts, axis=1)
    out = viz.plot_error_map(plane, err, view="xy", screenshot=tmp_path / "e.png", window_size=SIZE)
    img = _png(out)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    _assert_not_blank(img)
    p = viz.plot_error_map(plane, err, view="xy", title=None, window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        centre, corner = viz.world_to_pixels(p, [[0.0, 0.0, 0.0], [0.46, 0.46, 0.0]])
        assert _cmap_position(_patch(img, centre, 1), "inferno") < 0.2
        assert _cmap_position(_patch(img, corner, 1), "inferno") > 0.8
    finally:
        p.close()


# ------------------------------------------------------------------------ labels, features
def test_label_colours_are_stable_and_distinct():
    c = viz.label_colors(40)
    assert c.shape == (40, 3) and c.min() >= 0 and c.max() <= 1
    assert np.array_equal(viz.label_colors(3), c[:3])
    d = np.linalg.norm(c[:, None] - c[None], axis=2) + np.eye(40)
    assert d.min() > 0.05


@pytest.mark.parametrize("per", ["vertices", "faces"])
def test_two_label_regions_get_the_two_legend_colours(pv, plane, per):
    x = plane.verts[:, 0] if per == "vertices" else plane.verts[plane.faces].mean(axis=1)[:, 0]
    labels = (x > 0).astype(int)
    p = viz.plot_labels(plane, labels, names=["left", "right"], view="xy", window_size=(240, 180), off_screen=True)
    try:
        img = _render(p)
        left, right = viz.world_to_pixels(p, [[-0.35, 0.0, 0.0], [0.35, 0.0, 0.0]])
        palette = viz.label_colors(2)
        cl, cr = _patch(img, left), _patch(img, right)
        assert _direction_distance(cl, palette[0]) < 0.15 < _direction_distance(cl, palette[1])
        assert _direction_distance(cr, palette[1]) < 0.15 < _direction_distance(cr, palette[0])
        legend = p.legend
        assert [legend.GetEntryString(i) for i in range(legend.GetNumberOfEntries())] == ["left", "right"]
        assert np.allclose([legend.GetEntryColor(i) for i in range(2)], palette, atol=1 / 255)
    finally:
        p.close()


def test_unlabeled_and_several_label_fields(pv, plane, tmp_path):
    labels = (plane.verts[:, 0] > 0).astype(int)
    pred = np.where(plane.verts[:, 1] > 0.2, -1, labels)
    out = viz.plot_labels(plane, {"truth": labels, "prediction": pred}, screenshot=tmp_path / "l.png",
                          window_size=(2 * SIZE[0], SIZE[1]))
    img = _png(out)
    assert img.shape == (SIZE[1], 2 * SIZE[0], 3)
    _assert_not_blank(img, min_colors=20)


def test_features_to_rgb_follows_the_main_direction(rng):
    x = np.linspace(-1, 1, 200)
    feats = np.stack([3 * x, -2 * x, 0.1 * rng.normal(size=200), 0.05 * rng.normal(size=200)], axis=1)
    rgb = viz.features_to_rgb(feats)
    assert rgb.shape == (200, 3) and rgb.min() >= 0 and rgb.max() <= 1
    # The sign of a component is fixed: its largest loading (channel 0 here) is positive.
    for f in (feats, -feats):
        assert np.corrcoef(viz.features_to_rgb(f)[:, 0], f[:, 0])[0, 1] > 0.99
    perm = rng.permutation(200)
    assert np.allclose(viz.features_to_rgb(feats[perm]), rgb[perm])
    assert np.allclose(viz.features_to_rgb(feats[:, :1])[:, 1:], 0.5)  # rank 1: the rest is grey


def test_features_to_rgb_with_a_shared_basis_gives_equal_features_equal_colours(rng):
    """Shape b holds a part of shape a's features: coloured with a's basis, they match a's colours."""
    x = np.linspace(-1, 1, 300)
    feats_a = np.stack([x, x**2, 0.3 * rng.normal(size=300)], axis=1)
    part = np.arange(0, 120)  # one end of the range only
    feats_b = feats_a[part]
    rgb_a = viz.features_to_rgb(feats_a)
    np.testing.assert_allclose(viz.features_to_rgb(feats_a, basis=feats_a), rgb_a)
    np.testing.assert_allclose(viz.features_to_rgb(feats_b, basis=feats_a), rgb_a[part], atol=1e-12)
    # Fitted to b alone, its colours stretch over the whole range: they differ from a's.
    assert np.abs(viz.features_to_rgb(feats_b) - rgb_a[part]).max() > 0.3
    with pytest.raises(ValueError, match="channels"):
        viz.features_to_rgb(feats_b, basis=feats_a[:, :2])


def test_plot_features_pca_and_channels(pv, plane, tmp_path):
    feats = np.stack([plane.verts[:, 0], plane.verts[:, 1], plane.verts[:, 0] * plane.verts[:, 1]], axis=1)
    out = viz.plot_features(plane, feats, channels="pca", screenshot=tmp_path / "pca.png", window_size=SIZE)
    _assert_not_blank(_png(out))
    # A basis fitted to twice the features halves the colour contrast: another picture.
    wide = viz.plot_features(plane, feats, channels="pca", pca_basis=2 * feats, screenshot=tmp_path / "wide.png",
                             window_size=SIZE)
    assert np.abs(_png(wide).astype(int) - _png(out).astype(int)).max() > 40
    p = viz.plot_features(plane, feats, channels=(1,), view="xy", window_size=SIZE, off_screen=True)
    try:
        img = _render(p)
        low, high = viz.world_to_pixels(p, [[0.0, -0.45, 0.0], [0.0, 0.45, 0.0]])
        assert _cmap_position(_patch(img, low)) < 0.2 and _cmap_position(_patch(img, high)) > 0.8
    finally:
        p.close()
