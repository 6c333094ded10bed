"""``geodesic-nets train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ..errors import ArgumentError
from .options import key_values

__all__ = ["register", "experiment_from_args"]


def experiment_from_args(args: argparse.Namespace):
    """An ExperimentConfig from ``--config`` (optional) overridden by the command-line options."""
    from ..settings import OperatorSettings
    from ..tasks.experiment import ExperimentConfig
    from ..tasks.models import ModelSpec

    cfg = ExperimentConfig.from_toml(args.config) if args.config else ExperimentConfig()
    changes: dict = {}
    for opt, key in (("task", "task"), ("dataset", "dataset"), ("root", "root"), ("cache", "cache_dir"),
                     ("jobs", "jobs")):
        if getattr(args, opt) is not None:
            changes[key] = getattr(args, opt)
    model = cfg.model.to_dict()
    for opt, key in (("model", "name"), ("features", "in_features"), ("width", "width"), ("depth", "depth")):
        if getattr(args, opt) is not None:
            model[key] = getattr(args, opt)
    train = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "seed", "device", "dtype", "init_from")
             if getattr(args, k) is not None}
    if args.no_progress:
        train["progress"] = False
    ops = dataclasses.asdict(cfg.operators)
    if args.k_eig is not None:
        ops["k_eig"] = args.k_eig
    ds_opts = {**cfg.dataset_options, **key_values(args.dataset_option)}
    task_opts = {**cfg.task_options, **key_values(args.task_option)}
    return cfg.replace(**changes, model=ModelSpec.from_dict(model), train=cfg.train.replace(**train),
                       operators=OperatorSettings(**ops), dataset_options=ds_opts, task_options=task_opts)


def _cmd_train(args: argparse.Namespace) -> int:
    from ..tasks.runner import train_experiment

    cfg = experiment_from_args(args)
    print(f"training {cfg.model.name} ({cfg.model.in_features} inputs) for {cfg.task} on {cfg.dataset}"
          f"{' at ' + cfg.root if cfg.root else ''}: {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, "
          f"run directory {args.out}", file=sys.stderr)
    result = train_experiment(cfg, args.out, resume=args.resume)
    if result:
        print(json.dumps(_headline(result), indent=2))
    return 0


def _headline(result: dict) -> dict:
    """The scalar entries of an evaluation (drops matrices and curves)."""
    return {k: v for k, v in result.items() if isinstance(v, (int, float, str))}


def _model_source(args: argparse.Namespace, *, files_too: bool = False) -> None:
    """Exactly one of RUN_DIR and --pretrained (for predict, RUN_DIR is then the first file)."""
    if args.pretrained is None and args.run_dir is None:
        raise ArgumentError("give a run directory or --pretrained NAME")
    if args.pretrained is not None and args.run_dir is not None:
        if not files_too:
            raise ArgumentError("give a run directory or --pretrained NAME, not both")
        args.files = [args.run_dir, *args.files]  # predict --pretrained NAME SRC TGT...: RUN_DIR was SRC
        args.run_dir = None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..tasks.pretrained import load_pretrained
    from ..tasks.runner import evaluate_model, evaluate_run

    _model_source(args)
    options = key_values(args.task_option)
    progress = not args.no_progress
    if args.pretrained is not None:
        if args.root is None:
            raise ArgumentError("--pretrained needs --root (the dataset to evaluate on)")
        run = load_pretrained(args.pretrained)
        result = evaluate_model(run, split=args.split, dataset=args.dataset, root=args.root, task_options=options,
                                cache_dir=args.cache, progress=progress)
        result = {"pretrained": args.pretrained, **result}
    else:
        result = evaluate_run(args.run_dir, checkpoint=args.checkpoint, split=args.split, dataset=args.dataset,
                              root=args.root, task_options=options, progress=progress)
    if args.out:
        from ..tasks.records import write_json

        write_json(Path(args.out), result)
    print(json.dumps(_headline(result)))  # one line, the last of stdout
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..tasks.predict import predict_files
    from ..tasks.pretrained import load_pretrained

    _model_source(args, files_too=True)
    if args.pretrained is not None and args.out is None:
        raise ArgumentError("--pretrained needs --out (the folder for the point maps)")
    source = load_pretrained(args.pretrained) if args.pretrained is not None else args.run_dir
    written = predict_files(source, args.files, out_dir=args.out, checkpoint=args.checkpoint,
                            progress=not args.no_progress, task_options=key_values(args.task_option))
    for path in written:
        print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``evaluate`` and ``predict`` to ``sub``."""
    tr = sub.add_parser("train", help="train a model (classification, segmentation, correspondence)")
    tr.add_argument("--config", help="experiment TOML file (command-line options override it)")
    tr.add_argument("--task", choices=["classification", "segmentation", "correspondence", "vertex_labeling",
                                       "functional_maps"], help="the task (correspondence: vertex labelling or "
                                                                "functional maps, by dataset)")
    tr.add_argument("--dataset", help="shrec11, faust, faust_r, correspondence_folder, human_seg, folder, "
                                      "synthetic_shapes, synthetic_correspondence, synthetic_segmentation")
    tr.add_argument("--root", help="dataset root directory")
    tr.add_argument("--dataset-option", action="append", metavar="KEY=VALUE",
                    help="dataset loader option (JSON value), e.g. n_train=10; repeatable")
    tr.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                    help="task option (JSON value), e.g. supervision=unsupervised; repeatable")
    tr.add_argument("--model", choices=["diffusion", "gauge", "monet", "gcnn", "acnn"], help="network family")
    tr.add_argument("--features", choices=["xyz", "hks", "wks", "hks+xyz"], help="input features")
    tr.add_argument("--width", type=int, help="channels of the hidden layers")
    tr.add_argument("--depth", type=int, help="number of blocks or layers")
    tr.add_argument("--k-eig", type=int, help="eigenpairs per shape")
    tr.add_argument("--epochs", type=int, help="training epochs")
    tr.add_argument("--batch-size", type=int, help="meshes per step and process")
    tr.add_argument("--lr", type=float, help="learning rate")
    tr.add_argument("--seed", type=int, help="seed of the initialization and the data order")
    tr.add_argument("--init-from", metavar="SOURCE",
                    help="start from trained weights (fine-tune): a run directory, a .pt file or a pretrained name")
    tr.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    tr.add_argument("--dtype", choices=["float32", "float64"], help="floating type of training")
    tr.add_argument("--cache", help="operator cache directory")
    tr.add_argument("--jobs", type=int, help="processes for the operator precomputation")
    tr.add_argument("--out", required=True, help="run directory")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    tr.add_argument("--no-progress", action="store_true", help="no progress bars")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a trained run directory or a pretrained model")
    ev.add_argument("run_dir", nargs="?", help="run directory (or use --pretrained)")
    ev.add_argument("--pretrained", metavar="NAME", help="a pretrained model shipped with the package (e.g. faust_r) "
                                                         "or a pretrained .pt file")
    ev.add_argument("--checkpoint", choices=["last", "best"], default="last", help="which checkpoint of the run")
    ev.add_argument("--split", help="split to evaluate (default: the run's evaluation split)")
    ev.add_argument("--dataset", help="evaluate on another dataset")
    ev.add_argument("--root", help="root of that dataset")
    ev.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                    help="override a task option (JSON value), e.g. zoomout_to=80; repeatable")
    ev.add_argument("--cache", help="operator cache directory")
    ev.add_argument("--out", help="also write the full metrics JSON to this file")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    ev.set_defaults(func=_cmd_evaluate)

    pr = sub.add_parser("predict", help="labels or correspondences for mesh files with a trained run")
    pr.add_argument("run_dir", nargs="?", help="run directory (or use --pretrained)")
    pr.add_argument("files", nargs="+", help="mesh files (correspondence: the first is the source)")
    pr.add_argument("--pretrained", metavar="NAME", help="a pretrained model instead of a run directory")
    pr.add_argument("--out", help="output directory (default RUN_DIR/predictions; required with --pretrained)")
    pr.add_argument("--checkpoint", choices=["last", "best"], default="last", help="which checkpoint of the run")
    pr.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                    help="override a task option (JSON value), e.g. decode=one_to_one; repeatable")
    pr.add_argument("--no-progress", action="store_true", help="no progress bars")
    pr.set_defaults(func=_cmd_predict)
