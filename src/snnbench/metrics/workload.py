"""Workload metrics of a model over a data split, per sample (NeuroBench conventions).

One pass over the split in batches, without gradients, with ``model.record = True``; after
every batch the recorded activity (``model.last_activity``: per synapse layer the tensor that
entered it, and the spikes/membrane or output of the layer behind it) is reduced to counts
and dropped, so memory stays at one batch. Counts are summed over the split and divided by
the number of samples at the end. Padding steps of variable-length series are not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_int
from .activation_sparsity import activation_counts, activation_sparsity
from .classification_accuracy import classification_accuracy
from ._layers import ValidSteps, binary_like, extra_steps_of, padded_length_of
from .energy import EnergyModel, check_energy_model, estimate_energy
from .neuron_updates import neuron_state_updates
from .spike_rate import spike_counts, spike_rates
from .synaptic_operations import SynOps, synaptic_operations


def _add_pairs(acc: dict[str, list[float]], new: dict[str, tuple[float, int]]) -> None:
    for k, (a, b) in new.items():
        cur = acc.setdefault(k, [0.0, 0])
        cur[0] += a
        cur[1] += b


@dataclass
class WorkloadAccumulator:
    """Sums the per-batch counts; :meth:`compute` turns them into per-sample metrics."""

    samples: int = 0
    correct: int = 0
    ops: dict[str, SynOps] = field(default_factory=dict)
    layer_types: dict[str, str] = field(default_factory=dict)
    operand_kinds: dict[str, set[str]] = field(default_factory=dict)
    spikes: dict[str, list[float]] = field(default_factory=dict)
    activations: dict[str, list[float]] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)

    def update(
        self,
        model: nn.Module,
        logits: Tensor,
        labels: Tensor,
        *,
        lengths: Tensor | None = None,
        padded_length: int | None = None,
    ) -> None:
        """Add one batch whose forward pass just ran with ``model.record = True``."""
        activity = getattr(model, "last_activity", None)
        if not activity:
            raise ValueError(
                f"model {type(model).__name__} recorded no activity; it must fill last_activity "
                "when model.record is True"
            )
        # frames the model appends after each input (delay SNNs) belong to the sample
        steps = ValidSteps(lengths, padded_length, extra_steps_of(model))
        for name, ops in synaptic_operations(model, activity, steps).items():
            self.ops[name] = self.ops.get(name, SynOps()) + ops
        for name, layer in model.synapse_layers():
            self.layer_types.setdefault(name, type(layer).__name__)
            kinds = self.operand_kinds.setdefault(name, set())
            kinds.add("AC" if binary_like(activity[name]["input"]) else "MAC")
            if isinstance(layer, nn.RNNBase):
                kinds.add("MAC")  # the recurrent operand h_{t-1} is analog
        _add_pairs(self.spikes, spike_counts(model, activity, steps))
        _add_pairs(self.activations, activation_counts(model, activity, logits, steps))
        for name, n in neuron_state_updates(model, activity, steps).items():
            self.updates[name] = self.updates.get(name, 0) + n
        self.samples += int(labels.shape[0])
        self.correct += int((logits.argmax(1) == labels.to(logits.device)).sum())

    def compute(self, energy: EnergyModel = EnergyModel()) -> dict[str, Any]:
        """Per-sample metrics as a JSON-ready dict (counts are means over the samples)."""
        if self.samples == 0:
            raise ValueError("no samples were measured; the split is empty")
        check_energy_model(energy)
        n = self.samples
        total = SynOps()
        for ops in self.ops.values():
            total = total + ops
        per = total.scaled(1 / n)
        updates = sum(self.updates.values()) / n
        sparsity, sparsity_layers = activation_sparsity(self.activations)
        synaptic_pj = estimate_energy(per.effective_macs, per.effective_acs, 0.0, energy)
        return {
            "samples": n,
            "accuracy": self.correct / n,
            "synaptic_operations": {
                "dense": per.dense,
                "effective_macs": per.effective_macs,
                "effective_acs": per.effective_acs,
            },
            "layers": {
                name: {
                    "type": self.layer_types.get(name, ""),
                    "operation": "+".join(sorted(self.operand_kinds.get(name, set()), reverse=True)),
                    **ops.scaled(1 / n).as_dict(),
                }
                for name, ops in self.ops.items()
            },
            "spike_rate": spike_rates({k: (v[0], int(v[1])) for k, v in self.spikes.items()}),
            "mean_spike_rate": (sum(v[0] for v in self.spikes.values()) / max(sum(v[1] for v in self.spikes.values()), 1))
            if self.spikes else None,
            "activation_sparsity": sparsity,
            "activation_sparsity_per_layer": sparsity_layers,
            "neuron_state_updates": updates,
            "neuron_state_updates_per_layer": {k: v / n for k, v in self.updates.items()},
            "energy": {
                "ac_pj": energy.ac_pj,
                "mac_pj": energy.mac_pj,
                "update_pj": energy.update_pj,
                "source": energy.source,
                "synaptic_pj": synaptic_pj,
                "neuron_updates_pj": updates * energy.update_pj,
                "total_pj": synaptic_pj + updates * energy.update_pj,
                # the same state updates priced as one multiply-accumulate each: an upper
                # bound on what a LIF/GRU state update adds to the synaptic estimate
                "total_with_updates_as_mac_pj": synaptic_pj + updates * energy.mac_pj,
            },
        }


@torch.no_grad()
def measure_workload(
    model: nn.Module,
    split: Any,
    *,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    energy: EnergyModel = EnergyModel(),
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "metrics",
) -> dict[str, Any]:
    """Accuracy, synaptic operations, activity and energy per sample of ``model`` on
    ``split`` (an ``ArraySplit``), in file order. ``generator`` feeds stochastic encoders
    (pass the one used for evaluation to reproduce its predictions)."""
    from tqdm.auto import tqdm

    from ..data.batching import iterate_batches

    batch_size = check_int("batch_size", batch_size)
    if not hasattr(model, "record"):
        raise ValueError(f"model {type(model).__name__} has no 'record' attribute; it cannot report activity")
    acc = WorkloadAccumulator()
    was_training, was_recording = model.training, model.record
    model.eval()
    model.record = True
    start = time.perf_counter()
    preds: list[Tensor] = []
    try:
        n_batches = -(-len(split) // batch_size)
        for x, y, lengths in tqdm(iterate_batches(split, batch_size, shuffle=False), total=n_batches,
                                  desc=desc, leave=False, disable=not progress, unit="batch"):
            x, y = x.to(device), y.to(device)
            lengths = lengths.to(device) if lengths is not None else None
            logits = model(x, lengths=lengths, generator=generator)
            acc.update(model, logits, y, lengths=lengths, padded_length=padded_length_of(x, lengths))
            preds.append(logits.argmax(1).cpu())
            model.last_activity = {}
    finally:
        model.record = was_recording
        model.train(was_training)
    out = acc.compute(energy)
    out["accuracy"] = classification_accuracy(torch.cat(preds), split.y.cpu()) if preds else 0.0
    out["seconds"] = time.perf_counter() - start
    return out
