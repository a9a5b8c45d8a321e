r"""The delay network of Hammouamri, Khalfaoui-Hassani & Masquelier (2023, "Learning delays
in spiking neural networks using dilated convolutions with learnable spacings"): fully
connected layers whose synapses carry a learnable delay, with batch norm over time and
dropout, as their published configurations build it.

.. code-block:: text

    x [B, L, C] --(+ extra_steps zero frames)-->
        [DelayedLinear (no bias) -> batch norm over T and B -> LIF -> dropout held over T]
        * len(hidden) --> DelayedLinear (no bias) --> leaky integrator --> readout

A delayed synapse ``i -> o`` adds :math:`w_{oi}\sum_k g_{oi}[k]\,x_{t-k}[i]` to the current
of ``o`` (:class:`~snnbench.synapses.delays.DelayedLinear`: a Gaussian ``g`` of width
:math:`\sigma` steps centred on the learned delay :math:`d_{oi}\in[0, K-1]`). As in the
reference, :math:`\sigma` starts at ``K // 2`` steps and shrinks geometrically to
``sigma_final`` (0.23) over the first ``anneal_fraction`` (a quarter) of the epochs, then
holds; after training the delays are rounded to whole steps (the runner's ``finalize``
hook). ``delays=False`` gives the same network with plain ``Linear`` synapses (the
reference's no-delay model). Weights start Kaiming-uniform for ReLU gain
(:math:`U(\pm\sqrt{6/\mathrm{fan\_in}})`), positions uniform over ``[0, K-1]``.

The neurons are :class:`~snnbench.neurons.LIF`: :math:`h_t = \beta v_{t-1} + I_t`, spike
when :math:`h_t \ge 1`; the reference's SpikingJelly ``LIFNode(tau, decay_input=False)``
is :math:`\beta = 1 - 1/\tau` with ``tau`` in steps, hard reset to 0 and a detached reset
(the presets pass these as ``neuron_kwargs``). The output layer never spikes
(:class:`~snnbench.models.components.LeakyIntegrator` with the same :math:`\beta`).
``extra_steps`` (default ``(K - 1) // 2``, the reference's right padding) zero frames
follow the input so that delayed evidence of the last frames still reaches the readout.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive, check_range
from ..synapses.delays import DelayedLinear, anneal_sigma
from .ann import _widths
from .blocks import NEURON_KINDS, Neurons, TimeDropout, image_rows, make_norm, row_series_shape
from .delay_snn import append_silence
from .snn import SpikingClassifier

__all__ = ["AnnealedDelayedLinear", "DelaySpikingMLP"]


class AnnealedDelayedLinear(DelayedLinear):
    """A :class:`DelayedLinear` whose sigma reaches ``sigma_final`` after the first
    ``anneal_fraction`` of the epochs (``floor(fraction * epochs)``, at least 1) and then
    holds: :math:`\\sigma_e = \\sigma_0 (\\sigma_1/\\sigma_0)^{\\min(e, F)/F}` for the
    geometric schedule (Hammouamri et al. 2023: F = epochs // 4)."""

    def __init__(self, *args: Any, anneal_fraction: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.anneal_fraction = check_range("anneal_fraction", anneal_fraction, 0.0, 1.0)
        if self.anneal_fraction == 0.0:
            raise ValueError("anneal_fraction must be > 0 (the share of epochs over which sigma shrinks)")

    def anneal(self, epoch: int, total_epochs: int) -> float:
        last = max(1, int(self.anneal_fraction * check_int("total_epochs", total_epochs, minimum=1)))
        e = min(check_int("epoch", epoch, minimum=0), last)
        s = anneal_sigma(e, last + 1, self.sigma_init, self.sigma_final, self.schedule)
        self.set_sigma(s)
        return s


class DelaySpikingMLP(SpikingClassifier):
    """Fully connected SNN with learned delays, batch norm over time and dropout (see the
    module docstring).

    Args:
        input_shape: ``(L, C)`` series (the usual case: T = L), or a static shape encoded
            into ``num_steps`` steps.
        hidden: hidden layer widths, e.g. ``[256, 256]``.
        num_classes: number of classes.
        max_delay: lags K of every delayed synapse (delays 0..K-1 steps).
        delays: False replaces every delayed synapse by a plain ``nn.Linear`` (no bias).
        norm: ``"bn"`` (batch norm over T and B), ``"tdbn"`` or ``"none"``.
        dropout: probability, one mask per sample and neuron held over all steps.
        neuron: ``"lif"``, ``"if"`` or ``"plif"`` (learned tau).
        sigma_init: initial Gaussian width in steps (default ``K // 2``, at least 0.5).
        sigma_final: width reached after the annealing (default 0.23 steps).
        anneal_fraction: share of the epochs over which sigma shrinks (default 0.25).
        extra_steps: zero frames appended to the input (default ``(K - 1) // 2``).
        rows: read an image ``(C, H, W)`` row by row, a series of ``H`` steps of ``C*W``
            inputs (as :class:`~snnbench.models.zoo.SpikingMLP` does for ``cifar10-line``).
        neuron_kwargs, encoder, encoder_kwargs, num_steps, readout, output_beta: as in
            :class:`~snnbench.models.snn.FeedForwardSNN`.
    """

    @takes_options_of(SpikingClassifier.__init__, after="dropout",
                      defaults={"readout": "mean_membrane"})
    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        *,
        max_delay: int = 25,
        delays: bool = True,
        norm: str = "bn",
        dropout: float = 0.0,
        sigma_init: float | None = None,
        sigma_final: float = 0.23,
        anneal_fraction: float = 0.25,
        extra_steps: int | None = None,
        rows: bool = False,
        **options: Any,
    ) -> None:
        neuron, encoder = options["neuron"], options["encoder"]
        check_choice("neuron", neuron, NEURON_KINDS)
        if not isinstance(rows, bool):
            raise ValueError(f"rows must be True or False, got {rows!r}")
        self.rows = rows
        if rows:
            shape = tuple(int(v) for v in input_shape)
            self.image_shape, input_shape = shape, row_series_shape(shape, encoder)
        nkw = dict(options["neuron_kwargs"] or {})
        super().__init__(
            input_shape, num_classes, **{
                **options, "neuron": "if" if neuron == "if" else "lif",
                "neuron_kwargs": {**nkw, "learn_tau": True} if neuron == "plif" else nkw},
        )
        if not isinstance(delays, bool):
            raise ValueError(f"delays must be True or False, got {delays!r}")
        self.delays = delays
        self.neuron_kind = neuron
        self.max_delay = check_int("max_delay", max_delay, minimum=1)
        self.hidden = _widths("hidden", hidden, allow_empty=False)
        self.norm = check_choice("norm", norm, ("bn", "tdbn", "none"))
        self.drop = TimeDropout(dropout)
        self.extra_steps = (
            (self.max_delay - 1) // 2 if extra_steps is None
            else check_int("extra_steps", extra_steps, minimum=0)
        )
        if not delays:
            self.extra_steps = 0 if extra_steps is None else self.extra_steps
        self.constant_input = False  # a delayed copy of a constant input is not constant
        s0 = max(float(self.max_delay // 2), 0.5) if sigma_init is None else check_positive("sigma_init", sigma_init)
        s1 = check_positive("sigma_final", sigma_final)
        sizes = [math.prod(self.encoded_shape), *self.hidden, self.num_classes]

        def synapse(a: int, b: int) -> nn.Module:
            if not delays:
                layer = nn.Linear(a, b, bias=False)
            else:
                layer = AnnealedDelayedLinear(a, b, self.max_delay, bias=False, sigma_init=s0,
                                              sigma_final=min(s1, s0), schedule="exponential",
                                              anneal_fraction=anneal_fraction)
            # Kaiming-uniform for ReLU gain, as the reference initialises its weights
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            return layer

        self.fcs = nn.ModuleList(synapse(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.hidden_neurons = nn.ModuleList(  # each after its synapse (and norm)
            Neurons(neuron, nkw, overwrite_input=True) for _ in self.hidden)
        thr = self.hidden_neurons[0].threshold
        self.norms = nn.ModuleList(make_norm(self.norm, h, thr) for h in self.hidden)
        self.out = synapse(sizes[-2], sizes[-1])
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        return self._fc_layers(self.hidden_neurons)

    def delay_layers(self) -> list[DelayedLinear]:
        """The delayed synapse layers in forward order (empty with ``delays=False``)."""
        return [syn for _, syn, _ in self._layers() if isinstance(syn, DelayedLinear)]

    @staticmethod
    def _current(syn: nn.Module, h: Tensor) -> Tensor:
        if isinstance(syn, DelayedLinear):
            return syn(h)[0]  # one conv1d over the whole [T, B, in] sequence
        return syn(h)  # nn.Linear acts on the last dim of [T, B, in]

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq.flatten(2)
        for i, (fc, bn, nrn) in enumerate(zip(self.fcs, self.norms, self.hidden_neurons)):
            inp = h
            h = self.drop(nrn(bn(self._current(fc, h))), generator)
            if self.record:
                self.last_activity[f"fc{i + 1}"] = {"input": inp.detach(), "spikes": h.detach()}
        return self._neuron_run("out", self.out_neurons, h, self._current(self.out, h))

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Logits ``[B, K]``; ``extra_steps`` zero frames follow each sample's last valid step."""
        if self.record:
            self.last_activity = {}
        if self.rows:
            if tuple(x.shape[1:]) != self.image_shape:
                raise ValueError(
                    f"x must have shape [B, {', '.join(map(str, self.image_shape))}], got {tuple(x.shape)}"
                )
            x = image_rows(x)
        seq, mask = append_silence(*self.encode(x, lengths, generator), self.extra_steps)
        return self._readout_fn(self.run(seq, generator), mask)

    def extra_repr(self) -> str:
        return (
            f"hidden={self.hidden}, max_delay={self.max_delay}, delays={self.delays}, norm={self.norm!r}, "
            f"dropout={self.drop.p}, extra_steps={self.extra_steps}, readout={self.readout!r}"
        )
