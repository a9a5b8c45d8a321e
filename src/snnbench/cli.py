"""Command line: ``snnbench list``, ``snnbench run``, ``snnbench report``.

``snnbench run PRESET|FILE [--set key=value ...] [--seeds N] [--out DIR]`` validates the
whole config before any work, trains every model of every experiment for every seed into
its own run folder and prints the results table. ``snnbench run --resume RUN_DIR``
continues a run that was interrupted, from the last finished epoch of each model.

Every error ends in a one-line message and exit code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .experiments.config import ConfigError, list_presets, load_suite
from .scale_cli import add_ray_options, add_sweep_command, check_run_options


def _cmd_list(args: argparse.Namespace) -> int:
    from .data import DATASETS

    print("Presets (snnbench run NAME):")
    for name, desc in list_presets().items():
        print(f"  {name:<24} {desc}")
    print("\nDatasets (data.name):")
    for name, entry in DATASETS.items():
        desc = getattr(entry, "description", "")
        print(f"  {name:<24} {desc}")
    print("  ucr:<Name>               any UEA/UCR classification set that aeon ships or finds in data.root")
    print("  sklearn:<name>           iris, wine, breast_cancer, digits (scikit-learn)")
    print("  file:<path>              .npz / .csv / .parquet / .ts file (see README, 'Your own data')")
    print("  tonic:<Name>             a tonic event dataset in data.root, as event-count frames")
    return 0


def _reopen_run(args: argparse.Namespace, suite, run_dir: Path):
    """``--resume``, on rank 0 only (it alone writes the run folder): lock the folder, drop
    temporary files of killed writes, check the trained models against the config and
    record an allowed ``--set``. Returns the held lock."""
    from ._files import remove_temp_files
    from .experiments.lock import RunLock
    from .experiments.run_folder import check_run_folder, write_run_config

    lock = RunLock(run_dir).acquire()
    if lock.stale:
        print(f"Took over the lock of {lock.stale}, which is no longer running")
    try:
        for path in remove_temp_files(run_dir):
            print(f"Removed {path} (left by an interrupted write)")
        changes = check_run_folder(suite, run_dir, args.allow_config_change)  # before config.yaml changes
        changed = {f for fields in changes.values() for f in fields}
        for name in args.allow_config_change:
            if not any(f == name or f.startswith(name + ".") for f in changed):
                print(f"Note: --allow-config-change {name}: no trained model has a changed {name}")
        if args.set:
            write_run_config(suite, run_dir)
    except BaseException:
        lock.release()
        raise
    print(f"Resuming {suite.name} in {run_dir}")
    return lock


def _start_run(args: argparse.Namespace, suite, cache: dict):
    """A new run, on rank 0 only: describe the data preflight loaded, then create and lock
    the run folder. Returns ``(run_dir, lock, created)``."""
    from .experiments.datacheck import check_suite_data
    from .experiments.run_folder import start_run_dir

    for line in check_suite_data(suite, cache):  # bad data stopped in preflight, before the run folder
        print(f"Data {line}")
    run_dir, lock, created = start_run_dir(suite, Path(args.out) if args.out else None)
    if lock.stale:
        print(f"Took over the lock of {lock.stale}, which is no longer running")
    print(f"Running {suite.name} -> {run_dir}")
    return run_dir, lock, created


def _open_run(args: argparse.Namespace, world_of):
    """Validate the suite (config, data, every model) before anything is written, then
    reopen (``--resume``) or start its run folder on rank 0. Returns ``(suite, run_dir,
    cache, world, lock, created)``; ``lock`` is None on the other ranks."""
    from .experiments import distributed
    from .experiments.config import apply_overrides, validate_suite
    from .experiments.preflight import preflight
    from .experiments.run_folder import read_run_config_raw

    held: dict = {"lock": None, "created": False}
    if args.resume is not None:
        if args.spec or args.seeds or args.out:
            raise ConfigError("--resume RUN_DIR takes no preset, --seeds or --out: the run folder holds its config "
                              "(--set changes fields of models not trained yet)")
        run_dir = Path(args.resume)
        suite = validate_suite(apply_overrides(read_run_config_raw(run_dir), args.set))
        cache = preflight(suite)
        world = world_of(suite)
        distributed.on_writer(lambda: held.update(lock=_reopen_run(args, suite, run_dir)), world)
    else:
        if not args.spec:
            raise ConfigError("name a preset or config file (see 'snnbench list'), or --resume RUN_DIR")
        if args.allow_config_change:
            raise ConfigError("--allow-config-change applies to --resume RUN_DIR only")
        suite = load_suite(args.spec, args.set, args.seeds)
        cache = preflight(suite)
        world = world_of(suite)

        def start() -> Path:
            run_dir, held["lock"], held["created"] = _start_run(args, suite, cache)
            return run_dir

        run_dir = distributed.on_writer(start, world)
    return suite, run_dir, cache, world, held["lock"], held["created"]


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import distributed
    from .experiments.run_folder import discard_if_untrained
    from .experiments.suite import execute_suite
    from .report.stdp_plots import save_all  # STDP cells draw their plots through it

    check_run_options(args)
    if args.nproc is not None and not distributed.launched_by_torchrun():
        return distributed.launch(args.nproc, distributed.strip_nproc(args.argv))
    if args.ray:
        from .scale_cli import run_with_ray

        return run_with_ray(args)
    suite, run_dir, cache, world, lock, created = _open_run(args, lambda s: distributed.init_from_env(s.device))
    if world.size > 1 and suite.kind == "stdp":
        raise ConfigError("STDP suites train online in one process; run their cells in parallel with --ray instead")
    try:
        table = execute_suite(suite, run_dir, progress=not args.no_progress,
                              allow_config_change=args.allow_config_change, cache=cache, stdp_plot=save_all)
    except BaseException as err:
        if lock is not None:
            lock.release()
        removed = args.resume is None and world.is_writer and discard_if_untrained(run_dir, created)
        if isinstance(err, KeyboardInterrupt):
            if removed:
                print(f"\nsnnbench: interrupted before anything was trained; removed {run_dir}", file=sys.stderr)
            else:
                print(f"\nsnnbench: interrupted; continue with 'snnbench run --resume {run_dir}'", file=sys.stderr)
            return 130
        if removed:
            print(f"snnbench: nothing was trained; removed the run folder {run_dir}", file=sys.stderr)
        raise
    if lock is not None:
        lock.release()
    distributed.shutdown()
    if not world.is_writer:
        return 0
    print(table)
    if not args.no_report:
        from .report import write_report

        report = write_report([run_dir], run_dir / "report.html", progress=not args.no_progress)
        print(f"\nReport: {report}")
    print(f"Run folder: {run_dir}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    from .experiments.run_folder import read_run_config_raw

    run_dirs = [Path(d) for d in args.run_dirs]
    for d in run_dirs:
        if (d / "config.yaml").is_file() or not any(d.glob("*/config.json")):
            read_run_config_raw(d)  # one-line errors for a missing, non-UTF-8 or unparsable config.yaml
    out = Path(args.out) if args.out else run_dirs[0] / "report.html"
    if out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; name the HTML file to write, e.g. {out / 'report.html'}")
    path = write_report(run_dirs, out, compute_metrics=not args.no_metrics, progress=not args.no_progress)
    print(f"Report: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snnbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
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
    p_run.add_argument("--allow-config-change", nargs="+", default=[], metavar="FIELD",
                       help="with --resume: accept these changed fields of trained models (e.g. train.epochs); "
                       "recorded in the log and the results")
    p_run.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_run.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    p_run.add_argument("--nproc", type=int, metavar="N",
                       help="data-parallel training in N processes on this machine (torchrun --nproc_per_node N)")
    p_run.add_argument("--ray", action="store_true", help="every seed (STDP grid: every cell) a Ray task, "
                       "as 'snnbench sweep' without a grid; --resume then takes the sweep folder")
    add_ray_options(p_run)
    p_run.set_defaults(func=_cmd_run)

    p_rep = sub.add_parser("report", help="efficiency metrics and a self-contained HTML report of run folders")
    p_rep.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p_rep.add_argument("--out", help="HTML file (default RUN_DIR/report.html; a .md summary is written beside it)")
    p_rep.add_argument("--no-metrics", action="store_true", help="do not (re)measure operations and energy")
    p_rep.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_rep.set_defaults(func=_cmd_report)

    from .cli_data import add_data_parser

    add_data_parser(sub)
    add_sweep_command(sub)
    from .cli_interop import register as register_interop  # predict, export

    register_interop(sub)
    from .experiments.tune_cli import add_parser as add_tune_parser

    add_tune_parser(sub)
    from .experiments.conversion import add_convert_parser

    add_convert_parser(sub)
    from .experiments.delayed_reward import add_reward_task_parser

    add_reward_task_parser(sub)
    return parser


def _debug_after_every_subcommand(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Accept ``--debug`` after any subcommand too (SUPPRESS keeps the global value)."""
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for p in getattr(action, "choices", {}).values():
            p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _debug_after_every_subcommand(build_parser()).parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # --nproc starts the same command N times
    if argv is None and os.environ.get("SNNBENCH_KEEP_FREED_MEMORY") == "1":
        # the command's own process only (not a caller's): faster steps, higher peak memory
        from ._native import keep_freed_memory

        keep_freed_memory()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\nsnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        if isinstance(err, (ValueError, OSError)):
            # every check in snnbench raises ValueError naming the argument and the fix
            text = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        else:
            text = f"unexpected {type(err).__name__}: {err} (rerun with --debug for the traceback and report it)"
        print(f"snnbench: error: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
