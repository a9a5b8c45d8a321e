"""Learning: STDP-family rules (:mod:`snnbench.learning.stdp`) and the surrogate-gradient
trainer (:mod:`snnbench.learning.trainer`)."""

from .stdp import (
    RULES,
    STDP,
    STDPParams,
    STDPState,
    apply_update,
    check_stdp_params,
    clamp_weights,
    normalize_weights,
    stdp_delta,
    stdp_delta_conv,
    stdp_sequence,
    stdp_step,
    teacher_force,
    teacher_spikes,
    trace_sequence,
    trace_step,
)

__all__ = [
    "RULES",
    "STDP",
    "STDPParams",
    "STDPState",
    "apply_update",
    "check_stdp_params",
    "clamp_weights",
    "normalize_weights",
    "stdp_delta",
    "stdp_delta_conv",
    "stdp_sequence",
    "stdp_step",
    "teacher_force",
    "teacher_spikes",
    "trace_sequence",
    "trace_step",
]
