"""Command line: ``snnbench list``, ``snnbench run``, ``snnbench report``.

``snnbench run PRESET|FILE [--set key=value ...] [--seeds N] [--out DIR]`` validates the
whole config before any work, trains every model of every experiment for every seed into
its own run folder and prints the results table. ``snnbench run --resume RUN_DIR``
continues a run that was interrupted, from the last finished epoch of each model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .experiments.config import ConfigError, list_presets, load_suite


def _cmd_list(args: argparse.Namespace) -> int:
    from .data import DATASETS

    print("Presets (snnbench run NAME):")
    for name, desc in list_presets().items():
        print(f"  {name:<24} {desc}")
    print("\nDatasets (data.name):")
    for name, entry in DATASETS.items():
        desc = getattr(entry, "description", "")
        print(f"  {name:<24} {desc}")
    print("  ucr:<Name>               any UEA/UCR archive set that aeon ships or finds in data.root")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments.runner import load_run_config, prepare_run_dir
    from .experiments.suite import execute_suite

    if args.resume is not None:
        if args.spec or args.set or args.seeds or args.out:
            raise ConfigError("--resume RUN_DIR takes no preset, --set, --seeds or --out: the run folder holds its config")
        run_dir = Path(args.resume)
        suite = load_run_config(run_dir)
        print(f"Resuming {suite.name} in {run_dir}")
    else:
        if not args.spec:
            raise ConfigError("name a preset or config file (see 'snnbench list'), or --resume RUN_DIR")
        suite = load_suite(args.spec, args.set, args.seeds)
        run_dir = prepare_run_dir(suite, Path(args.out) if args.out else None)
        print(f"Running {suite.name} -> {run_dir}")
    table = execute_suite(suite, run_dir, progress=not args.no_progress)
    print(table)
    if not args.no_report:
        from .report import write_report

        report = write_report([run_dir], run_dir / "report.html", progress=not args.no_progress)
        print(f"\nReport: {report}")
    print(f"Run folder: {run_dir}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    run_dirs = [Path(d) for d in args.run_dirs]
    for d in run_dirs:
        if not (d / "config.yaml").is_file() and not any(d.glob("*/config.json")):
            raise ConfigError(f"{str(d)!r} is not a snnbench run folder (no config.yaml)")
    out = Path(args.out) if args.out else run_dirs[0] / "report.html"
    path = write_report(run_dirs, out, compute_metrics=not args.no_metrics, progress=not args.no_progress)
    print(f"Report: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snnbench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="list presets and datasets")
    p_list.set_defaults(func=_cmd_list)

    p_run = sub.add_parser("run", help="run a preset or a config file")
    p_run.add_argument("spec", nargs="?", help="preset name or path to a .yaml/.toml config")
    p_run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set train.epochs=5 --set seeds=[0,1]")
    p_run.add_argument("--seeds", type=int, help="run seeds 0..N-1")
    p_run.add_argument("--out", help="run folder (default runs/<preset>-<time>)")
    p_run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p_run.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_run.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    p_run.set_defaults(func=_cmd_run)

    p_rep = sub.add_parser("report", help="efficiency metrics and a self-contained HTML report of run folders")
    p_rep.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p_rep.add_argument("--out", help="HTML file (default RUN_DIR/report.html; a .md summary is written beside it)")
    p_rep.add_argument("--no-metrics", action="store_true", help="do not (re)measure operations and energy")
    p_rep.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_rep.set_defaults(func=_cmd_report)

    from .experiments.tune_cli import add_parser as add_tune_parser

    add_tune_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        # every check in snnbench raises ValueError naming the argument and the fix
        print(f"snnbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsnnbench: interrupted; continue with 'snnbench run --resume RUN_DIR'", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
