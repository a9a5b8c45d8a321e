"""Read what a run folder holds into plain records for the report.

Surrogate-gradient runs (``config.yaml`` kind ``surrogate``): per (experiment, model, seed)
``final.json``, ``metrics.jsonl`` (training curve) and ``metrics_efficiency.json``. STDP
runs (kind ``stdp``): every sub-folder holding a Diehl & Cook ``metrics.json`` (with
``test_accuracy``) is a *cell*, with its ``config.json`` and any ``*.png`` plots.
Missing files are tolerated: the report shows what exists.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..metrics.verdict import at_or_below_floor, task_verdicts


@dataclass
class SeedRun:
    experiment: str
    model: str
    model_type: str
    seed: int
    folder: Path
    final: dict[str, Any]
    efficiency: dict[str, Any] | None
    history: list[dict[str, Any]]

    @property
    def is_snn(self) -> bool:
        return self.model_type.startswith("snn")


@dataclass
class StdpCell:
    name: str
    folder: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    images: list[Path]


@dataclass
class RunInfo:
    run_dir: Path
    name: str
    kind: str
    config: dict[str, Any]
    runs: list[SeedRun] = field(default_factory=list)
    cells: list[StdpCell] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)  # run-level STDP plots (e.g. grid heatmap)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line of an interrupted run
    return out


def collect_run(run_dir: str | Path) -> RunInfo:
    """Everything the report needs from one run folder."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a snnbench run folder (no config.yaml)")
    config = yaml.safe_load(cfg_path.read_text()) or {}
    info = RunInfo(run_dir, str(config.get("name", run_dir.name)), str(config.get("kind", "surrogate")), config)
    for exp in config.get("experiments") or []:
        for m in exp.get("models", []):
            for seed in config.get("seeds", [0]):
                folder = run_dir / exp["name"] / m["name"] / f"seed{seed}"
                final = _read_json(folder / "final.json")
                if not isinstance(final, dict):
                    continue
                info.runs.append(SeedRun(
                    exp["name"], m["name"], str(final.get("model_type", m.get("type", ""))), int(seed), folder,
                    final, _read_json(folder / "metrics_efficiency.json"), _read_jsonl(folder / "metrics.jsonl"),
                ))
    for metrics_path in sorted(run_dir.rglob("metrics.json")):
        metrics = _read_json(metrics_path)
        if not isinstance(metrics, dict) or "test_accuracy" not in metrics:
            continue
        folder = metrics_path.parent
        cfg = _read_json(folder / "config.json")
        if not isinstance(cfg, dict):
            cfg = metrics.get("config", {}) if isinstance(metrics.get("config"), dict) else {}
        info.cells.append(StdpCell(str(folder.relative_to(run_dir)), folder, cfg, metrics, sorted(folder.glob("*.png"))))
    cell_dirs = {c.folder for c in info.cells}
    info.images = sorted(p for p in run_dir.rglob("*.png") if p.parent not in cell_dirs)
    return info


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def summary_rows(info: RunInfo) -> list[dict[str, Any]]:
    """One row per (experiment, model): accuracy mean/std over seeds and per-sample efficiency."""
    groups: dict[tuple[str, str], list[SeedRun]] = {}
    for r in info.runs:
        groups.setdefault((r.experiment, r.model), []).append(r)
    rows = []
    for (exp, model), rs in groups.items():
        acc_m, acc_s = _mean_std([100 * float(r.final.get("test_accuracy", float("nan"))) for r in rs])

        def mean_of(*path: str) -> float | None:
            vals = [v for v in (_get(r.efficiency, *path) for r in rs) if isinstance(v, (int, float))]
            return statistics.fmean(vals) if vals else None

        energy = [v for v in (_get(r.efficiency, "workload", "energy", "total_pj") for r in rs) if isinstance(v, (int, float))]
        e_m, e_s = _mean_std(energy) if energy else (None, None)
        rows.append({
            "run": info.name, "task": exp, "dataset": rs[0].final.get("dataset", ""), "model": model,
            "type": rs[0].model_type, "is_snn": rs[0].is_snn, "seeds": len(rs),
            "params": rs[0].final.get("params"),
            "accuracy_mean": acc_m, "accuracy_std": acc_s,
            "train_seconds_mean": statistics.fmean(float(r.final.get("train_seconds", 0.0)) for r in rs),
            "synops_dense": mean_of("workload", "synaptic_operations", "dense"),
            "effective_macs": mean_of("workload", "synaptic_operations", "effective_macs"),
            "effective_acs": mean_of("workload", "synaptic_operations", "effective_acs"),
            "neuron_updates": mean_of("workload", "neuron_state_updates"),
            "activation_sparsity": mean_of("workload", "activation_sparsity"),
            "mean_spike_rate": mean_of("workload", "mean_spike_rate"),
            "footprint_bytes": mean_of("static", "footprint_bytes"),
            "energy_pj": e_m, "energy_pj_std": e_s,
            "energy_with_updates_pj": mean_of("workload", "energy", "total_with_updates_as_mac_pj"),
        })
        majority = _get(rs[0].final, "extra", "majority_accuracy")
        if isinstance(majority, (int, float)):  # older run folders have no floors recorded
            rows[-1]["majority_accuracy"] = 100 * majority
            rows[-1]["below_majority"] = at_or_below_floor(acc_m / 100, majority)
    return rows


def verdicts(info: RunInfo) -> list[Any]:
    """SNN vs each baseline per experiment (:func:`snnbench.metrics.verdict.task_verdicts`)."""
    finals = [{**r.final, "experiment": r.experiment, "model": r.model, "model_type": r.model_type, "seed": r.seed}
              for r in info.runs]
    return task_verdicts(finals)


def energy_comparison(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task: the most accurate SNN and ANN with their energy per sample and the ratio."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        # a model at or below its majority class has learnt nothing: no claim is made for it
        usable = [r for r in rows if r["task"] == task and r["energy_pj"] is not None and not r.get("below_majority")]
        snn = [r for r in usable if r["is_snn"]]
        ann = [r for r in usable if not r["is_snn"]]
        if not snn or not ann:
            continue
        s = max(snn, key=lambda r: r["accuracy_mean"])
        a = max(ann, key=lambda r: r["accuracy_mean"])
        out.append({"task": task, "snn": s, "ann": a,
                    "ratio": (a["energy_pj"] / s["energy_pj"]) if s["energy_pj"] else float("inf")})
    return out
