r"""Spiking classifiers trained with surrogate gradients: feed-forward, convolutional and
recurrent builders sharing one encode -> layers -> readout pipeline.

Every model takes the dataset's sample-first batch and returns logits:

.. code-block:: text

    x [B, ...] --encoder--> [T, B, ...] --(synapse over folded [T*B, ...] -> neurons over T)*
        --> output layer [T, B, K] --readout (masked)--> logits [B, K]

- Static inputs (images ``[B, C, H, W]`` in [0, 1], tabular ``[B, F]`` in [0, 1]) are encoded
  into ``num_steps`` steps by the named encoder of :mod:`snnbench.encoding` (default
  ``"poisson"``; stochastic encoders draw from the ``generator`` passed to ``forward``).
- Time series ``[B, L, C]`` (recognised by a 2-d ``input_shape`` ``(L, C)``) keep their own
  time axis, T = L (any L is accepted; only the channel count is fixed). Encoder
  ``"direct"`` (the default for series) injects the standardised values as current through
  the first synapse; ``"delta"`` and ``"population"`` come from :mod:`snnbench.encoding`.
  With ``lengths`` the readout ignores steps ``t >= lengths[b]``, so a padded series gives
  the same logits as the same series unpadded (all dynamics are causal).
- Synapse layers (Linear, Conv2d) run once over the folded ``[T*B, ...]`` input; only the
  neuron recurrence loops over time.
- The output layer is a spiking layer of the chosen neuron model for spike readouts
  (``spike_count``, ``first_spike_time``) and a non-spiking leaky integrator
  :math:`v_t = \beta_{out} v_{t-1} + x_t` for membrane readouts (``mean_membrane``,
  ``max_membrane``, ``last_membrane``), whose membrane is differentiable.

Activity for metrics: with ``model.record = True`` a forward pass fills
``model.last_activity[name] = {"input", "spikes", "membrane"}`` (detached, time-first) for
every synapse layer ``name``; ``model.synapse_layers()`` yields ``(name, layer)`` in order.
The non-spiking output integrator reports all-zero ``"spikes"``; ``model.spiking_layers``
names the entries whose spikes are real neuron outputs (each population once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_tensor
from ..synapses.event_linear import EventLinear
from ..neurons import RecurrentLIF
from .ann import CNN, _conv_stack, _kernel_list, _shape, _widths, check_batch_shape
from .components import (
    NEURONS,
    LeakyIntegrator,
    fold,
    last_membrane,
    make_neuron,
    resolve_output_beta,
)
from .readout import MEMBRANE_READOUTS, READOUTS, get_masked_readout, lengths_to_mask

SERIES_ENCODERS = ("direct", "delta", "population")
_CONV_OPTIONS = ("kernel_size", "hidden", "pool", "padding")  # ConvSNN's, as the CNN's
STATIC_ENCODERS = ("poisson", "bernoulli", "latency", "rank_order", "population", "direct")


class SpikingClassifier(nn.Module):
    """Shared encode / run / masked-readout machinery of the SNN builders."""

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        *,
        neuron: str = "lif",
        neuron_kwargs: dict[str, Any] | None = None,
        encoder: str | None = None,
        encoder_kwargs: dict[str, Any] | None = None,
        num_steps: int | None = 25,
        readout: str = "spike_count",
        output_beta: float | None = None,
    ) -> None:
        super().__init__()
        self.input_shape = _shape("input_shape", input_shape)
        if len(self.input_shape) > 3:
            raise ValueError(
                f"input_shape must be (F,) tabular, (L, C) series or (C, H, W) image, "
                f"got {self.input_shape}"
            )
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.is_series = len(self.input_shape) == 2
        self.neuron = check_choice("neuron", neuron, tuple(NEURONS))
        self.neuron_kwargs = dict(neuron_kwargs or {})
        self.readout = check_choice("readout", readout, READOUTS)
        if encoder is None:  # the natural default: series inject current, static inputs rate-code
            encoder = "direct" if self.is_series else "poisson"
        self.encoder_name = check_choice(
            "encoder", encoder, SERIES_ENCODERS if self.is_series else STATIC_ENCODERS
        )
        self.encoder_kwargs = dict(encoder_kwargs or {})
        if self.is_series:
            # a series' own time axis is T; num_steps is ignored there
            self.num_steps = self.input_shape[0]
        else:
            self.num_steps = check_int("num_steps", num_steps)
        self.output_beta = resolve_output_beta(self.neuron_kwargs, output_beta)
        self.encoder = self._make_encoder()
        # the direct code repeats a static sample T times: the first synapse need run once
        self.constant_input = self.encoder_name == "direct" and not self.is_series
        self._readout_fn = get_masked_readout(self.readout)
        self.record = False
        self.last_activity: dict[str, dict[str, Tensor]] = {}
        self.encoded_shape = self._probe_encoded_shape()

    def _fc_layers(self, neurons: Sequence[nn.Module]) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        """The layers ``fc{i}`` (``self.fcs`` with ``neurons``), then the output layer."""
        for i, (fc, nrn) in enumerate(zip(self.fcs, neurons)):
            yield f"fc{i + 1}", fc, nrn
        yield "out", self.out, self.out_neurons

    # -- encoding -----------------------------------------------------------------------

    def _make_encoder(self) -> nn.Module | None:
        if self.is_series and self.encoder_name == "direct":
            return None  # transpose only: the first synapse is the encoder
        from snnbench.encoding import get_encoder

        kw = dict(self.encoder_kwargs)
        if not self.is_series:
            kw.setdefault("num_steps", self.num_steps)
        elif self.encoder_name == "delta":
            # series are standardised: a change of 0.1 standard deviations sends a spike
            kw.setdefault("threshold", 0.1)
        elif self.encoder_name == "population":
            # receptive fields spread over +-2 standard deviations of a standardised series
            kw.setdefault("low", -2.0)
            kw.setdefault("high", 2.0)
        return get_encoder(self.encoder_name, **kw)

    def _probe_encoded_shape(self) -> tuple[int, ...]:
        """Per-step, per-sample shape the encoder produces (e.g. ``(C*n,)`` for a
        population code), found by encoding one mid-range (0.5) sample; sizes the first synapse."""
        with torch.no_grad():
            seq = self._encode_raw(
                torch.full((1, *self.input_shape), 0.5), torch.Generator().manual_seed(0)
            )
        if seq.ndim < 3 or seq.shape[1] != 1:
            raise ValueError(
                f"encoder {self.encoder_name!r} returned shape {tuple(seq.shape)} for one sample "
                f"of shape {self.input_shape}; expected time-first [T, 1, ...]"
            )
        self.steps_per_sample = 1
        if self.is_series:
            # population codes may expand each sample step into S network steps (T = L*S)
            if seq.shape[0] % self.input_shape[0]:
                raise ValueError(
                    f"encoder {self.encoder_name!r} turned {self.input_shape[0]} series steps "
                    f"into {seq.shape[0]}; series encoders must give T = L * substeps"
                )
            self.steps_per_sample = seq.shape[0] // self.input_shape[0]
        self.num_steps = int(seq.shape[0])
        return tuple(int(s) for s in seq.shape[2:])

    def _encode_raw(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.encoder is None:
            return x.transpose(0, 1)
        return self.encoder(x, generator=generator)

    def encode(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Sample-first batch -> time-first input ``[T, B, ...]`` and readout mask ``[T, B]``
        (None when every step counts)."""
        check_tensor("x", x, ndim=1 + len(self.input_shape))
        if self.is_series:
            # any series length works (T = L); only the channel count is fixed
            if x.shape[2] != self.input_shape[1] or x.shape[1] < 1:
                raise ValueError(
                    f"x must have shape [B, L, {self.input_shape[1]}] (series with "
                    f"{self.input_shape[1]} channels), got {tuple(x.shape)}"
                )
        else:
            check_batch_shape(x, self.input_shape)
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        seq = self._encode_raw(x, generator)
        mask = None
        if lengths is not None:
            if not self.is_series:
                raise ValueError("lengths is only meaningful for time series inputs [B, L, C]")
            if lengths.shape != (x.shape[0],):
                raise ValueError(
                    f"lengths must have shape [B] = ({x.shape[0]},), got {tuple(lengths.shape)}"
                )
            s = self.steps_per_sample
            if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]):
                raise ValueError(
                    f"lengths must lie in [1, {x.shape[1]}] (the padded length), got values in "
                    f"[{int(lengths.min())}, {int(lengths.max())}]"
                )
            mask = lengths_to_mask(lengths * s, seq.shape[0]).to(seq.dtype)
        return seq, mask

    # -- layers -------------------------------------------------------------------------

    def _output_neurons(self, k: int) -> nn.Module:
        if self.readout in MEMBRANE_READOUTS:
            return LeakyIntegrator(self.output_beta)
        return make_neuron(self.neuron, (k,), self.neuron_kwargs)

    def _neuron_run(self, name: str, neuron: nn.Module, inp: Tensor, current: Tensor) -> Tensor:
        """Run one layer's neurons on its synaptic current ``[T, B, ...]``; record activity."""
        if isinstance(neuron, LeakyIntegrator):
            v, _ = neuron(current)
            if self.record:
                self.last_activity[name] = {
                    "input": inp.detach(),
                    "spikes": torch.zeros_like(v).detach(),
                    "membrane": v.detach(),
                }
            return v
        if hasattr(neuron, "record"):
            neuron.record = self.record
        s, _ = neuron(current)
        if self.record:
            mem = last_membrane(neuron, f"record=True (layer {name!r})",
                                "use a neuron module that records its membrane")
            self.last_activity[name] = {
                "input": inp.detach(),
                "spikes": s.detach(),
                "membrane": mem.detach(),
            }
        return s

    def _synapse(self, syn: Callable[[Tensor], Tensor], h: Tensor, first: bool) -> Tensor:
        """Synaptic current of one layer over the folded sequence. A static input under the
        ``"direct"`` code is the same in every step, so the first layer computes it once and
        repeats it (a view): T times fewer MACs, identical values and gradients."""
        if first and self.constant_input:
            y = syn(h[0])
            return y.unsqueeze(0).expand(h.shape[0], *y.shape)
        return fold(syn, h)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        """``(name, synapse, neurons)`` per layer in forward order; set by subclasses."""
        raise TypeError(f"{type(self).__name__} must define _layers()")

    def synapse_layers(self) -> Iterator[tuple[str, nn.Module]]:
        """``(name, Linear/Conv2d)`` for every synapse layer in forward order."""
        for name, syn, _ in self._layers():
            yield name, syn

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Time-first encoded input -> output layer activity ``[T, B, K]``; stochastic
        layers (dropout) draw from ``generator``."""
        raise TypeError(f"{type(self).__name__} must define run()")

    def _network_input(
        self, x: Tensor, lengths: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor | None]:
        """What :meth:`forward` runs the network on: :meth:`encode`'s sequence and readout
        mask (a subclass may rearrange ``x`` first or append steps)."""
        return self.encode(x, lengths, generator)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Logits ``[B, K]`` (spike counts or membrane scores of the output layer)."""
        if self.record:
            self.last_activity = {}
        seq, mask = self._network_input(x, lengths, generator)
        return self._readout_fn(self.run(seq, generator), mask)

    @property
    def spiking_layers(self) -> tuple[str, ...]:
        """Names in ``last_activity`` whose ``"spikes"`` are a neuron population's output,
        each population once (for spike-rate metrics): excludes the non-spiking output
        integrator and the ``*_rec`` entries of recurrent synapses."""
        names = [n for n, _, nrn in self._layers() if not isinstance(nrn, LeakyIntegrator)]
        return tuple(n for n in names if not n.endswith("_rec"))

    @property
    def depth(self) -> int:
        """Number of hidden (non-output) layers; the default depth of a matched baseline."""
        return sum(1 for n, _, _ in self._layers() if not n.endswith("_rec")) - 1


