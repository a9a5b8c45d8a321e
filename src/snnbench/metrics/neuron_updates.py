r"""Neuron state updates (the clock-driven counterpart of NeuroBench ``MembraneUpdates``).

A clock-driven simulation updates every neuron's state once per time step
(LIF: :math:`v_t = \beta v_{t-1} + x_t`, a multiply and an add), whether it spikes or not;
so the count per sample is ``neurons x valid steps``, summed over the populations (the
non-spiking output integrator included). Recurrent ANN layers update ``hidden`` units per
step per stacked layer; feed-forward ANN layers keep no state and count 0.
"""

from __future__ import annotations

from torch import nn

from ._layers import ALL_STEPS, Activity, ValidSteps


def neuron_state_updates(model: nn.Module, activity: Activity,
                         steps: ValidSteps = ALL_STEPS) -> dict[str, int]:
    """Per population (named by its first activity entry): state updates of one recorded
    batch over its valid ``steps``, totals over the batch."""
    out: dict[str, int] = {}
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for name, rec in activity.items():
        mem = rec.get("membrane")
        if mem is None:
            continue
        key = (mem.data_ptr(), tuple(mem.shape))
        if key in seen:  # a population recorded under two synapses (input and recurrent)
            continue
        seen.add(key)
        out[name] = steps.count(mem) * mem[0, 0].numel()
    layers = getattr(model, "synapse_layers", None)
    if callable(layers):
        for name, layer in layers():
            if isinstance(layer, nn.RNNBase) and name in activity and "input" in activity[name]:
                x = activity[name]["input"]
                out[name] = steps.count(x) * layer.hidden_size * layer.num_layers
    return out
