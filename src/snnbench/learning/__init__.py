"""Learning: STDP-family rules (:mod:`snnbench.learning.stdp`; their online event backend
:mod:`snnbench.learning.stdp_online`), label assignment (:mod:`snnbench.learning.labels`),
layer hooks (:mod:`snnbench.learning.hooks`) and the surrogate-gradient trainer
(:mod:`snnbench.learning.trainer`)."""

from .labels import assign_labels, class_rates, label_shares, predict
from .stdp import (
    RULES,
    STDP,
    Rule,
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
    "Rule",
    "assign_labels",
    "class_rates",
    "label_shares",
    "predict",
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
