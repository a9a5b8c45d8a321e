"""Which time steps of a padded batch belong to each sample, and sums over those steps.

Used by the trainer (spike rates at evaluation) and by the workload metrics; a private
helper of every stage, so it imports nothing from the package.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["valid_step_mask", "padded_length_of", "extra_steps_of", "masked_sum_count"]


def valid_step_mask(
    num_steps: int,
    batch_size: int,
    lengths: Tensor | None,
    padded_length: int | None,
    extra_steps: int = 0,
) -> Tensor | None:
    """``[T, B]`` bool mask of the steps that belong to each sample, or None when all do.

    A series of ``lengths[b]`` valid steps out of ``padded_length`` may be run for
    ``T = padded_length * S + extra_steps`` network steps (``S`` sub-steps per series
    step; ``extra_steps`` frames a model appends after the input, e.g. so that delayed
    spikes arrive: ``model.extra_steps``); steps ``t >= lengths[b] * S + extra_steps`` are
    padding. A time axis that does not fit this is not the series' own axis, so no step is
    masked.
    """
    if lengths is None or padded_length is None or padded_length < 1:
        return None
    base = num_steps - extra_steps
    if base < padded_length or base % padded_length:
        return None
    if lengths.shape != (batch_size,):
        raise ValueError(f"lengths must have shape [B] = ({batch_size},), got {tuple(lengths.shape)}")
    sub = base // padded_length
    t = torch.arange(num_steps, device=lengths.device)[:, None]
    return t < (lengths.long() * sub + extra_steps)[None, :]


def padded_length_of(x: Tensor, lengths: Tensor | None) -> int | None:
    """Padded series length of a ``[B, L, C]`` batch as given to the model (the axis
    ``lengths`` counts), or None for batches without lengths."""
    return int(x.shape[1]) if lengths is not None and x.ndim >= 2 else None


def extra_steps_of(model: nn.Module) -> int:
    """Frames ``model`` appends after each input (a delay SNN's ``extra_steps``), else 0."""
    return int(getattr(model, "extra_steps", 0) or 0)


def masked_sum_count(
    x: Tensor, lengths: Tensor | None, padded_length: int | None, extra_steps: int = 0
) -> tuple[float, float, int]:
    """(sum, number of nonzero, number of elements) of time-first ``x`` over its valid steps."""
    mask = valid_step_mask(x.shape[0], x.shape[1], lengths, padded_length, extra_steps)
    xf = x.detach().double()
    if mask is None:
        return float(xf.sum()), float((xf != 0).sum()), x.numel()
    m = mask.to(x.device).reshape(mask.shape + (1,) * (x.ndim - 2)).double()
    per = x[0, 0].numel()
    return float((xf * m).sum()), float(((xf != 0) * m).sum()), int(mask.sum()) * per
