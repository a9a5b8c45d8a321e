r"""Deep convolutional SNNs for 32x32 images and their ANN twins: spiking VGG-11 and
spiking ResNet (ResNet-19 layout by default, ResNet-18 by ``blocks``/``channels``).

.. code-block:: text

    x [B, C, H, W] --encoder--> [T, B, C, H, W] --conv stages (folded convs, BN over T and B,
        neurons over T, pooling)--> [T, B, F] --(dropout, fc, neurons)*--> fc --> readout

The ANN twin (:class:`VGG`, :class:`ResNet`) is built by the same function with ReLU in
place of every neuron layer and runs once (T = 1) on the image, so the twin's parameters
are the SNN's exactly (a PLIF SNN has one more, its learned decay, per neuron layer).
``snn.twin()`` returns it; the model builder's ``{"type": "vgg", "match": <snn_vgg spec>}``
uses it.

- VGG-11: ``64 M 128 M 256 256 M 512 512 M 512 512 M`` (``M`` = 2x2 pool of spikes), 3x3
  convs, each conv -> norm -> neurons; 32x32 input leaves 1x1x512 features.
- ResNet-19 (Zheng et al. 2021): 3x3 stem of 128, stages of (3, 3, 2) basic blocks with
  (128, 256, 512) channels (stride 2 from the second stage), global average pooling, one
  hidden fc of 256. ``connect="sew"`` (spike-element-wise ADD) or ``"membrane"`` (MS-ResNet).

``width`` scales every channel count (at least 1), for small test runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive, check_range
from .ann import _Recording, _shape, _widths, check_batch_shape
from .blocks import (
    NEURON_KINDS, Folded, MembraneBlock, Neurons, SEWBlock, TimeDropout, channels_last, conv_unit,
    image_rows, make_norm, make_pool, row_series_shape,
)
from .snn import SpikingClassifier

VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def _scaled(c: int, width: float) -> int:
    return max(1, round(c * width))


def _arch_kwargs(kind: str, kw: dict[str, Any]) -> dict[str, Any]:
    """Validated architecture options (shared by an SNN and its twin)."""
    allowed = {"width", "norm", "dropout", "hidden"} | (
        {"pool"} if kind == "vgg" else {"blocks", "channels", "connect"})
    unknown = sorted(set(kw) - allowed)
    if unknown:
        raise ValueError(f"unknown {kind} options {unknown}; allowed: {sorted(allowed)}")
    out = {
        "width": check_positive("width", kw.get("width", 1.0)),
        "norm": check_choice("norm", kw.get("norm", "bn"), ("bn", "tdbn", "none")),
        "dropout": check_range("dropout", kw.get("dropout", 0.0), 0.0, 0.99),
        "hidden": _widths("hidden", kw.get("hidden", [] if kind == "vgg" else [256])),
    }
    if kind == "vgg":
        out["pool"] = check_choice("pool", kw.get("pool", "max"), ("max", "avg"))
    else:
        blocks = _widths("blocks", kw.get("blocks", [3, 3, 2]), allow_empty=False)
        channels = _widths("channels", kw.get("channels", [128, 256, 512]), allow_empty=False)
        if len(blocks) != len(channels):
            raise ValueError(
                f"blocks and channels must have one entry per stage, got {blocks} and {channels}"
            )
        out["blocks"], out["channels"] = blocks, channels
        out["connect"] = check_choice("connect", kw.get("connect", "sew"), ("sew", "membrane"))
    return out


def _build(net: nn.Module, kind: str, arch: dict[str, Any], in_shape: tuple[int, int, int],
           num_classes: int, neuron: str, nkw: dict[str, Any], spiking: bool) -> None:
    """Create ``net.stem`` (first conv unit), ``net.body``, ``net.fcs``/``net.fc_neurons``,
    ``net.drop`` and ``net.out`` on ``net``."""
    c, h, w = in_shape
    norm, width = arch["norm"], arch["width"]

    def neurons() -> Neurons:
        # every one of these follows a conv unit, a residual sum or a linear layer, whose
        # output nothing else reads
        return Neurons(neuron, nkw, spiking, overwrite_input=True)

    thr = neurons().threshold if spiking else 1.0
    body: list[nn.Module] = []
    if kind == "vgg":
        cfg = list(VGG11)
        first = _scaled(cfg[0], width)
        stem = conv_unit(c, first, norm, threshold=thr)
        body.append(neurons())
        ch = first
        for item in cfg[1:]:
            if item == "M":
                if min(h, w) < 2:
                    raise ValueError(f"input_shape {in_shape} is too small for VGG-11's 5 poolings")
                body.append(make_pool(arch["pool"], 2))
                h, w = h // 2, w // 2
            else:
                out_c = _scaled(int(item), width)
                body += [conv_unit(ch, out_c, norm, threshold=thr), neurons()]
                ch = out_c
        feat = ch * h * w
    else:
        chans = [_scaled(x, width) for x in arch["channels"]]
        stem = conv_unit(c, chans[0], norm, threshold=thr)
        block = SEWBlock if arch["connect"] == "sew" else MembraneBlock
        if arch["connect"] == "sew":
            body.append(neurons())  # SEW blocks take spikes; membrane blocks take the current
        ch = chans[0]
        for i, (n, out_c) in enumerate(zip(arch["blocks"], chans)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                body.append(block(ch, out_c, stride, norm, neuron, nkw, spiking))
                ch = out_c
        if arch["connect"] == "membrane":
            body.append(neurons())  # the residual stream is real-valued: spike before pooling
        body.append(Folded(nn.AdaptiveAvgPool2d(1)))
        feat = ch
    net.stem = stem
    net.body = nn.Sequential(*body)
    sizes = [feat, *arch["hidden"]]
    net.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
    net.fc_neurons = nn.ModuleList(neurons() for _ in arch["hidden"])
    net.drop = TimeDropout(arch["dropout"])
    net.out = nn.Linear(sizes[-1], num_classes)
    net.feature_size = feat


def _features(net: nn.Module, seq: Tensor, generator: torch.Generator | None,
              constant: bool) -> Tensor:
    """Time-first input -> the output layer's input current ``[T, B, K]``."""
    seq = channels_last(seq)  # every conv and block after this keeps the layout
    if constant:
        # a repeated static frame: the first conv and its norm run once (identical batch
        # statistics; only the running variance's Bessel factor sees B instead of T*B values)
        y = net.stem(seq[:1])
        h = y.expand(seq.shape[0], *y.shape[1:])
    else:
        h = net.stem(seq)
    h = net.body(h).flatten(2)
    for fc, nrn in zip(net.fcs, net.fc_neurons):
        h = nrn(Folded(fc)(net.drop(h, generator)))
    h = net.drop(h, generator)
    return Folded(net.out)(h)


