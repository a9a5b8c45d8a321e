"""Run an STDP suite: the Diehl & Cook network, or the encoding x neuron x rule grid.

The suite's ``stdp`` section holds ``mode`` (``diehl_cook`` or ``grid``), ``dataset``
(default ``mnist5k``), optionally ``cells`` (grid cells as ``encoding/neuron/rule``, or
``all``) and any :class:`~snnbench.models.diehl_cook.DiehlCookConfig` field, which
overrides the preset's value for every cell. Layout::

    RUN/config.yaml, RUN/results.json, RUN/results.md, RUN/log.txt
    RUN/<cell>/seed<k>/{config.json, metrics.json, weights.safetensors, *.png}

A cell whose ``metrics.json`` exists is finished and is read back on ``--resume``; an
unfinished one is run again from its start (one cell takes seconds to minutes).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_json, atomic_write_text
from .config import ConfigError, SuiteConfig
from .runner import mean_std

_SUITE_KEYS = ("mode", "dataset", "cells")
_GRID_AXES = (("poisson", "bernoulli", "rank_order"), ("adaptive_lif", "lif", "if"), ("stdp", "weight_dependent", "hebbian"))


def cell_name(cfg: Any) -> str:
    return f"{cfg.encoding}-{cfg.neuron}-{cfg.rule}-{cfg.n_neurons}n"


def build_stdp_configs(section: dict[str, Any], seeds: list[int]) -> list[tuple[str, Any]]:
    """Validated ``(cell name, DiehlCookConfig)`` for every cell and seed; raises
    :class:`ConfigError` naming the field on any invalid value."""
    from pydantic import ValidationError

    from ..models.diehl_cook import DiehlCookConfig, diehl_cook_preset, grid_cell_config

    mode = section.get("mode", "diehl_cook")
    if mode not in ("diehl_cook", "grid"):
        raise ConfigError(f"stdp.mode must be one of ['diehl_cook', 'grid'], got {mode!r}")
    over = {k: v for k, v in section.items() if k not in _SUITE_KEYS}
    unknown = sorted(set(over) - set(DiehlCookConfig.model_fields))
    if unknown:
        raise ConfigError(f"stdp: unknown fields {unknown}; allowed: {sorted(DiehlCookConfig.model_fields)} and {list(_SUITE_KEYS)}")
    out: list[tuple[str, Any]] = []
    try:
        if mode == "diehl_cook":
            base = {**diehl_cook_preset(int(over.get("n_neurons", 100))), **over}
            for seed in seeds:
                cfg = DiehlCookConfig(**{**base, "seed": seed})
                out.append((cell_name(cfg), cfg))
        else:
            cells = section.get("cells", "all")
            if cells == "all":
                triples = [(e, n, r) for e in _GRID_AXES[0] for n in _GRID_AXES[1] for r in _GRID_AXES[2]]
            else:
                triples = []
                for c in cells:
                    parts = tuple(str(c).split("/"))
                    if len(parts) != 3 or any(p not in axis for p, axis in zip(parts, _GRID_AXES)):
                        raise ConfigError(
                            f"stdp.cells: {c!r} must be 'encoding/neuron/rule' with encoding in {list(_GRID_AXES[0])}, "
                            f"neuron in {list(_GRID_AXES[1])}, rule in {list(_GRID_AXES[2])}"
                        )
                    triples.append(parts)
            for e, n, r in triples:
                for seed in seeds:
                    cfg = grid_cell_config(e, n, r, **{**over, "seed": seed})
                    out.append((cell_name(cfg), cfg))
    except ValidationError as err:
        lines = [f"  stdp.{'.'.join(str(p) for p in e['loc']) or '(cell)'}: {e['msg']}" for e in err.errors()]
        raise ConfigError("invalid STDP configuration:\n" + "\n".join(lines)) from None
    return out


def _load_images(dataset: str, seed: int):
    from ..data import load_dataset

    data = load_dataset(dataset, val_fraction=0.0, seed=seed)
    if data.info.kind != "image":
        raise ConfigError(f"stdp.dataset must be an image dataset, got {dataset!r} ({data.info.kind})")
    flat = lambda s: s.x.reshape(len(s), -1)  # noqa: E731  [N, C*H*W] intensities in [0, 1]
    return flat(data.train), data.train.y, flat(data.test), data.test.y, data.info.num_classes


def summarise_cells(results: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for name, m in results:
        by_cell.setdefault(name, []).append(m)
    rows = []
    for name, ms in by_cell.items():
        acc_mean, acc_std = mean_std([100 * m["test_accuracy"] for m in ms])
        per_epoch = [[100 * a for a in m["test_accuracy_per_epoch"]] for m in ms]
        rows.append({
            "cell": name, "seeds": len(ms),
            "accuracy_mean": acc_mean, "accuracy_std": acc_std,
            "accuracy_per_epoch_mean": [statistics.fmean(col) for col in zip(*per_epoch)],
            "train_samples_per_s": statistics.fmean(statistics.fmean(m["train_samples_per_s"]) for m in ms),
            "seconds": statistics.fmean(m["seconds"] for m in ms),
            "silent_neurons": statistics.fmean(m.get("silent_neurons", 0) for m in ms),
        })
    return rows


def format_cells(rows: list[dict[str, Any]]) -> str:
    lines = ["| cell (encoding-neuron-rule-size) | test acc. (%) | per epoch | seeds | train samples/s | time (s) |",
             "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        per = " / ".join(f"{a:.1f}" for a in r["accuracy_per_epoch_mean"])
        lines.append(f"| {r['cell']} | {r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f} | {per} | {r['seeds']} | "
                     f"{r['train_samples_per_s']:.0f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def run_stdp_suite(suite: SuiteConfig, run_dir: Path, *, progress: bool = True) -> str:
    """Run every cell x seed into ``run_dir``; return the printed results table."""
    from ..models.diehl_cook import run_diehl_cook

    section = dict(suite.stdp or {})
    configs = build_stdp_configs(section, suite.seeds)
    dataset = section.get("dataset", "mnist5k")
    data_cache: dict[int, tuple] = {}
    results: list[tuple[str, dict[str, Any]]] = []
    for name, cfg in configs:
        folder = run_dir / name / f"seed{cfg.seed}"
        done = folder / "metrics.json"
        if done.is_file():
            results.append((name, json.loads(done.read_text())))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if cfg.seed not in data_cache:
            data_cache[cfg.seed] = _load_images(dataset, cfg.seed)
        xtr, ytr, xte, yte, k = data_cache[cfg.seed]
        metrics = run_diehl_cook(cfg, xtr, ytr, xte, yte, run_dir=folder, progress=progress, num_classes=k)
        results.append((name, metrics))
    rows = summarise_cells(results)
    atomic_write_json(run_dir / "results.json", {"suite": suite.name, "kind": "stdp", "rows": rows})
    table = format_cells(rows)
    atomic_write_text(run_dir / "results.md", f"# {suite.name}\n\n{table}\n")
    return table
