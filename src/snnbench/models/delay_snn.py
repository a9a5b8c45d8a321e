r"""Feed-forward SNN whose synapses carry learnable delays (DCLS-style Gaussian kernels).

The layout is :class:`~snnbench.models.snn.FeedForwardSNN`'s with every ``nn.Linear``
replaced by a :class:`~snnbench.synapses.delays.DelayedLinear`:

.. code-block:: text

    x [B, ...] --encoder--> [T, B, in] --(+ extra_steps of silence)-->
        [DelayedLinear -> neurons] * len(hidden) --> DelayedLinear (or Linear) --> output
        --> readout over the valid steps (each sample's length + extra_steps) --> logits

A delayed synapse computes, per connection ``i -> o`` with weight :math:`w_{oi}` and delay
position :math:`d_{oi}\in[0, K-1]` steps (``K = max_delay``; a step is the data's frame,
e.g. ``dt`` ms),

.. math::

    I_t[o] = b_o + \sum_i w_{oi} \sum_{k=0}^{K-1} g_{oi}[k]\, x_{t-k}[i],

``g`` a normalised Gaussian of width ``sigma`` (steps) centred on ``d``; sigma is annealed
from ``sigma_init`` to ``sigma_final`` over the epochs (the experiment runner calls
its ``on_epoch_start`` hook at each epoch start), and after training its ``finalize`` hook switches to
exact integer delays. The neurons are the builders' (``lif`` by default):
:math:`h_t = \beta v_{t-1} + I_t`, spike when :math:`h_t \ge \vartheta`, soft reset.

Latency and padding: a delay postpones evidence by up to ``K - 1`` steps per layer, so
without care the last frames of a recording would reach the output after the readout has
stopped. ``forward`` therefore appends ``extra_steps`` (default ``K - 1``) zero frames
(silence) and extends every sample's valid window by the same amount. A zero-padded series
gives the same logits as the same series unpadded, as in the other SNN builders.

Parameter count (what a baseline is matched to): the trainable parameters, i.e. weights,
biases **and** delay positions (one position per connection), so a delayed layer counts
about twice a plain one; a ``match``-ed GRU is sized to that total.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._signature import takes_options_of
from .._validation import check_int
from ..synapses.delays import DelayedLinear
from .ann import _widths
from .components import make_neuron
from .snn import SpikingClassifier

__all__ = ["DelaySNN"]

# the options of every DelayedLinear layer that DelaySNN takes (bias on by default)
_DELAY_OPTIONS = ("bias", "delay_init", "init_delay", "sigma_init", "sigma_final")


def append_silence(seq: Tensor, mask: Tensor | None, steps: int) -> tuple[Tensor, Tensor | None]:
    """``seq`` ``[T, B, ...]`` followed by ``steps`` zero frames, and the valid-step ``mask``
    ``[T, B]`` (or None) extended so that each sample's window ends ``steps`` later."""
    if steps:
        seq = torch.cat([seq, seq.new_zeros(steps, *seq.shape[1:])], 0)
        if mask is not None:
            # mask is 1 on each sample's prefix t < L_b; prepending the ones shifts that
            # prefix to t < L_b + steps, the sample's window extended by steps
            mask = torch.cat([mask.new_ones(steps, mask.shape[1]), mask], 0)
    return seq, mask