def _record_inputs(net: nn.Module, activity: dict[str, dict[str, Tensor]], t: int, b: int,
                   time_first: bool) -> list[Any]:
    """Forward pre-hooks keeping every Conv2d/Linear input in ``activity[name]["input"]``:
    ``[T, B, ...]`` for an SNN (a layer run once on a repeated frame is expanded to T),
    ``[B, ...]`` for a twin. Returns the handles to remove."""

    def hook(name: str):
        def keep(_mod: nn.Module, args: tuple[Tensor, ...]) -> None:
            x = args[0].detach()
            if time_first:
                x = x.reshape(t, b, *x.shape[1:]) if x.shape[0] == t * b else \
                    x.unsqueeze(0).expand(t, *x.shape)
            activity.setdefault(name, {})["input"] = x
        return keep

    return [m.register_forward_pre_hook(hook(n)) for n, m in net.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))]


def _base_neuron(neuron: str, neuron_kwargs: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The base class's neuron and keywords for a zoo neuron kind (``"lif"``, ``"if"``,
    ``"plif"``): PLIF is LIF with ``learn_tau=True``."""
    check_choice("neuron", neuron, NEURON_KINDS)
    nkw = dict(neuron_kwargs or {})
    if neuron == "plif":
        nkw["learn_tau"] = True
    return ("if" if neuron == "if" else "lif"), nkw


class _SpikingZoo(SpikingClassifier):
    kind = ""

    @takes_options_of(SpikingClassifier.__init__, rest="arch", defaults={
        "encoder": "direct", "num_steps": 4, "readout": "mean_membrane"})
    def __init__(self, input_shape: Sequence[int], num_classes: int, *, arch: Any, **options) -> None:
        neuron, neuron_kwargs = options["neuron"], options["neuron_kwargs"]
        shape = _shape("input_shape", input_shape)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for a spiking {self.kind}, got {shape}")
        # the base class builds the encoder and output layer
        base, nkw = _base_neuron(neuron, neuron_kwargs)
        super().__init__(shape, num_classes, **{**options, "neuron": base, "neuron_kwargs": nkw})
        if len(self.encoded_shape) != 3:
            raise ValueError(
                f"encoder {self.encoder_name!r} must keep the image shape, got {self.encoded_shape}"
            )
        self.neuron_kind = neuron
        self.arch = _arch_kwargs(self.kind, arch)
        self._neuron_kwargs = dict(neuron_kwargs or {})
        _build(self, self.kind, self.arch, self.encoded_shape, self.num_classes, neuron,
               self._neuron_kwargs, True)
        self.out_neurons = self._output_neurons(self.num_classes)

    def _named_neurons(self) -> Iterator[tuple[str, Neurons]]:
        for name, mod in self.named_modules():
            if isinstance(mod, Neurons):
                yield name, mod

    def synapse_layers(self) -> Iterator[tuple[str, nn.Module]]:
        for name, mod in self.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                yield name, mod

    @property
    def spiking_layers(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self._named_neurons())

    @property
    def depth(self) -> int:
        return sum(1 for _ in self.synapse_layers()) - 1

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for _, nrn in self._named_neurons():
            nrn.record = self.record
        hooks = _record_inputs(self, self.last_activity, seq.shape[0], seq.shape[1], True) \
            if self.record else []
        try:
            current = _features(self, seq, generator, self.constant_input)
        finally:
            for h in hooks:
                h.remove()
        inp = self.last_activity.get("out", {}).get("input")
        out = self._neuron_run("out", self.out_neurons, current, current)
        if self.record and inp is not None:
            self.last_activity["out"]["input"] = inp  # the output layer's synaptic input
        if self.record:
            for name, nrn in self._named_neurons():
                if nrn.last_spikes is not None:
                    self.last_activity[name] = {"spikes": nrn.last_spikes}
                nrn.last_spikes = None
        return out

    def twin(self) -> nn.Module:
        """The ANN twin: the same layers with ReLU, run once on the image."""
        cls = VGG if self.kind == "vgg" else ResNet
        return cls(self.input_shape, self.num_classes, **self.arch)


class SpikingVGG(_SpikingZoo):
    """Spiking VGG-11 (see the module docstring); options ``width``, ``norm``
    (``"bn"``, ``"tdbn"``, ``"none"``), ``pool`` (``"max"``/``"avg"``), ``hidden`` (fc
    widths before the output, default none), ``dropout`` (before each fc, mask held over T),
    ``neuron`` (``"lif"``, ``"if"``, ``"plif"``) with ``neuron_kwargs``."""

    kind = "vgg"


class SpikingResNet(_SpikingZoo):
    """Spiking ResNet, ResNet-19 layout by default (see the module docstring); options
    ``blocks``, ``channels``, ``connect`` (``"sew"``/``"membrane"``), ``width``, ``norm``,
    ``hidden`` (default ``[256]``), ``dropout``, ``neuron``, ``neuron_kwargs``."""

    kind = "resnet"


class _TwinZoo(_Recording):
    kind = ""

    def __init__(self, input_shape: Sequence[int], num_classes: int, **arch: Any) -> None:
        super().__init__()
        self.input_shape = _shape("input_shape", input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for a {self.kind}, got {self.input_shape}")
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.arch = _arch_kwargs(self.kind, arch)
        _build(self, self.kind, self.arch, self.input_shape, self.num_classes, "lif", {}, False)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        check_batch_shape(x, self.input_shape)
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        if self.record:
            self.last_activity = {}
        hooks = _record_inputs(self, self.last_activity, 1, x.shape[0], False) if self.record else []
        try:
            logits = _features(self, x.unsqueeze(0), generator, False)[0]
        finally:
            for h in hooks:
                h.remove()
        if self.record:
            self.last_activity.setdefault("out", {})["output"] = logits.detach()
        return logits


class VGG(_TwinZoo):
    """ANN twin of :class:`SpikingVGG`: the same layers with ReLU."""

    kind = "vgg"


class ResNet(_TwinZoo):
    """ANN twin of :class:`SpikingResNet`: the same layers with ReLU."""

    kind = "resnet"


def n_neuron_layers(model: nn.Module) -> int:
    """Number of neuron (or ReLU) layers of a zoo model."""
    return sum(1 for m in model.modules() if isinstance(m, Neurons))




class SpikingMLP(SpikingClassifier):
    r"""The reference benchmark's fully connected SNN: ``[Linear -> batch norm over T and B
    -> neurons -> dropout (mask held over T)] * len(hidden) -> Linear -> readout``.

    Three ways to read an image ``[C, H, W]``:

    - ``encoder="poisson"`` (or any static encoder): the flattened image, rate coded over
      ``num_steps`` steps ("flat");
    - ``encoder="direct"``: the flattened image injected as the same current at each of
      ``num_steps`` steps ("repeat");
    - ``rows=True``: row by row, a sequence of ``H`` steps of ``C*W`` inputs ("line");
      ``num_steps`` and ``encoder`` do not apply.

    Series and tabular inputs work as in :class:`~snnbench.models.snn.FeedForwardSNN`.
    """

    @takes_options_of(SpikingClassifier.__init__, defaults={"readout": "mean_membrane"})
    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        *,
        rows: bool = False,
        norm: str = "bn",
        dropout: float = 0.0,
        **options: Any,
    ) -> None:
        neuron, neuron_kwargs, encoder = options["neuron"], options["neuron_kwargs"], options["encoder"]
        shape = _shape("input_shape", input_shape)
        self.rows = bool(rows)
        if self.rows:
            self.image_shape, shape = shape, row_series_shape(shape, encoder)
        base, nkw = _base_neuron(neuron, neuron_kwargs)
        super().__init__(shape, num_classes, **{**options, "neuron": base, "neuron_kwargs": nkw})
        self.neuron_kind = neuron
        self.hidden = _widths("hidden", hidden, allow_empty=False)
        self.norm = check_choice("norm", norm, ("bn", "tdbn", "none"))
        self.drop = TimeDropout(dropout)
        sizes = [math.prod(self.encoded_shape), *self.hidden]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=self.norm == "none")
                                 for a, b in zip(sizes, sizes[1:]))
        self.hidden_neurons = nn.ModuleList(  # each after its linear layer (and norm)
            Neurons(neuron, neuron_kwargs, overwrite_input=True) for _ in self.hidden)
        thr = self.hidden_neurons[0].threshold
        self.norms = nn.ModuleList(make_norm(self.norm, h, thr) for h in self.hidden)
        self.out = nn.Linear(sizes[-1], self.num_classes)
        self.out_neurons = self._output_neurons(self.num_classes)

    def _layers(self) -> Iterator[tuple[str, nn.Module, nn.Module]]:
        return self._fc_layers(self.hidden_neurons)

    def run(self, seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        h = seq.flatten(2)
        for i, (fc, bn, nrn) in enumerate(zip(self.fcs, self.norms, self.hidden_neurons)):
            inp = h
            if i == 0 and self.constant_input:  # the repeated frame: one matmul, T views
                y = fc(h[0])
                cur = bn(y.unsqueeze(0).expand(h.shape[0], *y.shape))
            else:
                cur = bn(Folded(fc)(h))
            h = self.drop(nrn(cur), generator)
            if self.record:
                self.last_activity[f"fc{i + 1}"] = {"input": inp.detach(), "spikes": h.detach()}
        return self._neuron_run("out", self.out_neurons, h, Folded(self.out)(h))

    def _network_input(
        self, x: Tensor, lengths: Tensor | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor | None]:
        if self.rows:
            check_batch_shape(x, self.image_shape)
            x = image_rows(x)
        return self.encode(x, lengths, generator)


__all__ = ["SpikingVGG", "SpikingResNet", "SpikingMLP", "VGG", "ResNet", "VGG11", "n_neuron_layers"]
