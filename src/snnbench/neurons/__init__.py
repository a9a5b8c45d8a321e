"""Spiking neuron models: a pure functional core (``*_step`` and multi-step functions with
NamedTuple params/state, time-first ``[T, B, ...]``) and thin ``nn.Module`` wrappers.

- LIF / IF: :mod:`snnbench.neurons.lif`
- adaptive-threshold LIF (Diehl & Cook 2015): :mod:`snnbench.neurons.adaptive`
- Izhikevich 2003: :mod:`snnbench.neurons.izhikevich`
- current-based LIF (synaptic current + membrane): :mod:`snnbench.neurons.cuba`
- recurrent LIF layer: :mod:`snnbench.neurons.recurrent`
- surrogate gradients: :mod:`snnbench.neurons.surrogate`
- the whole-sequence kernels, their registry and backends: :mod:`snnbench.neurons.kernels`
"""

from .adaptive import (
    ALIFParams,
    ALIFState,
    alif,
    alif_initial_state,
    alif_step,
    check_alif_params,
    theta_decay_from_tau,
)
from .cuba import (
    CubaLIFParams,
    CubaLIFState,
    check_cuba_params,
    cuba_initial_state,
    cuba_lif,
    cuba_lif_step,
)
from .izhikevich import (
    PRESETS as IZHIKEVICH_PRESETS,
    IzhikevichParams,
    IzhikevichState,
    bursting,
    chattering,
    check_izhikevich_params,
    fast_spiking,
    intrinsically_bursting,
    izhikevich,
    izhikevich_initial_state,
    izhikevich_preset,
    izhikevich_step,
    regular_spiking,
)
from .lif import (
    LIFParams,
    LIFState,
    beta_from_tau,
    check_lif_params,
    if_neuron,
    if_params,
    lif,
    lif_initial_state,
    lif_step,
    refractory_steps_from_ms,
)
from .modules import IF, LIF, AdaptiveLIF, CubaLIF, Izhikevich
from .recurrent import RecurrentLIF, RLIFState, recurrent_lif, rlif_initial_state
from .surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle, get_surrogate

__all__ = [
    "ALIFParams", "ALIFState", "alif", "alif_initial_state", "alif_step", "check_alif_params",
    "theta_decay_from_tau",
    "IZHIKEVICH_PRESETS", "IzhikevichParams", "IzhikevichState", "bursting", "chattering",
    "check_izhikevich_params", "fast_spiking", "intrinsically_bursting", "izhikevich",
    "izhikevich_initial_state", "izhikevich_preset", "izhikevich_step", "regular_spiking",
    "LIFParams", "LIFState", "beta_from_tau", "check_lif_params", "if_neuron", "if_params",
    "lif", "lif_initial_state", "lif_step", "refractory_steps_from_ms",
    "CubaLIFParams", "CubaLIFState", "check_cuba_params", "cuba_initial_state", "cuba_lif",
    "cuba_lif_step",
    "IF", "LIF", "AdaptiveLIF", "CubaLIF", "Izhikevich",
    "RecurrentLIF", "RLIFState", "recurrent_lif", "rlif_initial_state",
    "ATan", "FastSigmoid", "Sigmoid", "Surrogate", "Triangle", "get_surrogate",
]
