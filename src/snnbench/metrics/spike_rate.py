r"""Spike rate per layer: spikes per neuron per time step,
:math:`r = \sum_{t,b,i} m_{t,b} s_{t,b,i} / \sum_{t,b,i} m_{t,b}` over the valid steps
(:math:`m`, see :func:`~snnbench.metrics._layers.valid_step_mask`). Multiply by ``1000 / dt``
for a rate in Hz with ``dt`` in ms.
"""

from __future__ import annotations

from torch import nn

from ._layers import ALL_STEPS, Activity, ValidSteps


def spiking_layer_names(model: nn.Module, activity: Activity) -> list[str]:
    """Entries of ``activity`` whose ``"spikes"`` are a real neuron population, each once:
    ``model.spiking_layers`` when the model names them, else every entry with spikes."""
    names = getattr(model, "spiking_layers", None)
    if names is not None and not callable(names):
        return [n for n in names if n in activity and "spikes" in activity[n]]
    return [n for n, rec in activity.items() if "spikes" in rec]


def spike_counts(model: nn.Module, activity: Activity,
                 steps: ValidSteps = ALL_STEPS) -> dict[str, tuple[float, int]]:
    """Per spiking layer: (total spikes, neuron-steps) of one recorded batch over its valid
    ``steps``; the rate is their ratio (accumulate both over batches before dividing)."""
    out: dict[str, tuple[float, int]] = {}
    for name in spiking_layer_names(model, activity):
        total, _, count = steps.sum_count(activity[name]["spikes"])
        out[name] = (total, count)
    return out


def spike_rates(counts: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Rates from accumulated :func:`spike_counts`."""
    return {k: (s / n if n else 0.0) for k, (s, n) in counts.items()}
