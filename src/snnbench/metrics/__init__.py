"""Efficiency metrics with NeuroBench names: static (parameter count, footprint,
connection sparsity) and workload (accuracy, spike rate, activation sparsity, synaptic
operations dense / effective MACs / effective ACs, neuron state updates), and an energy
estimate from operation counts. Metrics of whole run folders:
:mod:`snnbench.experiments.run_metrics`.
"""

from ._layers import ValidSteps
from .activation_sparsity import activation_counts, activation_sparsity
from .classification_accuracy import classification_accuracy
from .connection_sparsity import connection_sparsity
from .energy import EnergyModel, estimate_energy
from .footprint import footprint
from .neuron_updates import neuron_state_updates
from .parameter_count import parameter_count
from .spike_rate import spike_counts, spike_rates
from .static import static_metrics
from .synaptic_operations import SynOps, layer_synaptic_operations, synaptic_operations
from .workload import WorkloadAccumulator, measure_workload

__all__ = [
    "EnergyModel",
    "SynOps",
    "ValidSteps",
    "WorkloadAccumulator",
    "activation_counts",
    "activation_sparsity",
    "classification_accuracy",
    "connection_sparsity",
    "estimate_energy",
    "footprint",
    "layer_synaptic_operations",
    "measure_workload",
    "neuron_state_updates",
    "parameter_count",
    "spike_counts",
    "spike_rates",
    "static_metrics",
    "synaptic_operations",
]
