"""Sweeps: a grid of settings x seeds, every cell x seed its own run folder, run as Ray
tasks (or one after another with ``serial``), with one table across cells.

Layout of a sweep folder::

    SWEEP/sweep.yaml                 base config, grid, seeds (what --resume reads)
    SWEEP/<cell>/seed<k>/            an ordinary run folder (config.yaml, results.json, ...)
    SWEEP/results.json, results.md   one row per cell x (task, model): mean +- s.d. over seeds

``--grid key=v1,v2`` takes ``--set`` keys and YAML values separated by commas outside
brackets (``models.0.hidden=[128],[256]``). A trial whose folder holds ``results.json``
is finished and is read back, never rerun; an unfinished one continues from its
checkpoints; so a killed sweep resumes with ``--resume SWEEP`` and writes nothing twice.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .checkpoint import atomic_write_json, atomic_write_text
from .config import ConfigError, SuiteConfig, apply_overrides, load_raw, validate_suite
from .ray_backend import Trial, init_ray, run_trials_ray, run_trials_serial, trial_folder, trial_resources
from .runner import mean_std

SWEEP_FILE = "sweep.yaml"


def split_values(text: str) -> list[str]:
    """``1e-3,3e-3`` -> ['1e-3', '3e-3']; ``[128],[256, 64]`` -> ['[128]', '[256, 64]']:
    commas inside brackets or braces belong to the value."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    if depth != 0 or any(v == "" for v in out):
        raise ConfigError(f"--grid values {text!r}: give comma-separated values with balanced brackets, e.g. 1e-3,3e-3")
    return out


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """``["train.lr=1e-3,3e-3", ...]`` -> ``[("train.lr", ["1e-3", "3e-3"]), ...]``."""
    grid = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid expects key=v1,v2,..., got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key or any(key == k for k, _ in grid):
            raise ConfigError(f"--grid {item!r}: name each key once")
        grid.append((key, split_values(text)))
    return grid


def _slug(text: str) -> str:
    text = re.sub(r"[\[\]{}'\" ]", "", text).replace(",", "x")
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text)[:40] or "v"


def cell_name(index: int, assignment: list[tuple[str, str]]) -> str:
    """A folder name that is safe on every file system: index, then key tails and values."""
    parts = [f"{key.split('.')[-1]}={_slug(v)}" for key, v in assignment]
    return f"{index:02d}" + ("-" + "_".join(parts) if parts else "")