class FeedForwardSNN(SpikingClassifier):
    """Fully connected SNN: flatten -> [Linear -> neurons] * len(hidden) -> Linear -> output.

    Works on images, tabular rows and time series (features per step). With
    ``event_synapses=True`` every Linear is an :class:`~snnbench.synapses.event_linear.EventLinear`:
    on the CPU, wide layers fed with sparse spikes do only the work of the nonzero inputs
    (same parameters and checkpoints; values equal up to float rounding, so off by default
    to keep recorded results bit-reproducible).
    """

    @takes_options_of(SpikingClassifier.__init__, after="num_classes", positional=True)
    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        event_synapses: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(input_shape, num_classes, **options)
        self.hidden = _widths("hidden", hidden)
        sizes = [math.prod(self.encoded_shape), *self.hidden]
        linear = EventLinear if event_synapses else nn.Linear
        self.fcs = nn.ModuleList(linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.neurons = nn.ModuleList(
            make_neuron(self.neuron, (h,), self.neuron_kwargs, overwrite_input=True)
            for h in self.hidden  # each after its synapse, whose fresh output nothing else reads
        )
        self.out = linear(sizes[-1], self.num_classes)
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        return self._fc_layers(self.neurons)

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq.flatten(2)
        for i, (name, syn, nrn) in enumerate(self._layers()):
            h = self._neuron_run(name, nrn, h, self._synapse(syn, h, first=i == 0))
        return h


class ConvSNN(SpikingClassifier):
    """Convolutional SNN for images: per stage Conv2d -> MaxPool -> neurons (pooling the
    currents, one conv call over all T*B frames), then fully connected hidden layers and
    the output layer. ``channels=[12, 32], kernel_size=5`` gives the classic
    12c5-p2-32c5-p2 stack (padding ``"same"`` by default so 8x8 digits fit too).
    """

    @takes_options_of(SpikingClassifier.__init__, positional=True)
    @takes_options_of(CNN.__init__, only=_CONV_OPTIONS, positional=True)  # the ANN twin's layout
    def __init__(
        self, input_shape: Sequence[int], channels: Sequence[int], num_classes: int, **options: Any
    ) -> None:
        kernel_size, hidden, pool, padding = (options.pop(k) for k in _CONV_OPTIONS)
        shape = _shape("input_shape", input_shape)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for a ConvSNN, got {shape}")
        super().__init__(shape, num_classes, **options)
        if len(self.encoded_shape) != 3:
            raise ValueError(
                f"encoder {self.encoder_name!r} must keep the image shape for a ConvSNN, "
                f"got per-step shape {self.encoded_shape}"
            )
        self.channels = _widths("channels", channels, allow_empty=False)
        self.hidden = _widths("hidden", hidden)
        self.kernel_sizes = _kernel_list(kernel_size, len(self.channels))
        self.pool = check_int("pool", pool)
        self.padding = padding
        convs, pools, feat = _conv_stack(
            self.encoded_shape, self.channels, self.kernel_sizes, self.pool, padding
        )
        self.convs = nn.ModuleList(convs)
        self.pools = nn.ModuleList(pools)
        # neuron shapes: the pooled map of each stage
        shapes = []
        c, h, w = self.encoded_shape
        with torch.no_grad():
            probe = torch.zeros(1, c, h, w)
            for conv, pl in zip(convs, pools):
                probe = pl(conv(probe))
                shapes.append(tuple(probe.shape[1:]))
        self.conv_neurons = nn.ModuleList(
            make_neuron(self.neuron, s, self.neuron_kwargs, overwrite_input=True) for s in shapes
        )
        self.feature_shape = feat
        sizes = [math.prod(feat), *self.hidden]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.neurons = nn.ModuleList(
            make_neuron(self.neuron, (h,), self.neuron_kwargs, overwrite_input=True)
            for h in self.hidden  # each after its synapse, whose fresh output nothing else reads
        )
        self.out = nn.Linear(sizes[-1], self.num_classes)
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        for i, (conv, nrn) in enumerate(zip(self.convs, self.conv_neurons)):
            yield f"conv{i + 1}", conv, nrn
        yield from self._fc_layers(self.neurons)

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq
        for i, (conv, pl, nrn) in enumerate(zip(self.convs, self.pools, self.conv_neurons)):
            current = self._synapse(lambda z, c=conv, p=pl: p(c(z)), h, first=i == 0)
            h = self._neuron_run(f"conv{i + 1}", nrn, h, current)
        h = h.flatten(2)
        for i, (fc, nrn) in enumerate(zip(self.fcs, self.neurons)):
            h = self._neuron_run(f"fc{i + 1}", nrn, h, fold(fc, h))
        return self._neuron_run("out", self.out_neurons, h, fold(self.out, h))


class RecurrentSNN(SpikingClassifier):
    r"""Recurrent SNN for time series: ``RecurrentLIF`` hidden layers
    (:math:`h_t = \beta v_{t-1} + W_{in} x_t + W_{rec} s_{t-1}`), then a Linear output layer.

    ``neuron_kwargs`` go to every ``RecurrentLIF`` (``beta``/``tau_mem``, ``threshold``,
    ``surrogate``, ``learn_tau`` ...); the output layer is a leaky integrator for membrane
    readouts (default ``mean_membrane``) or LIF neurons for spike readouts. Activity entries:
    ``rec{i}`` (input synapse, input = layer input) and ``rec{i}_rec`` (recurrent synapse,
    input = the layer's own spikes one step earlier), then ``out``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        neuron_kwargs: dict[str, Any] | None = None,
        encoder: str = "direct",
        encoder_kwargs: dict[str, Any] | None = None,
        num_steps: int | None = None,
        readout: str = "mean_membrane",
        output_beta: float | None = None,
    ) -> None:
        shape = _shape("input_shape", input_shape)
        if len(shape) != 2 and num_steps is None:
            num_steps = 25
        super().__init__(
            shape, num_classes, neuron="lif", neuron_kwargs=neuron_kwargs, encoder=encoder,
            encoder_kwargs=encoder_kwargs, num_steps=num_steps, readout=readout,
            output_beta=output_beta,
        )
        self.hidden = _widths("hidden", hidden, allow_empty=False)
        sizes = [math.prod(self.encoded_shape), *self.hidden]
        self.recs = nn.ModuleList(
            RecurrentLIF(a, b, **self.neuron_kwargs) for a, b in zip(sizes, sizes[1:])
        )
        self.out = nn.Linear(sizes[-1], self.num_classes)
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        for i, rec in enumerate(self.recs):
            yield f"rec{i + 1}", rec.fc_in, rec
            yield f"rec{i + 1}_rec", rec.fc_rec, rec
        yield "out", self.out, self.out_neurons

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq.flatten(2)
        for i, rec in enumerate(self.recs):
            rec.record = self.record
            s, _ = rec(h)
            if self.record:
                mem = rec.last_membrane.detach()
                sd = s.detach()
                prev = torch.cat([torch.zeros_like(sd[:1]), sd[:-1]], 0)
                self.last_activity[f"rec{i + 1}"] = {
                    "input": h.detach(), "spikes": sd, "membrane": mem
                }
                self.last_activity[f"rec{i + 1}_rec"] = {
                    "input": prev, "spikes": sd, "membrane": mem
                }
            h = s
        return self._neuron_run("out", self.out_neurons, h, fold(self.out, h))
