#!/usr/bin/env bash
# Short GPU check (issue 12, item 6): under 8 minutes on one H100, from the repository root.
#
#   bash benchmarks/gpu_check.sh
#
# Steps, each under `timeout` with its own budget (seconds) and all under one overall deadline
# (GPU_CHECK_BUDGET, default 440 s), each step's failure reported while the following ones still run:
#   info       15   nvidia-smi, python, torch and CUDA versions, the device name
#   tests      60   the CUDA-marked tests: python -m pytest -q -p no:cacheprovider -m cuda tests
#   diffusion 100   benchmarks/layers_diffusion.py --device cuda --sizes 5000 20000 100000 --batch --repeats 3
#   gauge      50   benchmarks/layers_gauge.py     --device cuda --sizes 5000 20000 100000 --batch '' --repeats 3
#   patch      90   benchmarks/layers_patch.py     --device cuda --sizes 5000 20000 100000 --batch 0 --repeats 3
#                   --models monet gcnn acnn pyg_gmm
#   faust_r   120   one FAUST_r training epoch on the GPU (run_experiments.py faust_r_supervised --epochs 1;
#                   the training device is "auto"), when ../shared/data/faust_r, shared/data/faust_r or
#                   $GEODESIC_NETS_DATA/faust_r exists; skipped otherwise
# Without CUDA (torch.cuda.is_available() false) it says so after the info step and exits 0.
#
# Everything goes to benchmarks/results/gpu/<UTC date and time>_<device name slug>/: one log per
# step, the benchmarks' JSON, summary.txt and summary.json (device name, versions, each step's
# status, budget and seconds). When $OUT is set, the directory is also copied to $OUT/ after every
# step (model checkpoints left out), so that a run cut short still returns what it wrote.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
SIZES=(5000 20000 100000)
REPEATS=${GPU_CHECK_REPEATS:-3}
BUDGET=${GPU_CHECK_BUDGET:-440}
START=$SECONDS

echo "== gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')"
echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout -k 5 15 nvidia-smi || echo "nvidia-smi failed (status $?)"
else
    echo "nvidia-smi: not found"
fi
echo "== versions"
if ! INFO=$(timeout -k 5 60 "$PY" - <<'EOF'
import platform, re, sys
import torch
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name(0) if cuda else "cpu"
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA (torch build) {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version() if cuda else None}, cuda available {cuda}, "
      f"devices {torch.cuda.device_count() if cuda else 0}", file=sys.stderr)
print("1" if cuda else "0")
print(name)
print(re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
EOF
); then
    echo "gpu_check: could not import torch with $PY; nothing to check" >&2
    exit 0
fi
{ read -r HAS_CUDA; read -r DEVICE_NAME; read -r SLUG; } <<<"$INFO"
if [ "$HAS_CUDA" != 1 ]; then
    echo "gpu_check: no GPU (torch.cuda.is_available() is False): nothing to check, exiting 0."
    exit 0
fi
echo "device: $DEVICE_NAME"

RESULT_DIR=benchmarks/results/gpu/$(date -u +%Y-%m-%dT%H%MZ)_${SLUG}
mkdir -p "$RESULT_DIR"
SUMMARY=$RESULT_DIR/summary.tsv
printf 'step\tstatus\tseconds\tbudget_s\tcommand\n' >"$SUMMARY"
{
    echo "device: $DEVICE_NAME"
    timeout -k 5 15 nvidia-smi 2>&1 || true
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 || true
} >"$RESULT_DIR/info.log"
FAILED=()

copy_out() {
    [ -n "${OUT:-}" ] || return 0
    mkdir -p "$OUT"
    cp -r "$RESULT_DIR" "$OUT/" && find "$OUT/$(basename "$RESULT_DIR")" -name '*.pt' -delete || echo "copy to \$OUT failed"
}

