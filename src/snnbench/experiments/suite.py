"""Dispatch a validated suite to its track (surrogate-gradient or STDP) and return the
printed results table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from .config import SuiteConfig
from .runner import format_table, run_suite


def execute_suite(
    suite: SuiteConfig, run_dir: Path, *, progress: bool = True, allow_config_change: Sequence[str] = (),
    cache: dict | None = None, stdp_plot: Callable[..., Any] | None = None,
) -> str:
    """``stdp_plot`` draws the plots of each STDP cell (the CLI passes
    :func:`snnbench.report.stdp_plots.save_all`; experiments do not import the report)."""
    if suite.kind == "stdp":
        from .stdp_runner import run_stdp_suite

        return run_stdp_suite(suite, run_dir, progress=progress, plot=stdp_plot)
    rows = run_suite(suite, run_dir, progress=progress, allow_config_change=allow_config_change, cache=cache)
    return format_table(rows)
