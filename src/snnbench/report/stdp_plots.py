"""Plots of an STDP run: receptive fields, label assignment, one raster, the grid heatmap.

Every function draws on a new figure, saves it (PNG) and closes it, so that long sweeps do
not accumulate open figures. matplotlib runs on the non-interactive Agg backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "receptive_fields",
    "assignment_histogram",
    "raster",
    "grid_heatmap",
    "save_all",
]


def _tiles(weights: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """[n_inputs, n_neurons] -> one mosaic image, each neuron's weights as a tile."""
    h, w = image_shape
    n = weights.shape[1]
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for j in range(n):
        r, c = divmod(j, cols)
        out[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = weights[:, j].reshape(h, w)
    return out


def receptive_fields(
    weights: np.ndarray,
    path: Path,
    image_shape: tuple[int, int] = (28, 28),
    labels: np.ndarray | None = None,
) -> Path:
    """Weights [n_inputs, n_neurons] as image tiles (one per neuron), optional label titles."""
    weights = np.asarray(weights)
    if weights.shape[0] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"weights must have {image_shape[0] * image_shape[1]} rows for image_shape {image_shape}, "
            f"got shape {weights.shape}"
        )
    mosaic = _tiles(weights, image_shape)
    size = min(12.0, 2.0 + 0.5 * math.sqrt(weights.shape[1]) * 1.2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(np.ma.masked_invalid(mosaic), cmap="hot_r", interpolation="nearest")
    ax.set_axis_off()
    title = f"receptive fields of {weights.shape[1]} neurons"
    if labels is not None:
        title += " (assigned labels, row by row: " + "".join(
            "-" if lab < 0 else str(int(lab)) for lab in np.asarray(labels)[:40]
        ) + ("..." if len(labels) > 40 else "") + ")"
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def assignment_histogram(labels: np.ndarray, num_classes: int, path: Path) -> Path:
    """How many neurons each class received (silent neurons, label -1, counted apart)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0], minlength=num_classes)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(np.arange(num_classes), counts, color="tab:blue")
    ax.set_xticks(np.arange(num_classes))
    ax.set_xlabel("assigned class")
    ax.set_ylabel("neurons")
    ax.set_title(f"label assignment ({int((labels < 0).sum())} silent neurons)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def raster(
    out_raster: np.ndarray,
    path: Path,
    dt: float = 1.0,
    in_ptr: np.ndarray | None = None,
    in_idx: np.ndarray | None = None,
) -> Path:
    """Spikes of one presentation: inputs (CSR events, optional) above, neurons [T, N] below."""
    out_raster = np.asarray(out_raster)
    T = out_raster.shape[0]
    n_rows = 2 if in_ptr is not None else 1
    fig, axes = plt.subplots(n_rows, 1, figsize=(7, 2.5 * n_rows), sharex=True, squeeze=False)
    k = 0
    if in_ptr is not None and in_idx is not None:
        steps = np.repeat(np.arange(len(in_ptr) - 1), np.diff(in_ptr))
        axes[0, 0].scatter(steps * dt, in_idx, s=0.5, c="k", marker="|")
        axes[0, 0].set_ylabel("input")
        axes[0, 0].set_title(f"one presentation: {len(in_idx)} input spikes, {int(out_raster.sum())} output spikes")
        k = 1
    t, j = np.nonzero(out_raster)
    axes[k, 0].scatter(t * dt, j, s=4, c="tab:red", marker="|")
    axes[k, 0].set_ylabel("neuron")
    axes[k, 0].set_ylim(-1, out_raster.shape[1])
    axes[k, 0].set_xlim(0, T * dt)
    axes[k, 0].set_xlabel("time (ms)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def grid_heatmap(
    acc: dict[tuple[str, str, str], float],
    path: Path,
    encodings: Sequence[str] = ("poisson", "bernoulli", "rank_order"),
    neurons: Sequence[str] = ("adaptive_lif", "lif", "if"),
    rules: Sequence[str] = ("stdp", "weight_dependent", "hebbian"),
    chance: float = 0.1,
) -> Path:
    """Accuracy of the encoding x neuron x rule grid: rows encoding/neuron, columns rule."""
    rows = [(e, n) for e in encodings for n in neurons]
    m = np.full((len(rows), len(rules)), np.nan)
    for r, (e, n) in enumerate(rows):
        for c, rule in enumerate(rules):
            if (e, n, rule) in acc:
                m[r, c] = acc[(e, n, rule)]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.5))
    im = ax.imshow(m * 100, cmap="viridis", vmin=chance * 100, vmax=100, aspect="auto")
    for r in range(len(rows)):
        for c in range(len(rules)):
            if not np.isnan(m[r, c]):
                ax.text(c, r, f"{100 * m[r, c]:.1f}", ha="center", va="center",
                        color="w" if m[r, c] < 0.6 else "k", fontsize=8)
    ax.set_xticks(range(len(rules)), list(rules))
    ax.set_yticks(range(len(rows)), [f"{e} / {n}" for e, n in rows])
    ax.set_title("test accuracy (%)")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def save_all(
    run_dir: Path,
    weights: np.ndarray,
    labels: np.ndarray,
    out_raster: np.ndarray,
    in_ptr: np.ndarray,
    in_idx: np.ndarray,
    dt: float,
    num_classes: int,
) -> list[Path]:
    """The three per-run plots; receptive fields only when inputs form a square image."""
    run_dir = Path(run_dir)
    paths = []
    side = int(round(math.sqrt(weights.shape[0])))
    if side * side == weights.shape[0]:
        paths.append(receptive_fields(weights, run_dir / "receptive_fields.png", (side, side), labels))
    paths.append(assignment_histogram(labels, num_classes, run_dir / "assignment_histogram.png"))
    paths.append(raster(out_raster, run_dir / "raster.png", dt, in_ptr, in_idx))
    return paths
