"""How every neuron kind runs a sequence: the reference loop (its autograd step applied
over time) or one registered kernel of a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from . import kernels
from ._checks import as_tensor, check_broadcast


def scan(step: Callable, xs: Sequence[torch.Tensor], state, return_membrane: bool):
    """Apply ``step(x_t, state) -> (s_t, membrane_t, state)`` over ``xs`` (the steps of an
    input, from ``x_seq.unbind(0)``: indexing ``x_seq[t]`` of a tensor that requires grad
    makes backward O(T^2)). Returns ``(spikes [T, ...], state)``, or ``(spikes, state,
    membrane [T, ...])`` with ``return_membrane``."""
    spikes, mems = [], []
    for x in xs:
        s, m, state = step(x, state)
        spikes.append(s)
        if return_membrane:
            mems.append(m)
    out = torch.stack(spikes)
    return (out, state, torch.stack(mems)) if return_membrane else (out, state)


def run_fused(kind: str, x_seq: torch.Tensor, states: tuple, decays: dict, p, backend: str,
              extra: tuple[float, ...] = ()):
    """Run ``x_seq`` through the ``kind`` kernel of ``backend``: ``decays`` (name -> a
    number or a per-neuron tensor, each checked to broadcast to the neuron shape) are the
    kernel's parameters, ``p`` gives threshold, reset, ``detach_reset`` and surrogate.
    Returns the kernel's ``(spikes, *final_states)``."""
    params = []
    for name, value in decays.items():
        t = as_tensor(value, x_seq)
        check_broadcast(name, t, x_seq.shape[1:])
        params.append(t)
    c = kernels.Consts(float(p.threshold), float(p.v_reset), kernels.RESET_CODE[p.reset],
                       bool(p.detach_reset), p.surrogate, extra)
    return kernels.run(kind, kernels.resolve(x_seq, backend, kind), x_seq, states, tuple(params), c)
