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
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .._files import atomic_write_bytes
from .._validation import check_int
from ..learning.labels import assign_labels, label_shares, predict
from ..learning.rstdp_readout import choose_rstdp_readout, fit_rstdp_readout, readout_predict
from ..models.diehl_cook import DiehlCookState, as_inputs, encode_events, init_state, present, respond, train_epoch
from .checkpoint import atomic_write_json, atomic_write_text
from .config import ConfigError, SuiteConfig
from .diehl_cook_config import DiehlCookConfig, build_stdp_configs, cell_name
from .stats import mean_std

__all__ = ["run_diehl_cook", "save_state", "run_stdp_suite", "build_stdp_configs", "cell_name",
           "summarise_cells", "format_cells"]

#: Draws a run's plots: ``plot(run_dir, weights [n_inputs, N], labels, raster [T, N], ptr,
#: idx, dt, num_classes)``; :func:`snnbench.report.stdp_plots.save_all` is one.
PlotFn = Callable[..., Any]

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
        if all("rstdp_readout" in m for m in ms):
            mean, std = mean_std([100 * m["rstdp_readout"]["test_accuracy"] for m in ms])
            rows[-1] |= {"rstdp_accuracy_mean": mean, "rstdp_accuracy_std": std}
    return rows


def format_cells(rows: list[dict[str, Any]]) -> str:
    readout = any("rstdp_accuracy_mean" in r for r in rows)
    extra = (" R-STDP readout test acc. (%) |", "---:|") if readout else ("", "")
    lines = ["| cell (encoding-neuron-rule-size) | test acc. (%) | per epoch |" + extra[0]
             + " seeds | train samples/s | time (s) |", "|---|---:|---|" + extra[1] + "---:|---:|---:|"]
    for r in rows:
        per = " / ".join(f"{a:.1f}" for a in r["accuracy_per_epoch_mean"])
        ro = ""
        if readout:
            ro = (f" {r['rstdp_accuracy_mean']:.1f} +- {r['rstdp_accuracy_std']:.1f} |"
                  if "rstdp_accuracy_mean" in r else " |")
        lines.append(f"| {r['cell']} | {r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f} | {per} |{ro} "
                     f"{r['seeds']} | {r['train_samples_per_s']:.0f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def run_stdp_suite(suite: SuiteConfig, run_dir: Path, *, progress: bool = True,
                   plot: PlotFn | None = None) -> str:
    """Run every cell x seed into ``run_dir`` (``plot`` draws each cell's plots); return
    the printed results table."""
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
        metrics = run_diehl_cook(cfg, xtr, ytr, xte, yte, run_dir=folder, progress=progress, num_classes=k,
                                 plot=plot)
        results.append((name, metrics))
    rows = summarise_cells(results)
    atomic_write_json(run_dir / "results.json", {"suite": suite.name, "kind": "stdp", "rows": rows})
    table = format_cells(rows)
    atomic_write_text(run_dir / "results.md", f"# {suite.name}\n\n{table}\n")
    return table


def save_state(state: DiehlCookState, labels: np.ndarray | None, path: Path) -> None:
    """safetensors: ``weights`` [n_neurons, n_inputs] (nn.Linear layout), ``theta``, ``labels``."""
    from safetensors.torch import save

    tensors = {
        "weights": torch.from_numpy(np.ascontiguousarray(state.weights.T)).float(),
        "theta": torch.from_numpy(state.theta.copy()).float(),
    }
    if labels is not None:
        tensors["labels"] = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    atomic_write_bytes(Path(path), save(tensors))


def _labels_of(y: Any, n: int, name: str) -> np.ndarray:
    y = np.asarray(torch.as_tensor(y).cpu().numpy(), dtype=np.int64).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample, got {y.shape[0]} for {n}")
    return y


