"""Export a finished run as a pretrained model shipped with the package.

Usage::

    python benchmarks/export_pretrained.py RUN_DIR NAME --description "..." \\
        [--evaluation benchmarks/results/experiments/correspondence_eval_X.json] [--experiment faust_r_supervised] \\
        [--weight-dtype float16]

writes ``geodesic_nets/pretrained/NAME.pt`` with the run's weights, experiment configuration and
model specification, and a record of how it was trained (the run's environment: versions, commit;
its training configuration and timings) and what it measured (the evaluation JSON, if given).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from geodesic_nets.tasks.pretrained import PRETRAINED_DIR, export_pretrained, load_pretrained

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("name")
    p.add_argument("--description", required=True)
    p.add_argument("--checkpoint", default="last", choices=["last", "best"])
    p.add_argument("--evaluation", help="JSON of benchmarks/correspondence_eval.py (or any metrics JSON) to keep")
    p.add_argument("--experiment", help="name of the experiment file in benchmarks/experiments/")
    p.add_argument("--weight-dtype", default="float32", choices=["float32", "float16"],
                   help="store the weights in half precision (half the file; check the figure it gives)")
    args = p.parse_args(argv)

    run = Path(args.run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    record = {
        "experiment_file": f"benchmarks/experiments/{args.experiment}.toml" if args.experiment else None,
        "train": json.loads((run / "config.json").read_text()).get("train"),
        "environment": json.loads((run / "environment.json").read_text()),
        "timings": metrics.get("timings"),
        "evaluation": metrics.get("evaluation"),
        "test_time_variants": json.loads(Path(args.evaluation).read_text()).get("results") if args.evaluation else None,
    }
    dest = PRETRAINED_DIR / f"{args.name}.pt"
    export_pretrained(run, dest, checkpoint=args.checkpoint, description=args.description, record=record,
                      weight_dtype=args.weight_dtype)
    load_pretrained(args.name)  # it loads back
    print(f"written {dest} ({dest.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
