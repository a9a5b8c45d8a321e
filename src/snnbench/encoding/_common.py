"""Shared pieces of the encoders: input coercion and the common module base class."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_tensor


def as_float(name: str, x: torch.Tensor, **checks) -> torch.Tensor:
    """Return ``x`` as a floating tensor after ``check_tensor`` (rank, NaN, range) checks.

    Integer inputs (e.g. uint8 pixels) are cast to the default dtype first so that the
    range checks apply to them too.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    min_ndim = checks.pop("min_ndim", None)
    if min_ndim is not None and x.ndim < min_ndim:
        # check_tensor's own wording describes time-first tensors; encoder inputs are
        # sample-first, so say that instead.
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (sample-first [B, ...]), "
            f"got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return check_tensor(name, x, **checks)


def steps_to_onehot(steps: torch.Tensor, num_steps: int, dtype: torch.dtype) -> torch.Tensor:
    """Turn per-input spike step indices ``[...]`` into a one-hot train ``[T, ...]``.

    An index outside ``[0, T)`` (we use ``T`` for "never") produces no spike.
    """
    t = torch.arange(num_steps, device=steps.device).view((num_steps,) + (1,) * steps.ndim)
    return (t == steps.unsqueeze(0)).to(dtype)


class Encoder(nn.Module):
    """Base class of the encoder wrappers: ``encoder(x, generator=None) -> spikes``.

    Every encoder takes the same call signature so that a runner can hold any of them;
    deterministic encoders (``stochastic = False``) do not draw random numbers and ignore
    ``generator``.
    """

    stochastic: bool = False

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} is an abstract base; use a concrete encoder")
