"""Fuzz the whole ingestion-to-geometry pipeline with mutated and degenerate files, crash-isolated.

Usage (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/fuzz.py --cases 10000 --seed 0 [--source FILE ...] \\
        [--timeout 60] [--memory-mb 4000] [--json benchmarks/results/fuzz.json]

Every case is one file, written to a scratch folder: a generated mesh or point cloud (or a
``--source`` file of the user's) in one of the package's formats, mutated one way (truncated,
bytes flipped, NaN/inf or extreme coordinates, face indices out of range, wrong arity, a huge
header count, garbage lines, CRLF line ends, a wrong extension, a unicode file name) or built
degenerate (collapsed, collinear, duplicated, non-manifold, tiny point clouds). Each goes through
``load -> inspect -> normalize -> compute_operators`` (computed, then read back from a disk
cache) ``-> HeatGeodesicSolver.distance``. Cases run in a worker subprocess with an address-space
cap; a case that kills the worker is a crash, one that runs past ``--timeout`` a hang, and the
worker is restarted for the rest.

Outcomes: ``ok`` (finite results), ``error`` (a ``GeodesicNetsError``: the package said what is
wrong), and the failures: ``foreign`` (any other exception), ``nonfinite`` (NaN or inf in a
result), ``crash``, ``hang``. The table counts them per mutation; ``--json`` keeps every failure
with its file (copied next to the JSON) and message. Exit status 1 when any failure occurred.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

FAILURES = ("foreign", "nonfinite", "crash", "hang")
MUTATIONS = ("clean", "truncate", "flip_bytes", "nan_coordinate", "inf_coordinate", "extreme_scale",
             "extreme_offset", "bad_index", "wrong_arity", "huge_count", "garbage_lines", "crlf", "wrong_extension",
             "unicode_name", "collapsed", "collinear", "duplicate_vertices", "non_manifold", "tiny_cloud",
             "identical_cloud", "empty_file")
#: the mutations that build a degenerate shape (the others mutate the file's bytes or name)
SHAPE_MUTATIONS = ("collapsed", "collinear", "duplicate_vertices", "non_manifold", "tiny_cloud", "identical_cloud",
                   "extreme_scale", "extreme_offset")
FORMATS = ("obj", "off", "ply", "ply_ascii", "stl", "xyz", "npy", "glb")


# ---------------------------------------------------------------------------- case generation
def _base_shapes(rng: np.random.Generator):
    from geodesic_nets import primitives

    shapes = [primitives.icosphere(1), primitives.torus(10, 6), primitives.bumpy_sphere(1, seed=int(rng.integers(100))),
              primitives.plane_grid(5, jitter=0.2), primitives.sphere_point_cloud(60)]
    return shapes


def _write(surface, stem: Path, fmt: str) -> Path:
    """Save ``surface`` as ``stem.fmt`` (a point cloud as .xyz or .npy, a mesh never so)."""
    from geodesic_nets.io import save

    if surface.faces is None and fmt not in ("xyz", "npy", "ply", "ply_ascii"):
        fmt = "xyz"
    if surface.faces is not None and fmt in ("xyz", "npy"):
        fmt = "off"
    if fmt == "glb":  # written by trimesh: the package reads glTF but does not write it
        import warnings

        path = stem.parent / f"{stem.name}.glb"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # float32 overflow of the extreme-scale cases: wanted
            path.write_bytes(surface.to_trimesh().export(file_type="glb"))
        return path
    if fmt == "ply_ascii":
        return save(surface, stem.parent / f"{stem.name}.ply", ply_encoding="ascii")
    return save(surface, stem.parent / f"{stem.name}.{fmt}")


def _degenerate(s, kind: str, rng: np.random.Generator):
    """The shape ``s`` made degenerate as ``kind`` says (``s`` itself for the file-level mutations)."""
    from geodesic_nets import Surface

    if kind == "collapsed" and s.faces is not None:
        return Surface(np.repeat(s.verts[:1], s.num_verts, axis=0), s.faces)
    if kind == "collinear":
        t = np.linspace(0, 1, s.num_verts)[:, None]
        return Surface(t * np.array([1.0, 2.0, 3.0]), s.faces)
    if kind == "duplicate_vertices":
        return Surface(np.vstack([s.verts, s.verts]), s.faces)
    if kind == "non_manifold" and s.faces is not None:
        extra = np.array([[s.faces[0, 0], s.faces[0, 1], int(rng.integers(s.num_verts))]])
        return Surface(s.verts, np.vstack([s.faces, extra, extra]))
    if kind == "tiny_cloud":
        return Surface(rng.random((int(rng.integers(1, 6)), 3)), None)
    if kind == "identical_cloud":
        return Surface(np.ones((int(rng.integers(2, 50)), 3)), None)
    if kind == "extreme_scale":
        return Surface(s.verts * float(rng.choice([1e-150, 1e-30, 1e30, 1e150])), s.faces)
    if kind == "extreme_offset":
        return Surface(s.verts + float(rng.choice([1e8, 1e12, -1e15])), s.faces)
    return s


def _text_mutation(blob: bytes, kind: str, rng: np.random.Generator) -> bytes:
    lines = blob.split(b"\n")
    numeric = [i for i, ln in enumerate(lines) if ln[:1].isdigit() or ln[:1] in (b"-", b"v", b" ")]
    i = int(rng.choice(numeric)) if numeric else 0
    words = lines[i].split()
    if kind in ("nan_coordinate", "inf_coordinate") and words:
        words[-1] = b"nan" if kind == "nan_coordinate" else b"-inf"
        lines[i] = b" ".join(words)
    elif kind == "bad_index":
        face_lines = [j for j, ln in enumerate(lines) if ln.startswith((b"f ", b"3 "))]
        if face_lines:
            j = int(rng.choice(face_lines))
            w = lines[j].split()
            w[-1] = str(int(rng.choice([-(10**6), 10**9, 0]))).encode()
            lines[j] = b" ".join(w)
    elif kind == "wrong_arity" and words:
        lines[i] = b" ".join(words[: max(1, len(words) - int(rng.integers(1, 3)))])
    elif kind == "huge_count":
        for j, ln in enumerate(lines[:20]):
            if ln.startswith(b"element vertex") or (j == 1 and ln[:1].isdigit()):
                w = ln.split()
                w[-1 if ln.startswith(b"element") else 0] = str(int(rng.choice([2**31 - 1, 10**12, -5]))).encode()
                lines[j] = b" ".join(w)
                break
    elif kind == "garbage_lines":
        for _ in range(int(rng.integers(1, 4))):
            lines.insert(int(rng.integers(0, len(lines) + 1)), bytes(rng.integers(32, 127, size=12).astype(np.uint8)))
    return b"\n".join(lines)


def make_case(index: int, seed: int, folder: Path, sources: list[Path]) -> tuple[Path, str]:
    """Write case ``index`` of run ``seed`` into ``folder``; returns its path and mutation name."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow warnings of the extreme-scale cases: wanted
        return _make_case(index, seed, folder, sources)


