"""Efficiency metrics for every finished run of a run folder.

For each ``RUN/<experiment>/<model>/seed<k>/final.json`` the trained model is rebuilt
(:func:`snnbench.experiments.runner.load_trained_model`), measured on the test split with
the evaluation's batch size and noise (so the accuracy matches ``final.json``) and the result
is written to ``metrics_efficiency.json`` next to it. ``RUN/results.json`` rows then gain the
per-sample columns averaged over seeds: ``synops_dense``, ``effective_macs``,
``effective_acs``, ``energy_pj``, ``neuron_updates``, ``activation_sparsity``,
``footprint_bytes``, ``connection_sparsity``.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

from ..learning.trainer import epoch_generator
from ..metrics.energy import EnergyModel, check_energy_model
from ..metrics.static import static_metrics
from ..metrics.workload import measure_workload
from .checkpoint import atomic_write_json
from .runner import load_run_config, load_trained_model

log = logging.getLogger("snnbench")

METRICS_FILE = "metrics_efficiency.json"

#: results.json columns added from metrics_efficiency.json (key path in that file)
RESULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "synops_dense": ("workload", "synaptic_operations", "dense"),
    "effective_macs": ("workload", "synaptic_operations", "effective_macs"),
    "effective_acs": ("workload", "synaptic_operations", "effective_acs"),
    "energy_pj": ("workload", "energy", "total_pj"),
    "energy_with_updates_pj": ("workload", "energy", "total_with_updates_as_mac_pj"),
    "neuron_updates": ("workload", "neuron_state_updates"),
    "activation_sparsity": ("workload", "activation_sparsity"),
    "footprint_bytes": ("static", "footprint_bytes"),
    "connection_sparsity": ("static", "connection_sparsity"),
}


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def finished_runs(run_dir: Path) -> list[tuple[str, str, int, Path]]:
    """``(experiment, model, seed, folder)`` of every run with a ``final.json``, in config order."""
    suite = load_run_config(run_dir)
    out = []
    for exp in suite.experiments:
        for m in exp.models:
            for seed in suite.seeds:
                folder = run_dir / exp.name / m.name / f"seed{seed}"
                if (folder / "final.json").is_file() and (folder / "checkpoint.safetensors").is_file():
                    out.append((exp.name, m.name, seed, folder))
    return out


def measure_run(
    run_dir: Path, experiment: str, model: str, seed: int, *, energy: EnergyModel = EnergyModel(),
    progress: bool = False,
) -> dict[str, Any]:
    """Static and workload metrics of one trained run (test split)."""
    suite = load_run_config(run_dir)
    exp = next(e for e in suite.experiments if e.name == experiment)
    net, data = load_trained_model(run_dir, experiment, model, seed)
    gen = epoch_generator(seed, 10**6, 2)  # the evaluation's noise stream (trainer.evaluate)
    work = measure_workload(net, data.test, batch_size=exp.train.eval_batch_size, generator=gen,
                            energy=energy, progress=progress, desc=f"metrics {experiment}/{model} s{seed}")
    return {
        "experiment": experiment, "model": model, "seed": seed,
        "model_class": type(net).__name__,
        "static": static_metrics(net),
        "workload": work,
        "notes": "per test sample; energy counts arithmetic only (no memory access)",
    }


def compute_run_metrics(
    run_dir: str | Path,
    *,
    energy: EnergyModel = EnergyModel(),
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Write ``metrics_efficiency.json`` for every finished run of ``run_dir`` (skipping runs
    that have one unless ``overwrite``), add the efficiency columns to ``results.json`` rows
    and return those rows. STDP run folders (no surrogate experiments) return ``[]``."""

    run_dir = Path(run_dir)
    check_energy_model(energy)
    suite = load_run_config(run_dir)
    if suite.kind != "surrogate":
        return []
    per_model: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for experiment, model, seed, folder in finished_runs(run_dir):
        path = folder / METRICS_FILE
        if path.is_file() and not overwrite:
            res = json.loads(path.read_text())
        else:
            log.info("measuring %s/%s seed %d", experiment, model, seed)
            res = measure_run(run_dir, experiment, model, seed, energy=energy, progress=progress)
            atomic_write_json(path, res)
        per_model.setdefault((experiment, model), []).append(res)

    results_path = run_dir / "results.json"
    if not results_path.is_file():
        return []
    results = json.loads(results_path.read_text())
    for row in results.get("rows", []):
        runs = per_model.get((row.get("task"), row.get("model")), [])
        for col, path in RESULT_COLUMNS.items():
            vals = [v for v in (_get(r, path) for r in runs) if isinstance(v, (int, float))]
            row[col] = statistics.fmean(vals) if vals else None
    results["energy_model"] = energy._asdict()
    atomic_write_json(results_path, results)
    return results.get("rows", [])


def format_efficiency_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: task, model, accuracy, dense SynOps, effective MACs/ACs, energy per sample."""
    lines = [
        "| task | model | test acc. (%) | dense SynOps | eff. MACs | eff. ACs | energy (nJ) | act. sparsity |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        def num(key: str, scale: float = 1.0, fmt: str = "{:,.0f}") -> str:
            v = r.get(key)
            return "-" if v is None else fmt.format(v * scale)
        lines.append(
            f"| {r['task']} | {r['model']} ({r.get('type', '')}) | {r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f} | "
            f"{num('synops_dense')} | {num('effective_macs')} | {num('effective_acs')} | "
            f"{num('energy_pj', 1e-3, '{:,.1f}')} | {num('activation_sparsity', 1.0, '{:.3f}')} |"
        )
    return "\n".join(lines)
