r"""A reward-trained readout: ``K`` output neurons on top of spike-count features, trained
with R-STDP (:class:`~snnbench.learning.reward.RSTDP`, Mozafari et al. 2018) instead of
label assignment.

Each sample's feature layer (e.g. the excitatory layer of the Diehl & Cook network) emits
``c_i`` spikes during the presentation. The output neurons are non-leaky integrate-and-fire
units, ``u_k = sum_i W[k, i] c_i``; at the end of the presentation the most depolarised one
fires once and is the decision (ties: the lowest index). The reward is ``+1`` for a correct
decision and ``-1`` otherwise, given to the winner only (Mozafari's rule).

The rule sees the presentation as its traces do. The feature spikes all come before the
decision spike, so with additive pre traces and ``tau_pre`` much longer than a presentation
the causal sum of the winner's synapse ``i`` is its spike count ``c_i`` (``tau_pre = 1e6`` ms
against 350 ms: within 4e-4 relative) and there are no anti-causal pairs. The presentation is
therefore passed to :meth:`RSTDP.step` in two steps (all feature spikes, then the decision
spike with the reward), which gives the same update as stepping through every millisecond:

- reward: :math:`\Delta W_{w,i} = a_r^+\, c_i\, (W_{w,i} - w_{min})(w_{max} - W_{w,i})`;
- punishment: :math:`\Delta W_{w,i} = -a_p^-\, c_i\, (W_{w,i} - w_{min})(w_{max} - W_{w,i})`.

Synapses of features that did not fire are left alone (they take part in no pair).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._validation import check_int
from .reward import RSTDP
from .stdp import STDPParams

__all__ = ["ReadoutSettings", "readout_rule", "readout_step", "fit_rstdp_readout", "readout_scores",
           "readout_predict", "choose_rstdp_readout"]


class ReadoutSettings(NamedTuple):
    """``rate``: the R-STDP amplitudes ``a_r^+ = a_p^- = rate`` (per spike); ``epochs``:
    passes over the training features in a shuffled order; ``w_init``: initial weights
    drawn uniformly from ``[w_init - 0.05, w_init + 0.05]`` (within the soft bounds 0..1)."""

    rate: float = 1e-2
    epochs: int = 10
    w_init: float = 0.5


def readout_rule(rate: float) -> RSTDP:
    """R-STDP with additive traces that outlast a presentation (see the module doc)."""
    return RSTDP(stdp=STDPParams(nu_pre=1.0, nu_post=1.0, tau_pre=1e6, tau_post=1e6, trace_mode="add"),
                 a_r_plus=rate, a_r_minus=rate, a_p_plus=rate, a_p_minus=rate).check()


def _counts(name: str, x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must be spike counts [samples, features], got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"{name} must be finite non-negative spike counts")
    return t


def readout_scores(weight: torch.Tensor, counts: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Membrane of every output neuron at the end of each presentation, ``[samples, K]``."""
    return _counts("counts", counts) @ weight.T


def readout_predict(weight: torch.Tensor, counts: np.ndarray | torch.Tensor) -> np.ndarray:
    """The decision (the most depolarised output neuron) for each sample."""
    return readout_scores(weight, counts).argmax(1).numpy()


def readout_step(weight: np.ndarray, counts: np.ndarray, label: int, rule: RSTDP) -> int:
    """One presentation: the decision, the reward, the winner's R-STDP update of ``weight``
    ``[K, features]`` (float64, in place). Returns the winner.

    The same update as stepping ``rule`` (:func:`readout_rule`) through the presentation's
    spikes with the decision spike and its reward at the end (checked in the tests).
    """
    winner = int(np.argmax(weight @ counts))
    # causal pairs: every feature spike precedes the decision; no anti-causal pairs
    amp = rule.a_r_plus if winner == label else -rule.a_p_minus
    row = weight[winner]
    row += amp * counts * (row - rule.wmin) * (rule.wmax - row)
    return winner


def fit_rstdp_readout(counts: np.ndarray | torch.Tensor, labels: np.ndarray, num_classes: int,
                      settings: ReadoutSettings, generator: torch.Generator,
                      on_epoch=None) -> torch.Tensor:
    """Train the readout weights ``[num_classes, features]`` online, one sample at a time.

    Each sample's update is :func:`readout_step`. ``on_epoch(epoch, weight)`` is called after
    every epoch (validation curves).
    """
    c = _counts("counts", counts).numpy()
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if y.shape[0] != c.shape[0]:
        raise ValueError(f"labels must have one entry per sample, got {y.shape[0]} for {c.shape[0]}")
    K = check_int("num_classes", num_classes, minimum=2)
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"labels must be in [0, {K - 1}], got values from {y.min()} to {y.max()}")
    check_int("epochs", settings.epochs, minimum=1)
    rule = readout_rule(settings.rate)
    weight = settings.w_init + 0.1 * (torch.rand(K, c.shape[1], generator=generator, dtype=torch.float64) - 0.5)
    W = weight.numpy()  # shares memory: updated in place
    for epoch in range(settings.epochs):
        for k in torch.randperm(c.shape[0], generator=generator).tolist():
            readout_step(W, c[k], int(y[k]), rule)
        if on_epoch is not None:
            on_epoch(epoch, weight)
    return weight


def choose_rstdp_readout(counts: np.ndarray, labels: np.ndarray, num_classes: int, seed: int,
                         rates: tuple[float, ...] = (3e-3, 1e-2, 3e-2), max_epochs: int = 20,
                         val_fraction: float = 0.2) -> tuple[ReadoutSettings, dict[str, list[float]]]:
    """Choose the rate and the number of epochs on a stratified validation part of the
    training features (the test split is not seen). Returns the settings and the
    validation accuracy per epoch of every rate."""
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for k in np.unique(y):
        rows = rng.permutation(np.where(y == k)[0])
        val[rows[: max(1, int(round(val_fraction * len(rows))))]] = True
    curves: dict[str, list[float]] = {}
    best = (-1.0, ReadoutSettings())
    for rate in rates:
        acc: list[float] = []

        def score(epoch: int, w: torch.Tensor) -> None:
            acc.append(float((readout_predict(w, counts[val]) == y[val]).mean()))

        fit_rstdp_readout(counts[~val], y[~val], num_classes, ReadoutSettings(rate, max_epochs),
                          torch.Generator().manual_seed(seed), on_epoch=score)
        curves[f"{rate:g}"] = acc
        e = int(np.argmax(acc))
        if acc[e] > best[0]:
            best = (acc[e], ReadoutSettings(rate, e + 1))
    return best[1], curves
