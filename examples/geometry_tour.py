"""A tour of the geometry of geodesic_nets, as pictures.

Generates meshes with :mod:`geodesic_nets.primitives` (no data files) and writes PNGs:

* ``eigenfunctions.png``  the first non-constant Laplace-Beltrami eigenfunctions of a blob
* ``hks.png``             the heat kernel signature at three diffusion times
* ``geodesic.png``        heat-method geodesic distance from a vertex of a torus, with isolines
* ``frames.png``          the vertex frames (gauges): x red, y green, normal blue
* ``tangent_field.png``   the smoothest tangent vector field of a torus (connection Laplacian)
* ``transport.png``       parallel transport around a circle of latitude, and its holonomy
* ``curvature.png``       Gaussian and mean curvature of the torus
* ``labels.png``          a segmentation drawn with categorical colours and a legend
* ``correspondence.png``  colour transfer through a slightly twisted sphere-to-blob map
* ``error_map.png``       the geodesic error of that map
* ``features.png``        the wave kernel signature (16 channels) as RGB by PCA
* ``anisotropic_kernels.png`` anisotropic heat kernels from one vertex of the torus, turned from
  the maximum curvature direction by 0, 45 and 90 degrees (the spectral ACNN's patch weights)

Run ``python examples/geometry_tour.py --out DIR``; it renders off screen when there is no
display. It needs the ``[viz]`` extra (pyvista).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from geodesic_nets import compute_operators, primitives, viz
from geodesic_nets.geometry import (
    anisotropic_heat_kernels,
    connection_laplacian,
    gaussian_curvature,
    hks,
    hks_times,
    levi_civita_connection,
    mean_curvature,
    vertex_areas,
    vertex_frames,
    wks,
)

log = logging.getLogger("geometry_tour")


def smoothest_field(surface) -> np.ndarray:
    """The eigenvector of the smallest eigenvalue of the connection Laplacian, as (V, 2) frame
    coordinates: the smoothest unit-mass tangent vector field of the surface."""
    frames = vertex_frames(surface.verts, surface.faces)
    conn = levi_civita_connection(surface.verts, surface.faces, frames)
    lap = connection_laplacian(surface.verts, surface.faces, conn)
    mass = sp.diags(vertex_areas(surface.verts, surface.faces)).astype(np.complex128)
    _, vecs = sla.eigsh(lap.tocsc(), k=1, M=mass.tocsc(), sigma=-1e-6)
    z = vecs[:, 0] * np.exp(-1j * np.angle(vecs[0, 0]))  # fix the arbitrary global phase
    return np.stack([z.real, z.imag], axis=1)


def anisotropic_kernel_fields(surface, vertex: int, *, k_eig: int, anisotropy: float = 10.0,
                              time: float = 4.0) -> dict[str, np.ndarray]:
    """Heat kernels ``h(vertex, .)`` on the whole surface of the anisotropic Laplacians turned by
    0, 45 and 90 degrees from the maximum curvature direction: {title: (V,) values}."""
    verts, faces = surface.verts, surface.faces
    every = np.arange(surface.num_verts)
    h = anisotropic_heat_kernels(verts, faces, vertex_areas(verts, faces), np.full_like(every, vertex), every,
                                 n_orientations=4, anisotropy=(anisotropy,), times=(time,), k_eig=k_eig)
    return {f"{deg} deg from max curvature": h[:, j] for j, deg in enumerate((0, 45, 90))}


def latitude_loop(n_lat: int, n_lon: int, ring: int) -> list[int]:
    """Vertex indices of ring ``ring`` of :func:`primitives.uv_sphere` (closed: first repeated)."""
    idx = 1 + ring * n_lon + np.arange(n_lon)
    return [int(i) for i in idx] + [int(idx[0])]


def twisted_map(source, target, twist: float) -> np.ndarray:
    """A deliberately imperfect map target -> source: twist the target's directions about z
    by ``twist * z`` radians and take the nearest source vertex (unit-sphere directions)."""
    from scipy.spatial import cKDTree

    d = target.verts / np.linalg.norm(target.verts, axis=1, keepdims=True)
    a = twist * d[:, 2]
    c, s = np.cos(a), np.sin(a)
    twisted = np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)
    src = source.verts / np.linalg.norm(source.verts, axis=1, keepdims=True)
    return cKDTree(src).query(twisted)[1].astype(np.int64)


def run(out: Path, *, size: tuple[int, int] = (640, 480), quick: bool = False) -> list[Path]:
    """Write every picture of the tour into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    w, h = size
    level = 3 if quick else 4
    blob = primitives.bumpy_sphere(level, amplitude=0.2, seed=3)
    ring_torus = primitives.torus(32, 16) if quick else primitives.torus(64, 32)
    n_lat, n_lon = 16, 24
    globe = primitives.uv_sphere(n_lat, n_lon)
    written: list[Path] = []

    def step(name: str) -> Path:
        path = out / name
        written.append(path)
        log.info("writing %s", path)
        return path

    ops = compute_operators(blob, k_eig=32)
    # Eigenfunctions 1..4 (0 is constant), signed: a diverging map with a symmetric range.
    eig = {f"eigenfunction {k}": ops.evecs[:, k] for k in range(1, 5)}
    viz.plot_scalars(blob, eig, cmap="coolwarm", clim="symmetric", columns=2,
                     window_size=(w, int(h * 1.2)), screenshot=step("eigenfunctions.png"))
    # HKS at three diffusion times: local curvature at small t, global position at large t.
    times = hks_times(ops.evals, 5)[:3]
    h_all = hks(ops.evals, ops.evecs, times)
    viz.plot_scalars(blob, {f"HKS t={t:.2g}": h_all[:, j] for j, t in enumerate(times)}, cmap="magma",
                     window_size=(int(w * 1.25), int(h * 0.6)), screenshot=step("hks.png"))
    # Geodesic distance from one vertex of a torus, with isolines.
    viz.plot_geodesic(ring_torus, source=0, n_isolines=12, title="geodesic distance (heat method)",
                      window_size=(w, h), screenshot=step("geodesic.png"))
    # Frames (gauges) of a coarse sphere.
    viz.plot_frames(primitives.icosphere(1 if quick else 2), show_normals=True,
                    title="vertex frames: x red, y green, normal blue", window_size=(w, h),
                    screenshot=step("frames.png"))
    # The smoothest tangent field of the torus (smallest eigenvector of the connection Laplacian).
    field = smoothest_field(ring_torus)
    viz.plot_vector_field(ring_torus, field, n_arrows=150 if quick else 450,
                          scalars={"norm": np.linalg.norm(field, axis=1)}, cmap="Blues",
                          title="smoothest tangent field", window_size=(w, h), screenshot=step("tangent_field.png"))
    # Parallel transport around a circle of latitude: the vector comes back rotated by the
    # enclosed curvature (2 pi (1 - cos theta) on the unit sphere).
    ring = n_lat // 4 - 1  # 45 degrees from the north pole
    loop = latitude_loop(n_lat, n_lon, ring)
    theta = np.pi * (ring + 1) / n_lat
    viz.plot_transport(globe, loop, np.array([1.0, 0.0]), scale=0.22, line_width=4.0,
                       title=f"expected {np.degrees(2 * np.pi * (1 - np.cos(theta))):.1f} deg",
                       window_size=(w, h), screenshot=step("transport.png"))
    # Curvatures of the torus: Gaussian negative on the inner half, positive on the outer.
    curv = {"Gaussian curvature": gaussian_curvature(ring_torus.verts, ring_torus.faces),
            "mean curvature": mean_curvature(ring_torus.verts, ring_torus.faces)}
    viz.plot_scalars(ring_torus, curv, cmap="coolwarm", clim="symmetric",
                     window_size=(w, int(h * 0.7)), screenshot=step("curvature.png"))
    # Labels: four regions from the signs of the first two eigenfunctions.
    labels = 2 * (ops.evecs[:, 1] > 0) + (ops.evecs[:, 2] > 0)
    viz.plot_labels(blob, labels, names=["--", "-+", "+-", "++"], title="sign(phi1) sign(phi2)",
                    window_size=(w, h), screenshot=step("labels.png"))
    # Correspondence: a sphere and the blob share their vertex order, so the true map is the
    # identity; a twisted map shows its errors as shifted colours and on the error map.
    sphere = primitives.icosphere(level)
    p2p = twisted_map(sphere, blob, 0.5)
    viz.plot_correspondence(sphere, blob, p2p, pattern="checker", n_checks=5,
                            titles=("source: sphere", "target: blob, twisted map"),
                            window_size=(w, int(h * 0.6)), screenshot=step("correspondence.png"))
    unit = sphere.verts / np.linalg.norm(sphere.verts, axis=1, keepdims=True)
    error = np.arccos(np.clip(np.einsum("ij,ij->i", unit[p2p], unit), -1.0, 1.0))  # on the unit sphere
    viz.plot_error_map(blob, error, title="geodesic error (on the source sphere)", window_size=(w, h),
                       screenshot=step("error_map.png"))
    # A 16-channel descriptor as RGB (what a network's features look like with plot_features).
    viz.plot_features(blob, wks(ops.evals, ops.evecs, n_energies=16), channels="pca",
                      title="WKS (16 channels), PCA to RGB", window_size=(w, h), screenshot=step("features.png"))
    # Anisotropic heat kernels from a vertex on the torus' outer equator: elongated around the
    # tube (the maximum curvature direction) at 0 degrees, along the ring at 90.
    outer = int(np.argmax(ring_torus.verts[:, 0]))  # on the outer equator, facing +x
    kernels = anisotropic_kernel_fields(ring_torus, outer, k_eig=64 if quick else 160)
    viz.plot_scalars(ring_torus, kernels, cmap="inferno", view="yz", zoom=1.6,
                     window_size=(int(w * 1.25), int(h * 0.6)), screenshot=step("anisotropic_kernels.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("geometry_tour_out"), help="output directory")
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"),
                        help="size of a single-view picture in pixels")
    parser.add_argument("--quick", action="store_true", help="coarser meshes (seconds)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    paths = run(args.out, size=tuple(args.size), quick=args.quick)
    log.info("wrote %d pictures to %s in %.1f s", len(paths), args.out, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