def _make_case(index: int, seed: int, folder: Path, sources: list[Path]) -> tuple[Path, str]:
    rng = np.random.default_rng([seed, index])
    kind = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    fmt = FORMATS[int(rng.integers(len(FORMATS)))]
    stem = f"case_{index:05d}"
    if kind == "unicode_name":
        stem += "_ñåmé_形状"
    for stale in folder.glob(f"case_{index:05d}*"):
        stale.unlink()
    if sources and rng.random() < 0.3:
        src = sources[int(rng.integers(len(sources)))]
        blob = src.read_bytes()
        path = folder / f"{stem}{src.suffix}"
        if kind in SHAPE_MUTATIONS:  # those build shapes; a user's file goes through as it is
            kind = "clean"
    else:
        shapes = _base_shapes(rng)
        path = _write(_degenerate(shapes[int(rng.integers(len(shapes)))], kind, rng), folder / stem, fmt)
        blob = path.read_bytes()
        path.unlink()
    if kind == "truncate":
        blob = blob[: int(rng.integers(0, max(len(blob), 1)))]
    elif kind == "flip_bytes":
        b = bytearray(blob)
        for _ in range(int(rng.integers(1, 8))):
            if b:
                b[int(rng.integers(len(b)))] = int(rng.integers(256))
        blob = bytes(b)
    elif kind == "crlf":
        blob = blob.replace(b"\n", b"\r\n")
    elif kind == "empty_file":
        blob = b""
    elif kind in ("nan_coordinate", "inf_coordinate", "bad_index", "wrong_arity", "huge_count", "garbage_lines"):
        binary = (blob[:80].startswith(b"binary") or b"binary_little_endian" in blob[:300]
                  or path.suffix in (".stl", ".npy", ".glb"))
        if binary:
            if kind == "huge_count" and path.suffix == ".stl" and len(blob) > 84:
                blob = blob[:80] + struct.pack("<I", 0xFFFFFFFF) + blob[84:]
            elif kind in ("wrong_arity", "bad_index") and len(blob) > 16:  # the face / index region
                b = bytearray(blob)
                pos = int(rng.integers(int(0.7 * len(b)), len(b)))
                b[pos] = int(rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF]))
                blob = bytes(b)
            else:
                b = bytearray(blob)
                pos = int(rng.integers(max(len(b) - 12, 1)))
                b[pos:pos + 4] = struct.pack("<f", float("nan") if kind == "nan_coordinate" else 3.4e38)
                blob = bytes(b)
        else:
            blob = _text_mutation(blob, kind, rng)
    if kind == "wrong_extension":
        path = path.with_suffix(".ply" if path.suffix != ".ply" else ".obj")
    path.write_bytes(blob)
    return path, kind


