r"""Readouts: map a time-first output ``[T, B, K]`` (spikes or membrane) to scores ``[B, K]``.

- ``spike_count``: :math:`\sum_t s_t` (differentiable through surrogate spikes).
- ``mean_membrane``: :math:`\frac{1}{T}\sum_t v_t`; ``max_membrane``: :math:`\max_t v_t`;
  ``last_membrane``: :math:`v_{T-1}`.
- ``first_spike_time``: index of the first step with a spike, ``T`` where there is none
  (float). As a score the earliest neuron should win, so ``first_spike`` returns
  :math:`-t_{first}`.

Any trailing shape works (``[T, B, ...]`` -> ``[B, ...]``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .._validation import check_choice, check_tensor


def _check(name: str, x: torch.Tensor) -> torch.Tensor:
    check_tensor(name, x, min_ndim=2)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one time step, got shape {tuple(x.shape)}")
    return x


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Spikes per neuron over the whole window: ``[T, B, K]`` -> ``[B, K]``."""
    return _check("spikes", spikes).sum(dim=0)


def mean_membrane(membrane: torch.Tensor) -> torch.Tensor:
    """Time-averaged membrane potential: ``[T, B, K]`` -> ``[B, K]``."""
    return _check("membrane", membrane).mean(dim=0)


def max_membrane(membrane: torch.Tensor) -> torch.Tensor:
    """Peak membrane potential over time: ``[T, B, K]`` -> ``[B, K]`` (gradient to the argmax)."""
    return _check("membrane", membrane).amax(dim=0)


def last_membrane(membrane: torch.Tensor) -> torch.Tensor:
    """Membrane potential at the last step: ``[T, B, K]`` -> ``[B, K]``."""
    return _check("membrane", membrane)[-1]


def first_spike_time(spikes: torch.Tensor) -> torch.Tensor:
    """Step index of each neuron's first spike, ``T`` where it never spikes (float ``[B, K]``)."""
    spikes = _check("spikes", spikes)
    num_steps = spikes.shape[0]
    fired = spikes.detach() > 0
    t = torch.arange(num_steps, device=spikes.device).view((num_steps,) + (1,) * (spikes.ndim - 1))
    never = torch.full_like(t, num_steps)
    dtype = spikes.dtype if spikes.is_floating_point() else torch.get_default_dtype()
    return torch.where(fired, t, never).amin(dim=0).to(dtype)


def first_spike(spikes: torch.Tensor) -> torch.Tensor:
    """Score for time-to-first-spike decoding: ``-first_spike_time`` (earliest is largest)."""
    return -first_spike_time(spikes)


READOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "spike_count": spike_count,
    "mean_membrane": mean_membrane,
    "max_membrane": max_membrane,
    "last_membrane": last_membrane,
    "first_spike": first_spike,
}


def get_readout(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Readout function by name (one of ``READOUTS``)."""
    return READOUTS[check_choice("name", name, tuple(READOUTS))]


class Readout(nn.Module):
    """Module holding a named readout: ``Readout("spike_count")(spikes) -> [B, K]``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.fn = get_readout(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return repr(self.name)
