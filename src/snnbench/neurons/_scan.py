"""The reference loop every neuron kind shares: its autograd step applied over time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


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