@dataclass
class SweepSpec:
    """A base config (a preset or file's mapping with ``--set`` applied), a grid and seeds."""

    base: dict[str, Any]
    grid: list[tuple[str, list[str]]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])

    def cells(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(name, [(key, value text), ...]) for every point of the grid, in order."""
        keys = [k for k, _ in self.grid]
        combos = itertools.product(*[vals for _, vals in self.grid]) if self.grid else [()]
        return [(cell_name(i, list(zip(keys, c))), list(zip(keys, c))) for i, c in enumerate(combos)]

    def trials(self, sweep_dir: Path) -> list[Trial]:
        """Every cell x seed, each validated (an invalid cell names itself) before any work."""
        out = []
        for name, assignment in self.cells():
            raw = apply_overrides(self.base, [f"{k}={v}" for k, v in assignment])
            for seed in self.seeds:
                raw_seed = {**raw, "seeds": [seed]}
                try:
                    suite = validate_suite(raw_seed)
                except ConfigError as err:
                    raise ConfigError(f"sweep cell {name}: {err}") from None
                out.append(Trial(name, seed, suite.model_dump(mode="json"), trial_folder(sweep_dir, name, seed)))
        return out

    def suite(self) -> SuiteConfig:
        return validate_suite({**self.base, "seeds": [self.seeds[0]]})

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "grid": [[k, list(v)] for k, v in self.grid], "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepSpec:
        return cls(d["base"], [(k, list(v)) for k, v in d.get("grid", [])], list(d["seeds"]))


def stdp_cell_grid(base: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """For an STDP grid suite: one grid axis over its cells (``stdp.cells=[e/n/r]``), so
    every cell x seed is its own trial; nothing for other suites."""
    stdp = base.get("stdp") or {}
    if base.get("kind") != "stdp" or stdp.get("mode") != "grid":
        return []
    from .stdp_runner import build_stdp_configs

    cells = dict.fromkeys(f"{c.encoding}/{c.neuron}/{c.rule}" for _, c in build_stdp_configs(stdp, [0]))
    return [("stdp.cells", [f"[{c}]" for c in cells])]


def make_spec(spec: str, overrides: list[str], grid: list[str], seeds: int | None) -> SweepSpec:
    """A sweep from the command line: preset or file, ``--set``, ``--grid``, ``--seeds N``."""
    base = apply_overrides(load_raw(spec), overrides)
    base_seeds = validate_suite(base).seeds
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    return SweepSpec(base, parse_grid(grid), list(range(seeds)) if seeds is not None else base_seeds)


def prepare_sweep_dir(spec: SweepSpec, out: Path | None, base: Path = Path("runs")) -> Path:
    """A new, empty sweep folder holding ``sweep.yaml`` (every trial validated first)."""
    import time

    name = str(spec.base.get("name", "sweep"))
    out = Path(out) if out is not None else base / f"{name}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"sweep folder {str(out)!r} exists and is not empty; pick another --out or use --resume {out}")
    spec.trials(out)  # validates every cell before anything is written
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SWEEP_FILE, yaml.safe_dump(spec.to_dict(), sort_keys=False))
    return out


def load_sweep(sweep_dir: Path) -> SweepSpec:
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise ConfigError(f"{str(sweep_dir)!r} is not a snnbench sweep folder (no {SWEEP_FILE}); nothing to resume")
    return SweepSpec.from_dict(yaml.safe_load(path.read_text()))


def run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    serial: bool = False,
    address: str | None = None,
    workers: int | None = None,
    stop_after_epochs: int | None = None,
    on_trial: Callable[[Trial, list[dict[str, Any]] | None], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every unfinished trial (Ray tasks, or in this process with ``serial``) and write
    the table across cells; returns its rows ([] when a trial was interrupted by
    ``stop_after_epochs``; a trial that failed on Ray is reported through ``on_trial`` with
    the error text and leaves the sweep unfinished, to be resumed). ``address`` joins an existing Ray cluster; otherwise a local instance with
    ``workers`` trials at a time (default: as many as the CPUs hold)."""
    trials = spec.trials(sweep_dir)
    resources = trial_resources(spec.suite())
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    todo = []
    from .ray_backend import read_trial

    for t in trials:  # finished trials are read back, never submitted again
        rows = read_trial(t.folder)
        if rows is None:
            todo.append(t)
        else:
            results[(t.cell, t.seed)] = rows
    if todo:
        if serial:
            stream = run_trials_serial(todo, resources, stop_after_epochs=stop_after_epochs)
        else:
            cpus = None if workers is None else workers * resources["num_cpus"]
            gpus = None if workers is None else workers * resources["num_gpus"]
            init_ray(address, num_cpus=cpus, num_gpus=gpus)
            stream = run_trials_ray(todo, resources, stop_after_epochs=stop_after_epochs)
        for t, rows in stream:
            if on_trial is not None:
                on_trial(t, rows)
            if isinstance(rows, list):
                results[(t.cell, t.seed)] = rows
    if len(results) < len(trials):
        return []
    table = summarise_sweep(spec, results)
    atomic_write_json(Path(sweep_dir) / "results.json", {"sweep": spec.to_dict(), "rows": table})
    atomic_write_text(Path(sweep_dir) / "results.md",
                      f"# {spec.base.get('name', 'sweep')}: sweep\n\n{format_sweep(table)}\n")
    return table


def summarise_sweep(spec: SweepSpec, results: dict[tuple[str, int], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per cell x (task, model) or STDP cell: test accuracy mean +- s.d. over seeds."""
    out = []
    for name, assignment in spec.cells():
        groups: dict[str, list[dict[str, Any]]] = {}
        for seed in spec.seeds:
            for r in results.get((name, seed), []):
                what = f"{r['task']}/{r['model']}" if "task" in r else str(r.get("cell"))
                groups.setdefault(what, []).append(r)
        for what, rows in groups.items():
            m, s = mean_std([r["accuracy_mean"] for r in rows])
            times = [r.get("train_seconds_mean", r.get("seconds")) for r in rows]
            out.append({
                "cell": name, "settings": {k: v for k, v in assignment}, "what": what, "seeds": len(rows),
                "accuracy_mean": m, "accuracy_std": s,
                "accuracy_per_seed": [r["accuracy_mean"] for r in rows],
                "train_seconds_mean": statistics.fmean(t for t in times if t is not None) if any(
                    t is not None for t in times) else None,
            })
    return out


def format_sweep(rows: list[dict[str, Any]]) -> str:
    head = "| cell | settings | task/model | test acc. (%) mean +- s.d. | seeds | train time (s) |"
    lines = [head, "|---|---|---|---:|---:|---:|"]
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "-"
        t = "-" if r["train_seconds_mean"] is None else f"{r['train_seconds_mean']:.1f}"
        lines.append(f"| {r['cell']} | {settings} | {r['what']} | {r['accuracy_mean']:.2f} +- {r['accuracy_std']:.2f} | "
                     f"{r['seeds']} | {t} |")
    return "\n".join(lines)


def trial_folders(spec: SweepSpec, sweep_dir: Path) -> list[Path]:
    """Every trial's run folder that exists (for the report over all of them)."""
    return [t.folder for t in spec.trials(sweep_dir) if (t.folder / "config.yaml").is_file()]
