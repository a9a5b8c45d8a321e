r"""Activation sparsity (NeuroBench ``ActivationSparsity``): the fraction of zero
activations, :math:`1 - \#\{a \ne 0\} / \#a`, per layer and over all layers, counted over
every neuron, valid time step and sample.

Activations are the spikes of each spiking population (SNNs) or the outputs of the hidden
layers (ANNs: post-ReLU values, recurrent hidden states). The logits are a readout, not an
activation, and are left out (as NeuroBench, which hooks activation modules only).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._layers import ALL_STEPS, Activity, ValidSteps
from .spike_rate import spiking_layer_names


def activation_counts(model: nn.Module, activity: Activity, logits: Tensor | None = None,
                      steps: ValidSteps = ALL_STEPS) -> dict[str, tuple[float, int]]:
    """Per layer: (nonzero activations, activations) of one recorded batch over its valid
    ``steps``."""
    out: dict[str, tuple[float, int]] = {}
    spiking = spiking_layer_names(model, activity)
    if spiking:
        for name in spiking:
            _, nz, n = steps.sum_count(activity[name]["spikes"])
            out[name] = (nz, n)
        return out
    for name, rec in activity.items():
        y = rec.get("output")
        if y is None:
            continue
        if logits is not None and y.shape == logits.shape and torch.equal(y, logits.detach()):
            continue
        if _is_recurrent(model, name):  # recurrent outputs are recorded time-first
            _, nz, n = steps.sum_count(y)
        else:
            nz, n = float((y != 0).sum()), y.numel()
        out[name] = (nz, n)
    return out


def _is_recurrent(model: nn.Module, name: str) -> bool:
    layers = getattr(model, "synapse_layers", None)
    if not callable(layers):
        return False
    return any(n == name and isinstance(m, nn.RNNBase) for n, m in layers())


def activation_sparsity(counts: dict[str, tuple[float, int]]) -> tuple[float, dict[str, float]]:
    """(overall sparsity, per-layer sparsity) from accumulated :func:`activation_counts`."""
    per = {k: (1.0 - nz / n if n else 0.0) for k, (nz, n) in counts.items()}
    nz_all = sum(v[0] for v in counts.values())
    n_all = sum(v[1] for v in counts.values())
    return (1.0 - nz_all / n_all if n_all else 0.0), per
