"""Command line of ``snnbench tune`` (kept apart so that building the parser imports no
torch or Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ConfigError


def add_parser(sub: Any) -> None:
    """Register ``snnbench tune`` on the CLI's sub-parsers."""
    p = sub.add_parser("tune", help="the same hyper-parameter search for every model, then seeded test runs")
    p.add_argument("spec", nargs="?", help="preset name or path to a .yaml/.toml config")
    p.add_argument("--trials", type=int, help="trials per model (overrides tune.trials)")
    p.add_argument("--epochs", type=int, help="epochs per trial (overrides tune.epochs)")
    p.add_argument("--seeds", type=int, help="final runs with seeds 0..N-1")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--out", help="tune folder (default runs/<preset>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted search (finished trials are kept)")
    p.add_argument("--workers", type=int, default=1, help="trials at a time on this machine (one CPU each)")
    p.add_argument("--address", help="Ray cluster address (e.g. auto or HOST:6379) instead of a local instance")
    p.add_argument("--no-references", action="store_true", help="skip the reference classifiers")
    p.set_defaults(func=_cmd_tune)


def _cmd_tune(args: Any) -> int:
    from .config import load_suite
    from .runner import load_run_config
    from .tune import format_tuned, prepare_tune_dir, run_tune

    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.resume is not None:
        if args.spec or args.set or args.seeds or args.out or args.trials or args.epochs:
            raise ConfigError("--resume RUN_DIR takes no preset, --set, --seeds, --trials, --epochs or --out: "
                              "the tune folder holds its config")
        run_dir = Path(args.resume)
        load_run_config(run_dir)
        print(f"Resuming the search in {run_dir}")
    else:
        if not args.spec:
            raise ConfigError("name a preset or config file (see 'snnbench list'), or --resume RUN_DIR")
        overrides = list(args.set)
        if args.trials is not None:
            overrides.append(f"tune.trials={args.trials}")
        if args.epochs is not None:
            overrides.append(f"tune.epochs={args.epochs}")
        suite = load_suite(args.spec, overrides, args.seeds)
        run_dir = prepare_tune_dir(suite, Path(args.out) if args.out else None)
        print(f"Tuning {suite.name} -> {run_dir}")
    summary = run_tune(run_dir, address=args.address, workers=args.workers, references=not args.no_references)
    print(format_tuned(summary))
    print(f"Tune folder: {run_dir}")
    return 0