# ---------------------------------------------------------------------------- one case, in the worker
def run_case(path: Path, cache_dir: Path) -> tuple[str, str]:
    """(outcome, message) of the pipeline on one file (called inside the worker)."""
    from geodesic_nets import GeodesicNetsError, compute_operators
    from geodesic_nets.geometry import HeatGeodesicSolver
    from geodesic_nets.io import inspect, load, normalize

    try:
        surface = load(path)
        inspect(surface)
        surface = normalize(surface, center="auto", scale="auto").surface  # the datasets' normalization
        ops = compute_operators(surface, k_eig=min(8, max(surface.num_verts - 1, 1)), cache=cache_dir)
        again = compute_operators(surface, k_eig=min(8, max(surface.num_verts - 1, 1)), cache=cache_dir)
        arrays = [ops.evals, ops.evecs, ops.mass, ops.laplacian.data, again.evecs]
        if not all(np.isfinite(np.asarray(a)).all() for a in arrays):
            return "nonfinite", "non-finite operator entries"
        d = HeatGeodesicSolver(surface.verts, surface.faces).distance(0)
        if np.isnan(d).any():
            return "nonfinite", "NaN geodesic distances"
        return "ok", ""
    except GeodesicNetsError as exc:
        return "error", str(exc)[:300]
    except MemoryError as exc:
        return "foreign", f"MemoryError: {exc}"[:300]
    except Exception as exc:  # noqa: BLE001 - the point is to catch what is not ours
        return "foreign", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300]


def _worker(memory_mb: int, cache_dir: str) -> None:
    """Read case paths from stdin, one a line; write ``outcome\\tmessage`` for each."""
    import logging
    import resource

    logging.disable(logging.CRITICAL)
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import geodesic_nets  # noqa: F401 - imported once, before the first case

    print("ready", flush=True)
    for line in sys.stdin:
        path = Path(line.rstrip("\n"))
        if path.name == "__abort__":  # self-test of the harness: die like a C++ assert
            os.abort()
        if path.name == "__sleep__":  # self-test of the harness: never answer
            time.sleep(3600)
        outcome, message = run_case(path, Path(cache_dir))
        print(f"{outcome}\t{message.replace(chr(10), ' ').replace(chr(9), ' ')}", flush=True)


class Worker:
    """A worker subprocess; restarted after a crash or a hang."""

    def __init__(self, memory_mb: int, cache_dir: Path) -> None:
        self.memory_mb, self.cache_dir, self.proc = memory_mb, cache_dir, None

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(self.memory_mb), str(self.cache_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     bufsize=1)
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, path: Path, timeout: float) -> tuple[str, str]:
        import select

        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return "hang", f"no result after {timeout:.0f} s"
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return "crash", f"worker died (exit status {code})"
        outcome, _, message = line.rstrip("\n").partition("\t")
        return outcome, message

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def fuzz(cases: int, seed: int, *, sources: list[Path] | None = None, timeout: float = 60.0, memory_mb: int = 4000,
         keep: Path | None = None) -> dict:
    """Run ``cases`` cases; returns ``{"counts": {mutation: {outcome: n}}, "failures": [...], ...}``."""
    work = Path(tempfile.mkdtemp(prefix="geodesic_nets_fuzz_"))
    worker = Worker(memory_mb, work / "cache")
    counts: dict[str, Counter] = defaultdict(Counter)
    failures = []
    t0 = time.perf_counter()
    try:
        for i in range(cases):
            path, kind = make_case(i, seed, work, list(sources or []))
            outcome, message = worker.run(path, timeout)
            counts[kind][outcome] += 1
            if outcome in FAILURES:
                entry = {"case": i, "mutation": kind, "outcome": outcome, "message": message, "file": path.name}
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, keep / path.name)
                failures.append(entry)
    finally:
        worker.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"cases": cases, "seed": seed, "seconds": time.perf_counter() - t0,
            "counts": {k: dict(v) for k, v in sorted(counts.items())}, "failures": failures}


def _table(result: dict) -> str:
    cols = ("ok", "error", *FAILURES)
    rows = [f"{'mutation':>20} " + " ".join(f"{c:>9}" for c in cols)]
    total = Counter()
    for kind, c in result["counts"].items():
        total.update(c)
        rows.append(f"{kind:>20} " + " ".join(f"{c.get(col, 0):>9}" for col in cols))
    rows.append(f"{'all':>20} " + " ".join(f"{total.get(col, 0):>9}" for col in cols))
    return "\n".join(rows)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _worker(int(argv[1]), argv[2])
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source", action="append", default=[], help="a mesh file of yours to mutate too; repeatable")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it counts as a hang")
    p.add_argument("--memory-mb", type=int, default=4000, help="address-space cap of the worker (0: none)")
    p.add_argument("--json", help="write the counts and every failure here (failing files copied beside it)")
    args = p.parse_args(argv)
    keep = Path(args.json).with_suffix("") if args.json else None
    result = fuzz(args.cases, args.seed, sources=[Path(s) for s in args.source], timeout=args.timeout,
                  memory_mb=args.memory_mb, keep=keep)
    print(_table(result))
    for f in result["failures"][:20]:
        print(f"case {f['case']} ({f['mutation']}, {f['file']}): {f['outcome']}: {f['message']}")
    print(f"{args.cases} cases in {result['seconds']:.0f} s, {len(result['failures'])} failures")
    if args.json:
        from geodesic_nets.tasks.records import environment_record

        command = " ".join(["python", "benchmarks/fuzz.py", *argv])
        Path(args.json).write_text(json.dumps({**result, "command": command, "environment": environment_record()},
                                              indent=2))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
