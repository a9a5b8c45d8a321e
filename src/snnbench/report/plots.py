"""Figures of the report (matplotlib, Agg backend: no display needed). Every function
returns a ``matplotlib.figure.Figure``; :func:`figure_png` turns one into PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.titlesize": 10, "axes.grid": False})


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of ``fig`` (closed afterwards so figures do not pile up)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _log_ticks(axis: Any) -> None:
    """Readable log-axis labels at 1, 2 and 5 per decade (matplotlib's default labels either
    only the decades, too few on a short range, or every minor tick, which overlap)."""
    axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 100 else f"{v:g}"))


def accuracy_vs_energy(rows: list[dict[str, Any]]) -> Figure:
    """Test accuracy (mean +- std over seeds) against estimated energy per sample (log x);
    circles are SNNs, squares ANNs, one colour per task."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for r in rows:
        if r.get("energy_pj") is None or not r["energy_pj"] > 0:
            continue
        c = colors[tasks.index(r["task"]) % 10]
        nj = r["energy_pj"] / 1e3
        xerr = None if not r.get("energy_pj_std") else r["energy_pj_std"] / 1e3
        ax.errorbar(nj, r["accuracy_mean"], yerr=r["accuracy_std"], xerr=xerr, fmt="o" if r["is_snn"] else "s",
                    color=c, ms=7, capsize=3, mec="k", mew=0.5)
        ax.annotate(f"{r['model']}", (nj, r["accuracy_mean"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    _log_ticks(ax.xaxis)
    ax.set_xlabel("estimated energy per sample (nJ, compute only, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs energy (circle = SNN, square = ANN)")
    handles = [plt.Line2D([], [], marker="o", ls="", color=colors[i % 10], label=t) for i, t in enumerate(tasks)]
    if handles:
        ax.legend(handles=handles, title="task", fontsize=8, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def training_curves(histories: dict[str, list[list[dict[str, Any]]]], title: str) -> Figure:
    """Per model (key) a list of per-seed histories (``metrics.jsonl`` rows): training loss
    and validation (else training) accuracy against epoch; one thin line per seed."""
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, (model, seeds) in enumerate(histories.items()):
        c = colors[i % 10]
        for j, hist in enumerate(seeds):
            if not hist:
                continue
            ep = [h.get("epoch", k + 1) for k, h in enumerate(hist)]
            lab = model if j == 0 else None
            ax_l.plot(ep, [h.get("train_loss", np.nan) for h in hist], color=c, lw=1.2, label=lab, marker=".")
            key = "val_accuracy" if any("val_accuracy" in h for h in hist) else "train_accuracy"
            ax_a.plot(ep, [100 * h.get(key, np.nan) for h in hist], color=c, lw=1.2, label=lab, marker=".",
                      ls="-" if key == "val_accuracy" else "--")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("training loss (cross-entropy)")
    ax_l.set_title("Training loss")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title("Validation accuracy (dashed: training, no validation split)")
    for ax in (ax_l, ax_a):
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax_a.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(predictions: Sequence[int], labels: Sequence[int], class_names: Sequence[str] | None,
                     title: str) -> Figure:
    """Row-normalised confusion matrix (rows: true class, %), with counts in the cells."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(predictions, dtype=int)
    k = int(max(y.max(initial=0), p.max(initial=0)) + 1)
    if class_names is not None and len(class_names) >= k:
        k = len(class_names)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y, p), 1)
    rows = cm.sum(1, keepdims=True)
    pct = np.divide(100.0 * cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    size = min(7.0, 2.2 + 0.35 * k)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    names = list(class_names)[:k] if class_names is not None and len(class_names) >= k else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=90 if k > 10 or max(map(len, names)) > 3 else 0, fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if pct[i, j] > 60 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = 100.0 * np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title}\naccuracy {acc:.1f}% on {cm.sum()} test samples")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="% of true class")
    return fig


def raster_and_membrane(layers: list[tuple[str, np.ndarray | None, np.ndarray | None]], dt_label: str,
                        title: str, max_traces: int = 5) -> Figure:
    """Per layer ``(name, spikes [T, N] or None, membrane [T, N] or None)`` of one sample:
    a spike raster (left) and the membrane of the most active neurons (right)."""
    n = len(layers)
    fig, axes = plt.subplots(n, 2, figsize=(10.0, 2.1 * n + 0.6), squeeze=False)
    for (name, spikes, mem), (ax_r, ax_m) in zip(layers, axes):
        if spikes is not None and spikes.size:
            t_idx, n_idx = np.nonzero(spikes)
            # tick height scales with the panel: one neuron row of ~1.6 in
            ax_r.scatter(t_idx, n_idx, s=max(4.0, 900.0 / max(spikes.shape[1], 1)), marker="|",
                         color="k", linewidths=1.0)
            ax_r.set_xlim(-0.5, spikes.shape[0] - 0.5)
            ax_r.set_ylim(-0.5, spikes.shape[1] - 0.5)
            rate = spikes.mean()
            ax_r.set_title(f"{name}: spikes ({int(spikes.sum())} total, {rate:.3f} per neuron per step)")
        else:
            ax_r.text(0.5, 0.5, "non-spiking layer (leaky integrator read out by membrane)",
                      ha="center", va="center", transform=ax_r.transAxes)
            ax_r.set_xticks([])
            ax_r.set_yticks([])
            ax_r.set_title(f"{name}: no spikes")
        ax_r.set_xlabel(f"time step ({dt_label})")
        ax_r.set_ylabel("neuron index")
        if spikes is not None and spikes.size:  # a non-spiking layer keeps its empty axis
            ax_r.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax_m.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if mem is not None and mem.size:
            # most spikes first; ties (e.g. silent layers) broken by the highest membrane peak
            count = spikes.sum(0) if spikes is not None and spikes.size else np.zeros(mem.shape[1])
            peak = mem.max(0)
            order = np.lexsort((-peak, -count))
            for i in order[:max_traces]:
                ax_m.plot(mem[:, i], lw=1.0, label=f"neuron {i}")
            ax_m.legend(fontsize=6, loc="upper right", ncol=2)
        shown = min(max_traces, 0 if mem is None else mem.shape[1])
        spiking = spikes is not None
        ax_m.set_title(f"{name}: membrane of the {shown} " + ("most active neurons" if spiking else "highest neurons"))
        ax_m.set_xlabel(f"time step ({dt_label})")
        ax_m.set_ylabel("membrane (threshold units)" if spiking else "membrane (readout score)")
        ax_m.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def receptive_fields(weights: np.ndarray, title: str, max_neurons: int = 100) -> Figure:
    """Incoming weights ``[n_neurons, n_inputs]`` of each neuron shown as an image (square
    inputs, e.g. 28x28 pixels)."""
    w = np.asarray(weights, dtype=float)
    side = int(round(math.sqrt(w.shape[1])))
    if side * side != w.shape[1]:
        raise ValueError(f"weights must have a square number of inputs per neuron, got {w.shape[1]}")
    n = min(w.shape[0], max_neurons)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(0.75 * cols + 0.6, 0.75 * rows + 0.6), squeeze=False)
    vmax = float(np.percentile(w[:n], 99.5)) or 1.0
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            ax.imshow(w[k].reshape(side, side), cmap="hot_r", vmin=0, vmax=vmax)
    fig.suptitle(f"{title}\n(weights of the first {n} neurons, {side}x{side} inputs)")
    return fig


def operations_bars(rows: list[dict[str, Any]], title: str) -> Figure:
    """Per model: dense SynOps and effective MACs / ACs per sample (log scale)."""
    rows = [r for r in rows if r.get("synops_dense") is not None]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(rows) + 2.0), 3.4))
    x = np.arange(len(rows))
    wdt = 0.27
    for k, (key, lab) in enumerate((("synops_dense", "dense SynOps"), ("effective_macs", "effective MACs"),
                                    ("effective_acs", "effective ACs"))):
        vals = [max(r.get(key) or 0.0, 0.0) for r in rows]
        ax.bar(x + (k - 1) * wdt, [v if v > 0 else np.nan for v in vals], wdt, label=lab)
    ax.set_xticks(x, [f"{r['task']}\n{r['model']}" for r in rows], fontsize=8)
    ax.set_yscale("log")
    _log_ticks(ax.yaxis)
    ax.set_ylabel("operations per sample (log)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
