"""Shared plumbing of the workload metrics: which recorded tensors are time-first, which
steps of a padded series are valid, and the fan-out of every input element of a layer.

Layer kinds:

- ``"linear"``: ``nn.Linear`` or any module with a 2-d ``weight`` ``[out, in]`` applied to
  the last input dimension (e.g. a delayed linear layer after its delays are rounded: one
  synapse per connection).
- ``"conv"``: ``nn.Conv1d/2d/3d`` (not transposed).
- ``"rnn"``: ``nn.RNN/GRU/LSTM`` (unidirectional, no projection); inputs are recorded
  time-first ``[T, B, I]``.

Recorded layer inputs are sample-first (``[B, ...]``: ANN layers) or time-first
(``[T, B, ...]``: SNN layers, recurrent baselines); the rank tells which, because each
layer kind knows the rank of one sample's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .._steps import extra_steps_of, masked_sum_count, padded_length_of, valid_step_mask  # noqa: F401  (re-exported)

LayerKind = Literal["linear", "conv", "rnn"]

Activity = dict[str, dict[str, Tensor]]
"""A model's ``last_activity``: per layer name, the recorded tensors by kind
(``"input"``, ``"spikes"``, ``"membrane"``, ``"output"``)."""


@dataclass(frozen=True)
class ValidSteps:
    """Which steps of a recorded time-first batch ``[T, B, ...]`` belong to its samples:
    ``lengths`` ``[B]`` valid series steps out of ``padded_length``, and ``extra_steps``
    frames the model appends after each input (see
    :func:`~snnbench._steps.valid_step_mask`). The default counts every step."""

    lengths: Tensor | None = None
    padded_length: int | None = None
    extra_steps: int = 0

    def mask(self, x: Tensor) -> Tensor | None:
        """``[T, B]`` bool mask of ``x``'s valid steps, or None when all are valid."""
        return valid_step_mask(x.shape[0], x.shape[1], self.lengths, self.padded_length,
                               self.extra_steps)

    def count(self, x: Tensor) -> int:
        """How many (step, sample) pairs of ``x`` are valid."""
        mask = self.mask(x)
        return x.shape[0] * x.shape[1] if mask is None else int(mask.sum())

    def sum_count(self, x: Tensor) -> tuple[float, float, int]:
        """(sum, nonzero count, element count) of ``x`` over its valid steps."""
        return masked_sum_count(x, self.lengths, self.padded_length, self.extra_steps)


ALL_STEPS = ValidSteps()


def layer_kind(layer: nn.Module) -> LayerKind:
    """Classify a synapse layer; raise ValueError for a layer whose operations we cannot count."""
    if isinstance(layer, nn.RNNBase):
        if layer.bidirectional or getattr(layer, "proj_size", 0):
            raise ValueError(
                f"layer {type(layer).__name__} must be unidirectional without proj_size to count "
                f"its operations, got bidirectional={layer.bidirectional}, "
                f"proj_size={getattr(layer, 'proj_size', 0)}"
            )
        return "rnn"
    if isinstance(layer, nn.modules.conv._ConvNd):
        if layer.transposed:
            raise ValueError(f"layer must be a Conv1d/2d/3d, transposed convolutions are not supported, got {layer}")
        return "conv"
    w = getattr(layer, "weight", None)
    if isinstance(w, Tensor) and w.ndim == 2:
        return "linear"
    raise ValueError(
        f"layer must be a Linear/Conv1d/Conv2d/Conv3d/RNN/GRU/LSTM or have a 2-d weight "
        f"[out, in], got {type(layer).__name__}"
    )


def sample_ndim(layer: nn.Module) -> int:
    """Rank of one sample's input to ``layer`` (no batch or time axis)."""
    kind = layer_kind(layer)
    if kind == "conv":
        return 1 + len(layer.kernel_size)
    return 1


def is_time_first(layer: nn.Module, inputs: Tensor) -> bool:
    """True when ``inputs`` carries a leading time axis ``[T, B, ...]``."""
    if layer_kind(layer) == "rnn":
        return True
    nd = sample_ndim(layer)
    if inputs.ndim == nd + 1:
        return False
    if inputs.ndim == nd + 2:
        return True
    if layer_kind(layer) == "linear" and inputs.ndim > nd + 2:
        return True  # [T, B, ..., in]: extra axes are more rows
    raise ValueError(
        f"inputs of {type(layer).__name__} must be [B, ...] with {nd} sample dims or "
        f"[T, B, ...] with {nd} sample dims, got shape {tuple(inputs.shape)}"
    )


def binary_like(x: Tensor) -> bool:
    """NeuroBench's spike test: every value is -1, 0 or 1 (signed spikes count as spikes)."""
    if x.numel() == 0:
        return True
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def fan_out_map(layer: nn.Module, sample_shape: tuple[int, ...], *, dense: bool = False) -> Tensor:
    """Number of synaptic operations one nonzero input element triggers, per input position.

    Linear: column ``j`` of ``W`` has ``sum_o [W_oj != 0]`` connections. Conv: an input
    pixel reaches every output channel through every kernel tap whose output position lies
    inside the output map (stride, padding, dilation and groups included). Both are the
    gradient of ``sum(layer_bin(x))`` with respect to ``x``, where ``layer_bin`` has weights
    ``[W != 0]`` (all ones with ``dense``) and no bias; this is computed exactly in float64.
    Returns a float64 tensor of ``sample_shape``.
    """
    kind = layer_kind(layer)
    w = layer.weight.detach()
    wb = torch.ones_like(w, dtype=torch.float64) if dense else (w != 0).to(torch.float64)
    if kind == "linear":
        if sample_shape != (w.shape[1],):
            raise ValueError(f"inputs of a linear layer with {w.shape[1]} inputs must end in {w.shape[1]}, got {sample_shape}")
        return wb.sum(0)
    if kind != "conv":
        raise ValueError(f"fan_out_map covers linear and conv layers, got {type(layer).__name__}")
    n = len(layer.kernel_size)
    if len(sample_shape) != n + 1 or sample_shape[0] != layer.in_channels:
        raise ValueError(
            f"one input sample of {type(layer).__name__} must be [{layer.in_channels}, "
            f"{n} spatial dims], got {sample_shape}"
        )
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[n]
    # callers run under no_grad (evaluation); this small probe needs autograd
    with torch.enable_grad():
        x = torch.ones((1, *sample_shape), dtype=torch.float64, requires_grad=True)
        if layer.padding_mode != "zeros":
            # reflect/replicate/circular padding reuses border inputs: pad explicitly so the
            # gradient counts those extra connections
            xp = torch.nn.functional.pad(x, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
            y = conv(xp, wb, None, layer.stride, 0, layer.dilation, layer.groups)
        else:
            y = conv(x, wb, None, layer.stride, layer.padding, layer.dilation, layer.groups)
        (grad,) = torch.autograd.grad(y.sum(), x)
    return grad[0]
