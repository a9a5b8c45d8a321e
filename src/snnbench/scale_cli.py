"""Command line of the scale-out paths: ``snnbench sweep`` and ``snnbench run --ray``.

``snnbench sweep CONFIG --grid train.lr=1e-3,3e-3 --grid models.0.hidden=[128],[256]
--seeds 3`` runs every cell x seed as its own run folder under one sweep folder on Ray
(a local instance, or ``--address`` of a running cluster), prints the table across
cells and writes one HTML report over all run folders. ``snnbench run SPEC --seeds N
--ray`` is the same with no grid (an STDP grid suite: one trial per cell x seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .experiments.config import ConfigError


def add_sweep_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="a grid of settings x seeds on Ray, each its own run folder")
    p.add_argument("spec", nargs="?", help="preset name or path to a .yaml/.toml config")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a grid axis, e.g. --grid train.lr=1e-3,3e-3 --grid models.0.hidden=[128],[256]")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value in every cell")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 of every cell (default: the config's seeds)")
    add_ray_options(p)
    p.add_argument("--out", help="sweep folder (default runs/<name>-sweep-<time>)")
    p.add_argument("--resume", metavar="SWEEP_DIR", help="continue a killed sweep: finished trials are kept")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    p.set_defaults(func=cmd_sweep)


def add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="join this Ray cluster (ray start --head printed it; 'auto' finds one) "
                   "instead of starting a local one")
    p.add_argument("--workers", type=int, help="local Ray instance: at most this many trials at a time")
    p.add_argument("--serial", action="store_true", help="no Ray: the same trials one after another in this process")


def cmd_sweep(args: argparse.Namespace) -> int:
    from .experiments.sweep import load_sweep, make_spec, prepare_sweep_dir

    if args.resume is not None:
        if args.spec or args.grid or args.set or args.seeds or args.out:
            raise ConfigError("--resume SWEEP_DIR takes no config, --grid, --set, --seeds or --out: the folder holds them")
        sweep_dir = Path(args.resume)
        spec = load_sweep(sweep_dir)
        print(f"Resuming sweep in {sweep_dir}")
    else:
        if not args.spec:
            raise ConfigError("name a preset or config file (see 'snnbench list'), or --resume SWEEP_DIR")
        spec = make_spec(args.spec, args.set, args.grid, args.seeds)
        sweep_dir = prepare_sweep_dir(spec, Path(args.out) if args.out else None)
        print(f"Sweep of {len(spec.cells())} cells x {len(spec.seeds)} seeds -> {sweep_dir}")
    return execute(spec, sweep_dir, args)


def execute(spec, sweep_dir: Path, args: argparse.Namespace) -> int:
    """Run (or resume) the sweep, print its table, write the report over its run folders."""
    from .experiments.sweep import format_sweep, run_sweep, trial_folders

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    start = time.perf_counter()

    def show(trial, rows) -> None:
        if not args.no_progress:
            state = "done" if isinstance(rows, list) else f"FAILED: {rows}" if rows else "stopped"
            print(f"  {trial.cell} seed {trial.seed}: {state} ({time.perf_counter() - start:.0f} s)", flush=True)

    rows = run_sweep(spec, sweep_dir, serial=args.serial, address=args.address, workers=args.workers, on_trial=show)
    if not rows:
        print(f"snnbench: some trials did not finish; fix the cause and continue with "
              f"'snnbench sweep --resume {sweep_dir}'", file=sys.stderr)
        return 1
    print(format_sweep(rows))
    if not args.no_report:
        from .report import write_report

        report = write_report(trial_folders(spec, sweep_dir), sweep_dir / "report.html", progress=not args.no_progress)
        print(f"\nReport: {report}")
    print(f"Sweep folder: {sweep_dir}")
    return 0


def check_run_options(args: argparse.Namespace) -> None:
    """``run``: the Ray options need ``--ray``, which cannot go with ``--nproc``."""
    if args.ray and args.nproc is not None:
        raise ConfigError("--ray runs whole runs as Ray tasks and --nproc splits one run over processes; pick one")
    if not args.ray and (args.address or args.workers is not None or args.serial):
        raise ConfigError("--address, --workers and --serial go with --ray (or 'snnbench sweep')")


def run_with_ray(args: argparse.Namespace) -> int:
    """``snnbench run SPEC [--seeds N] --ray``: every seed (and every STDP grid cell) a trial
    of a sweep without a grid axis; ``--resume`` takes the sweep folder."""
    from .experiments.sweep import SweepSpec, load_sweep, make_spec, prepare_sweep_dir, stdp_cell_grid

    if args.resume is not None:
        if args.spec or args.set or args.seeds or args.out:
            raise ConfigError("--resume SWEEP_DIR takes no preset, --set, --seeds or --out: the folder holds them")
        sweep_dir = Path(args.resume)
        spec = load_sweep(sweep_dir)
    else:
        if not args.spec:
            raise ConfigError("name a preset or config file (see 'snnbench list'), or --resume SWEEP_DIR")
        spec = make_spec(args.spec, args.set, [], args.seeds)
        spec = SweepSpec(spec.base, stdp_cell_grid(spec.base), spec.seeds)
        sweep_dir = prepare_sweep_dir(spec, Path(args.out) if args.out else None)
        print(f"Running {len(spec.cells())} cells x {len(spec.seeds)} seeds on Ray -> {sweep_dir}")
    return execute(spec, sweep_dir, args)