# step NAME BUDGET_S CMD...: run under timeout (capped by the overall deadline), log, record, never abort the script
step() {
    local name=$1 budget=$2 left rc t0 secs status
    shift 2
    left=$((BUDGET - (SECONDS - START) - 10))
    if [ "$left" -lt 20 ]; then
        echo "== $name: skipped, overall budget of ${BUDGET} s spent"
        printf '%s\tskipped (overall budget spent)\t0\t%s\t%s\n' "$name" "$budget" "$*" >>"$SUMMARY"
        FAILED+=("$name")
        return 0
    fi
    [ "$budget" -le "$left" ] || budget=$left
    echo "== $name (budget ${budget} s): $*"
    t0=$SECONDS
    set +e
    timeout -k 10 "$budget" "$@" 2>&1 | tee "$RESULT_DIR/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    secs=$((SECONDS - t0))
    case $rc in
        0) status=ok ;;
        124 | 137) status="timed out after ${budget} s" ;;
        *) status="failed (status $rc)" ;;
    esac
    [ "$rc" = 0 ] || FAILED+=("$name")
    echo "== $name: $status, ${secs} s"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$budget" "$*" >>"$SUMMARY"
    copy_out
}

step tests 60 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
step layers_diffusion 100 "$PY" benchmarks/layers_diffusion.py --device cuda --sizes "${SIZES[@]}" --batch \
    --repeats "$REPEATS" --out "$RESULT_DIR/layers_diffusion.json"
step layers_gauge 50 "$PY" benchmarks/layers_gauge.py --device cuda --sizes "${SIZES[@]}" --batch '' \
    --repeats "$REPEATS" --out "$RESULT_DIR/layers_gauge.json"
step layers_patch 90 "$PY" benchmarks/layers_patch.py --device cuda --sizes "${SIZES[@]}" --batch 0 \
    --repeats "$REPEATS" --models monet gcnn acnn pyg_gmm --out "$RESULT_DIR/layers_patch.json"

FAUST=""
for d in "${GEODESIC_NETS_DATA:-}" ../shared/data shared/data; do
    if [ -n "$d" ] && [ -d "$d/faust_r" ]; then FAUST=$d/faust_r; break; fi
done
if [ -n "$FAUST" ]; then
    # operator cache outside the results (it is large); 8 processes for the CPU precompute
    step faust_r_epoch 120 "$PY" benchmarks/run_experiments.py faust_r_supervised --root "$FAUST" --epochs 1 \
        --seeds 0 --runs "$RESULT_DIR/runs" --cache "${TMPDIR:-/tmp}/geodesic_nets_gpu_check_cache" --jobs 8 \
        --out "$RESULT_DIR/faust_r"
else
    echo "== faust_r_epoch: skipped, no faust_r under \$GEODESIC_NETS_DATA, ../shared/data or shared/data"
    printf 'faust_r_epoch\tskipped (no data)\t0\t120\t-\n' >>"$SUMMARY"
fi

"$PY" - "$RESULT_DIR" "$DEVICE_NAME" "$((SECONDS - START))" <<'EOF' || echo "summary.json failed"
import csv, json, sys, time
from pathlib import Path
import torch
out, name, total = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
steps = list(csv.DictReader(open(out / "summary.tsv"), delimiter="\t"))
record = {"device_name": name, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "torch": torch.__version__,
          "cuda": torch.version.cuda, "total_seconds": total, "steps": steps}
(out / "summary.json").write_text(json.dumps(record, indent=2))
lines = [f"gpu_check on {name} (torch {torch.__version__}, CUDA {torch.version.cuda}), {total} s in all"]
lines += [f"  {s['step']:<18} {s['status']:<32} {s['seconds']:>5} s (budget {s['budget_s']} s)" for s in steps]
(out / "summary.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
copy_out
echo "results: $RESULT_DIR${OUT:+ (and copied under $OUT)}"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "steps that did not pass: ${FAILED[*]}"
    exit 1
fi