class DelaySNN(SpikingClassifier):
    """Fully connected SNN with a learnable delay per connection (see the module docstring).

    Args:
        input_shape: ``(L, C)`` time series (T = L, the usual case), ``(F,)`` or
            ``(C, H, W)`` static inputs (encoded into ``num_steps`` steps).
        hidden: hidden layer widths, e.g. ``[128, 128]``.
        num_classes: number of classes.
        max_delay: number of lags K of every delayed synapse (delays 0..K-1 steps).
        neuron, neuron_kwargs, encoder, encoder_kwargs, num_steps, readout, output_beta:
            as in :class:`~snnbench.models.snn.FeedForwardSNN`.
        delay_output: give the output synapses delays too (default True, as in
            Hammouamri et al. 2023); False makes the output layer a plain ``nn.Linear``.
        bias: learn a bias per neuron in the delayed layers (default True, as the plain
            feed-forward SNN's ``nn.Linear`` layers do).
        delay_init: ``"uniform"`` (U[0, K-1]), ``"zero"`` or ``"constant"`` (``init_delay``).
        init_delay: the delay (steps) for ``delay_init="constant"``.
        sigma_init: initial Gaussian width in steps (default ``K / 2``).
        sigma_final: width reached at the last epoch (steps, default 0.5).
        sigma_schedule: ``"exponential"``, ``"linear"``, ``"cosine"`` or ``"constant"``.
        extra_steps: zero frames appended after the input (default ``K - 1``), so that
            delayed evidence from the last frames still reaches the readout.
    """

    @takes_options_of(SpikingClassifier.__init__, after="max_delay", positional=True)
    @takes_options_of(DelayedLinear.__init__, only=_DELAY_OPTIONS, after="delay_output",
                      positional=True, defaults={"bias": True})
    @takes_options_of(DelayedLinear.__init__, only=("max_delay",), after="num_classes",
                      positional=True, defaults={"max_delay": 25})
    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        delay_output: bool = True,
        sigma_schedule: str = "exponential",
        extra_steps: int | None = None,
        **options: Any,
    ) -> None:
        max_delay = options.pop("max_delay")
        delay_kw = {k: options.pop(k) for k in _DELAY_OPTIONS}
        bias = delay_kw["bias"]
        super().__init__(input_shape, num_classes, **options)
        self.max_delay = check_int("max_delay", max_delay, minimum=1)
        self.hidden = _widths("hidden", hidden)
        if not isinstance(delay_output, bool):
            raise ValueError(f"delay_output must be True or False, got {delay_output!r}")
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        self.delay_output = delay_output
        self.extra_steps = (
            self.max_delay - 1 if extra_steps is None
            else check_int("extra_steps", extra_steps, minimum=0)
        )
        # A delayed copy of a constant input is not constant over the first K steps: the
        # run-the-first-synapse-once shortcut of the base class does not apply.
        self.constant_input = False
        delay_kw["schedule"] = sigma_schedule
        sizes = [math.prod(self.encoded_shape), *self.hidden]
        self.fcs = nn.ModuleList(
            DelayedLinear(a, b, self.max_delay, **delay_kw) for a, b in zip(sizes, sizes[1:])
        )
        self.neurons = nn.ModuleList(
            make_neuron(self.neuron, (h,), self.neuron_kwargs, overwrite_input=True)
            for h in self.hidden  # each after its synapse, whose fresh output nothing else reads
        )
        self.out: nn.Module = (
            DelayedLinear(sizes[-1], self.num_classes, self.max_delay, **delay_kw)
            if delay_output else nn.Linear(sizes[-1], self.num_classes)
        )
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        return self._fc_layers(self.neurons)

    def delay_layers(self) -> list[DelayedLinear]:
        """The delayed synapse layers in forward order."""
        return [syn for _, syn, _ in self._layers() if isinstance(syn, DelayedLinear)]

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq.flatten(2)
        for name, syn, nrn in self._layers():
            if isinstance(syn, DelayedLinear):
                current, _ = syn(h)  # one conv1d over the whole [T, B, in] sequence
            else:
                current = syn(h)  # nn.Linear acts on the last dim of [T, B, in]
            h = self._neuron_run(name, nrn, h, current)
        return h

    def _network_input(
        self, x: Tensor, lengths: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor | None]:
        """The encoded input followed by ``extra_steps`` zero frames after each sample's
        last valid step."""
        return append_silence(*self.encode(x, lengths, generator), self.extra_steps)

    def extra_repr(self) -> str:
        return (
            f"hidden={self.hidden}, max_delay={self.max_delay}, delay_output={self.delay_output}, "
            f"extra_steps={self.extra_steps}, readout={self.readout!r}"
        )