def _epoch(cfg: DiehlCookConfig, ep: int, state: DiehlCookState, data: tuple, K: int,
           g: torch.Generator, metrics: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train one epoch, assign labels, test; appends to ``metrics``; returns (labels,
    the training responses the labels came from, the test responses)."""
    Xtr, ytr, Xte, yte = data
    f = cfg.nu_decay**ep
    tr = train_epoch(cfg.model_copy(update={"nu_pre": cfg.nu_pre * f, "nu_post": cfg.nu_post * f}),
                     state, Xtr, g)
    metrics["train_samples_per_s"].append(Xtr.shape[0] / tr["seconds"])
    metrics["repeats_mean"].append(float(tr["repeats"].mean()))
    if cfg.assign_from == "train_online":
        train_counts, eval_secs, n_eval = tr["counts"], 0.0, 0
    else:
        rtr = respond(cfg, state, Xtr, g)
        train_counts, eval_secs, n_eval = rtr["counts"], rtr["seconds"], Xtr.shape[0]
    labels = assign_labels(train_counts, ytr, K)
    weights = {"all": None, "proportion": label_shares(train_counts, ytr, K)}
    rte = respond(cfg, state, Xte, g)
    for vote, w in weights.items():
        acc = float((predict(rte["counts"], labels, K, w) == yte).mean())
        metrics["test_accuracy_per_epoch_by_vote"].setdefault(vote, []).append(acc)
    w = weights[cfg.vote]
    metrics["test_accuracy_per_epoch"].append(metrics["test_accuracy_per_epoch_by_vote"][cfg.vote][-1])
    metrics["train_accuracy_per_epoch"].append(float((predict(train_counts, labels, K, w) == ytr).mean()))
    metrics["eval_samples_per_s"].append((n_eval + Xte.shape[0]) / (eval_secs + rte["seconds"]))
    return labels, train_counts, rte["counts"]


def _rstdp_readout(cfg: DiehlCookConfig, train_counts: np.ndarray, ytr: np.ndarray, test_counts: np.ndarray,
                   yte: np.ndarray, K: int) -> dict[str, Any]:
    """R-STDP readout on the same responses label assignment used: settings chosen on a
    validation part of the training responses, then trained on all of them and tested."""
    t0 = time.perf_counter()
    settings, curves = choose_rstdp_readout(train_counts, ytr, K, seed=cfg.seed)
    weight = fit_rstdp_readout(train_counts, ytr, K, settings, torch.Generator().manual_seed(cfg.seed))
    return {"test_accuracy": float((readout_predict(weight, test_counts) == yte).mean()),
            "train_accuracy": float((readout_predict(weight, train_counts) == ytr).mean()),
            "settings": settings._asdict(), "validation_curves": curves,
            "seconds": time.perf_counter() - t0}


def _write_run(run_dir: Path, cfg: DiehlCookConfig, state: DiehlCookState, labels: np.ndarray,
               x_example: np.ndarray, K: int, metrics: dict[str, Any], plot: PlotFn | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.json", json.dumps(cfg.model_dump(), indent=2).encode())
    save_state(state, labels, run_dir / "weights.safetensors")
    if plot is not None:
        ptr, idx = encode_events(cfg, x_example, seed=cfg.seed)
        frozen = DiehlCookState(weights=state.weights.copy(), theta=state.theta.copy())
        _, raster = present(cfg, frozen, ptr, idx, learn=False, record=True)
        plot(run_dir, state.weights, labels, raster, ptr, idx, cfg.dt, K)
        metrics["plots"] = sorted(p.name for p in run_dir.glob("*.png"))
    atomic_write_bytes(run_dir / "metrics.json", json.dumps(metrics, indent=2).encode())


def run_diehl_cook(
    cfg: DiehlCookConfig,
    x_train: torch.Tensor | np.ndarray,
    y_train: torch.Tensor | np.ndarray,
    x_test: torch.Tensor | np.ndarray,
    y_test: torch.Tensor | np.ndarray,
    run_dir: Path | None = None,
    progress: bool = True,
    num_classes: int | None = None,
    plot: PlotFn | None = None,
) -> dict[str, Any]:
    """Train ``cfg.epochs`` epochs online, assign labels and test after each epoch.

    Returns metrics: ``test_accuracy_per_epoch`` (with ``cfg.vote``; both votes in
    ``test_accuracy_per_epoch_by_vote``), ``train_accuracy_per_epoch`` (assigned
    labels on the training responses), ``test_accuracy`` (last epoch), ``train_samples_per_s``
    (per epoch, online learning, one sample at a time), ``eval_samples_per_s``,
    ``silent_neurons`` (never fired on the training set at the end), ``repeats_mean``,
    ``seconds``, and with ``cfg.rstdp_readout`` the R-STDP readout's (``rstdp_readout``).
    With ``run_dir`` it writes ``config.json``, ``metrics.json``,
    ``weights.safetensors`` and, with ``plot`` (e.g. :func:`snnbench.report.stdp_plots.save_all`),
    the plots of the run.
    """
    t_start = time.perf_counter()
    Xtr = as_inputs("x_train", x_train, cfg.n_inputs)
    Xte = as_inputs("x_test", x_test, cfg.n_inputs)
    ytr = _labels_of(y_train, Xtr.shape[0], "y_train")
    yte = _labels_of(y_test, Xte.shape[0], "y_test")
    K = int(num_classes or max(ytr.max(), yte.max()) + 1)
    check_int("num_classes", K, minimum=2)
    g = torch.Generator().manual_seed(cfg.seed)
    state = init_state(cfg, g)
    metrics: dict[str, Any] = {"config": cfg.model_dump()} | {
        k: [] for k in ("test_accuracy_per_epoch", "train_accuracy_per_epoch", "train_samples_per_s",
                        "eval_samples_per_s", "repeats_mean")} | {"test_accuracy_per_epoch_by_vote": {}}
    for ep in range(cfg.epochs):
        labels, train_counts, test_counts = _epoch(cfg, ep, state, (Xtr, ytr, Xte, yte), K, g, metrics)
        if progress:
            print(
                f"[diehl-cook {cfg.n_neurons}n {cfg.encoding}/{cfg.neuron}/{cfg.rule} seed {cfg.seed}] "
                f"epoch {ep + 1}/{cfg.epochs}: test {metrics['test_accuracy_per_epoch'][-1]:.4f} "
                f"train {metrics['train_accuracy_per_epoch'][-1]:.4f} "
                f"train {metrics['train_samples_per_s'][-1]:.0f} samples/s "
                f"repeats {metrics['repeats_mean'][-1]:.2f} theta {state.theta.mean():.2f} mV",
                flush=True,
            )
    metrics["test_accuracy"] = metrics["test_accuracy_per_epoch"][-1]
    if cfg.rstdp_readout:
        metrics["rstdp_readout"] = _rstdp_readout(cfg, train_counts, ytr, test_counts, yte, K)
        if progress:
            print(f"[diehl-cook {cfg.n_neurons}n seed {cfg.seed}] R-STDP readout: test "
                  f"{metrics['rstdp_readout']['test_accuracy']:.4f} (label assignment "
                  f"{metrics['test_accuracy']:.4f})", flush=True)
    metrics["silent_neurons"] = int((train_counts.sum(0) == 0).sum())
    metrics["labels_histogram"] = np.bincount(labels[labels >= 0], minlength=K).tolist()
    metrics["seconds"] = time.perf_counter() - t_start
    if run_dir is not None:
        _write_run(Path(run_dir), cfg, state, labels, Xte[0], K, metrics, plot)
    metrics["state"] = state
    metrics["labels"] = labels
    return metrics
