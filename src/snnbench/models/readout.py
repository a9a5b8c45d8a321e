"""Masked readouts: time-first output activity ``[T, B, K]`` -> class scores ``[B, K]``.

A classifier's readout must ignore the zero padding of variable-length series, so every
readout here takes an optional ``mask`` ``[T, B]`` (1 on valid steps, 0 on padding) and
gives, for a padded series, exactly the scores of the same series unpadded. With
``mask=None`` every step counts.

Names match ``snnbench.encoding``'s readouts: ``spike_count``, ``mean_membrane``,
``max_membrane``, ``last_membrane`` (at each sample's last valid step) and
``first_spike_time`` (alias ``first_spike``; a differentiable score, see below).
``softmax_sum`` (models only) sums the per-step softmax of the membrane over the valid
steps, the output of Hammouamri et al. 2023's ``'sum'`` loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._validation import check_choice, check_tensor

SPIKE_READOUTS = ("spike_count", "first_spike_time", "first_spike")
MEMBRANE_READOUTS = ("mean_membrane", "max_membrane", "last_membrane", "softmax_sum")
READOUTS = SPIKE_READOUTS + MEMBRANE_READOUTS


def _mask_like(out: Tensor, mask: Tensor | None) -> Tensor:
    """Mask ``[T, B]`` broadcast to ``out``'s shape ``[T, B, K...]`` (ones if None)."""
    if mask is None:
        return torch.ones(out.shape[:2], dtype=out.dtype, device=out.device).view(
            *out.shape[:2], *([1] * (out.ndim - 2))
        )
    if mask.shape != out.shape[:2]:
        raise ValueError(
            f"mask must have shape [T, B] = {tuple(out.shape[:2])}, got {tuple(mask.shape)}"
        )
    return mask.to(out.dtype).view(*mask.shape, *([1] * (out.ndim - 2)))


def spike_count(spikes: Tensor, mask: Tensor | None = None) -> Tensor:
    """Score_k = sum_t m_t s_{t,k}: the number of output spikes over the valid steps."""
    return (spikes * _mask_like(spikes, mask)).sum(0)


def mean_membrane(v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Score_k = sum_t m_t v_{t,k} / sum_t m_t: membrane averaged over the valid steps."""
    m = _mask_like(v, mask)
    return (v * m).sum(0) / m.sum(0).clamp_min(1.0)


def max_membrane(v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Score_k = max over valid t of v_{t,k} (padding set to -inf before the max)."""
    m = _mask_like(v, mask).expand_as(v)
    return v.masked_fill(m == 0, float("-inf")).amax(0)


def last_membrane(v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Score_k = v_{t*,k} with t* the last valid step of each sample."""
    if mask is None:
        return v[-1]
    m = _mask_like(v, mask)
    steps = m.reshape(m.shape[0], m.shape[1]).sum(0).long().clamp_min(1) - 1  # [B]
    idx = steps.view(1, -1, *([1] * (v.ndim - 2))).expand(1, *v.shape[1:])
    return v.gather(0, idx).squeeze(0)


def softmax_sum(v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Score_k = sum_t m_t softmax(v_t)_k: per-step class probabilities of the membrane,
    summed over the valid steps (in [0, L]); cross-entropy then treats the sum as logits,
    as Hammouamri et al. 2023's ``'sum'`` loss does."""
    return (torch.softmax(v, dim=-1) * _mask_like(v, mask)).sum(0)


def first_spike_time(spikes: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""Score_k = (L - t_k) / L for the first spike at step t_k of a sample with L valid
    steps, 0 when neuron k never spikes: earlier spikes score higher.

    Written as :math:`\sum_t f_{t,k} (L - t)/L` with the first-spike indicator
    :math:`f_t = s_t \prod_{t'<t} (1 - s_{t'})`, so surrogate gradients flow through it;
    dividing by L makes the score independent of padding.
    """
    m = _mask_like(spikes, mask)
    s = spikes * m
    # exclusive cumulative product: prod over t' < t of (1 - s_t')
    none_before = torch.cumprod(torch.cat([torch.ones_like(s[:1]), 1 - s[:-1]], 0), 0)
    first = s * none_before
    length = m.sum(0).clamp_min(1.0)  # [B, 1...]
    t = torch.arange(s.shape[0], dtype=s.dtype, device=s.device).view(
        -1, *([1] * (s.ndim - 1))
    )
    return (first * (length - t) / length).sum(0)


_READOUT_FNS: dict[str, Callable[[Tensor, Tensor | None], Tensor]] = {
    "spike_count": spike_count,
    "first_spike_time": first_spike_time,
    "first_spike": first_spike_time,  # the name snnbench.encoding uses for the score
    "mean_membrane": mean_membrane,
    "max_membrane": max_membrane,
    "last_membrane": last_membrane,
    "softmax_sum": softmax_sum,
}


def get_masked_readout(name: str) -> Callable[[Tensor, Tensor | None], Tensor]:
    """Return ``f(out [T, B, K], mask [T, B] | None) -> [B, K]`` by name."""
    check_choice("readout", name, READOUTS)
    return _READOUT_FNS[name]


def lengths_to_mask(lengths: Tensor, num_steps: int) -> Tensor:
    """``mask[t, b] = 1.0 if t < lengths[b] else 0.0``, shape ``[T, B]``."""
    check_tensor("lengths", lengths, ndim=1, finite=False)
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > num_steps):
        raise ValueError(
            f"lengths must lie in [1, {num_steps}] (the padded length), got values in "
            f"[{int(lengths.min())}, {int(lengths.max())}]"
        )
    t = torch.arange(num_steps, device=lengths.device).unsqueeze(1)
    return (t < lengths.to(t.device).unsqueeze(0)).float()
