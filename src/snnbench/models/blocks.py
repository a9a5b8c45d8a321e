r"""Building blocks of deep convolutional SNNs, time-first ``[T, B, ...]``.

Every block takes and returns a time-first tensor. Per-sample layers (convolution, pooling,
batch norm, linear) run once on the folded ``[T*B, ...]`` tensor; only the neurons loop over
time. The same blocks with ``spiking=False`` use ReLU in place of the neurons and are the
ANN twins' layers (with T = 1), so a spiking net and its twin have the same parameters.

- :class:`TimeBatchNorm`: batch norm whose statistics run over T, B and the spatial axes
  (Zheng et al. 2021 "tdBN" when ``alpha * threshold != 1``):
  :math:`y = \lambda\,\alpha V_{th} (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta`.
- :class:`TimeDropout`: one Bernoulli mask per sample and neuron, held over all T steps
  (a mask redrawn each step would let every neuron through some of the time).
- :class:`Folded`: any per-sample module (pooling, conv, linear) over ``[T*B, ...]``.
- :class:`Neurons`: a neuron layer (LIF, IF, PLIF = LIF with a learned per-layer tau) that
  returns spikes only, or ReLU in an ANN twin.
- :class:`SEWBlock` (Fang et al. 2021, spike-element-wise ADD shortcut) and
  :class:`MembraneBlock` (Hu et al., MS-ResNet: the shortcut adds real-valued membrane
  inputs, neurons lead each branch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_int, check_positive, check_range

NEURON_KINDS = ("lif", "if", "plif")


def fold(layer: Callable[[Tensor], Tensor], x_seq: Tensor) -> Tensor:
    """Run a per-sample layer on all steps at once: ``[T, B, ...] -> [T*B, ...] -> [T, B, ...]``."""
    t, b = x_seq.shape[:2]
    y = layer(x_seq.reshape(t * b, *x_seq.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class Folded(nn.Sequential):
    """Per-sample modules applied in order over the folded sequence (one reshape in, one out)."""

    def forward(self, x_seq: Tensor) -> Tensor:  # type: ignore[override]
        return fold(super().forward, x_seq)


def channels_last(x_seq: Tensor) -> Tensor:
    """``[T, B, C, H, W]`` with channels innermost in memory (the same values). The conv
    models run in this layout: oneDNN's CPU convolutions over the folded ``[T*B, ...]`` batch
    are 10-20 % faster on it than on channels-first tensors (``benchmarks/conv_speed.py``),
    and every block keeps it (folding T and B is a view, batch norm, pooling and the neuron
    kernels preserve it)."""
    if x_seq.dim() != 5:
        return x_seq
    return x_seq.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


class TimeBatchNorm(nn.Module):
    r"""Batch norm over time: statistics over T, B (and H, W) of ``[T, B, C, ...]``.

    Training: :math:`\hat x = (x - \mu_C) / \sqrt{\sigma^2_C + \epsilon}` with the biased
    variance over all T*B*H*W values of channel C; the running estimates are updated with
    ``momentum`` and the unbiased variance (``torch.nn.BatchNorm`` semantics). Evaluation
    uses the running estimates. Output :math:`\lambda\,\alpha V_{th}\hat x + \beta` with
    learnable :math:`\lambda` (init 1) and :math:`\beta` (init 0); ``alpha = threshold = 1``
    is plain batch norm over time, tdBN takes ``threshold`` from the neurons that follow and
    ``alpha = 1/sqrt(2)`` before a residual addition.
    """

    def __init__(
        self,
        num_features: int,
        *,
        alpha: float = 1.0,
        threshold: float = 1.0,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = check_int("num_features", num_features)
        self.scale = check_positive("alpha", alpha) * check_positive("threshold", threshold)
        self.eps = check_positive("eps", eps)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x_seq: Tensor) -> Tensor:
        if x_seq.ndim < 3 or x_seq.shape[2] != self.num_features:
            raise ValueError(
                f"x_seq must be [T, B, {self.num_features}, ...], got {tuple(x_seq.shape)}"
            )
        weight = self.weight if self.weight is not None else torch.ones(
            self.num_features, dtype=x_seq.dtype, device=x_seq.device)
        # lambda * (alpha V_th x_hat) = (lambda alpha V_th) x_hat: same values and gradients
        weight = weight * self.scale
        return fold(
            lambda z: F.batch_norm(z, self.running_mean, self.running_var, weight, self.bias,
                                   self.training, self.momentum, self.eps),
            x_seq,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, scale={self.scale:.4g}, eps={self.eps}, momentum={self.momentum}"


class TimeDropout(nn.Module):
    """Dropout with one mask per sample and unit, the same at every time step; kept units
    are scaled by ``1 / (1 - p)`` so the expected input is unchanged. Identity in eval mode.
    The mask is drawn from ``generator`` (on the generator's device) when one is given."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_range("p", p, 0.0, 0.99)

    def forward(self, x_seq: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.training or self.p == 0.0:
            return x_seq
        shape = x_seq.shape[1:]
        if generator is None:
            u = torch.rand(shape, device=x_seq.device)
        else:
            u = torch.rand(shape, generator=generator, device=generator.device).to(x_seq.device)
        mask = (u >= self.p).to(x_seq.dtype) / (1.0 - self.p)
        return x_seq * mask  # [B, ...] broadcasts over T

    def extra_repr(self) -> str:
        return f"p={self.p}"


def row_series_shape(shape: tuple[int, ...], encoder: str | None) -> tuple[int, int]:
    """The series shape ``(H, C*W)`` of an image ``(C, H, W)`` read row by row
    (``rows=True``: each row is one step, injected as current)."""
    if len(shape) != 3:
        raise ValueError(f"rows=True reads an image (C, H, W) row by row, got input_shape {shape}")
    if encoder not in (None, "direct"):
        raise ValueError(f"rows=True injects each row as current; encoder must be 'direct', got {encoder!r}")
    return (shape[1], shape[0] * shape[2])  # a series of H rows of C*W values


def image_rows(x: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B, H, C*W]``: row ``r`` holds all channels of image row ``r``."""
    b, c, hgt, w = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, hgt, c * w)


def make_pool(kind: str, kernel_size: int = 2) -> Folded:
    """Max or average pooling over the folded sequence (max-pooling spikes is their OR)."""
    check_choice("pool", kind, ("max", "avg"))
    k = check_int("kernel_size", kernel_size)
    return Folded(nn.MaxPool2d(k) if kind == "max" else nn.AvgPool2d(k))


class Neurons(nn.Module):
    """A spiking layer that returns only its spikes ``[T, B, ...]`` (``spiking=True``) or a
    ReLU (the ANN twin). ``kind``: ``"lif"``, ``"if"`` or ``"plif"`` (LIF with a learned
    per-layer time constant, :class:`snnbench.neurons.LIF` with ``learn_tau=True``).
    With ``record`` set the last output is kept detached in ``last_spikes``. The layer does
    not scan its input for NaN/inf (``check_finite=False`` unless ``kwargs`` sets it): the
    model checks its input once, at its boundary.

    ``overwrite_input=True`` is for a layer whose input is the fresh output of the layer
    before it and is read by nothing else (a conv unit's, a linear layer's): the neurons
    then keep their membrane in that buffer (:func:`snnbench.neurons.lif`). The builders
    set it where that holds; :class:`snnbench.models.recording.Recorder` turns it off while
    it records, since a recorded synapse output is such an input."""

    def __init__(self, kind: str = "lif", kwargs: dict[str, Any] | None = None,
                 spiking: bool = True, overwrite_input: bool = False) -> None:
        super().__init__()
        self.spiking = bool(spiking)
        self.kind = check_choice("neuron", kind, NEURON_KINDS)
        self.record = False
        self.last_spikes: Tensor | None = None
        if not self.spiking:
            self.neuron = None
            return
        from ..neurons import IF, LIF
        from .components import builder_kwargs

        cls = IF if kind == "if" else LIF
        kw = builder_kwargs(cls, kwargs, overwrite_input)
        if kind == "plif":
            kw["learn_tau"] = True
        try:
            self.neuron = cls(None, **kw)
        except TypeError as err:
            raise ValueError(f"bad neuron_kwargs for neuron={kind!r}: {err}") from None

    @property
    def threshold(self) -> float:
        thr = getattr(self.neuron, "threshold", 1.0)
        return float(thr) if isinstance(thr, (int, float)) else 1.0

    def forward(self, x_seq: Tensor) -> Tensor:
        if self.neuron is None:
            return torch.relu(x_seq)
        s, _ = self.neuron(x_seq)
        if self.record:
            self.last_spikes = s.detach()
        return s


def make_norm(norm: str, channels: int, threshold: float = 1.0, alpha: float = 1.0) -> nn.Module:
    """``"bn"`` (batch norm over time), ``"tdbn"`` (scaled by ``alpha * threshold``) or
    ``"none"``."""
    check_choice("norm", norm, ("bn", "tdbn", "none"))
    if norm == "none":
        return nn.Identity()
    if norm == "bn":
        return TimeBatchNorm(channels)
    return TimeBatchNorm(channels, alpha=alpha, threshold=threshold)


def conv_unit(cin: int, cout: int, norm: str, *, kernel_size: int = 3, stride: int = 1,
              threshold: float = 1.0, alpha: float = 1.0) -> nn.Sequential:
    """Conv (no bias when a norm follows: its shift makes the bias redundant) -> norm."""
    pad = kernel_size // 2
    conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=pad, bias=norm == "none")
    return nn.Sequential(Folded(conv), make_norm(norm, cout, threshold, alpha))


class SEWBlock(nn.Module):
    """Spike-element-wise residual block (Fang et al. 2021, ADD):
    ``out = SN(BN(conv(SN(BN(conv(s)))))) + shortcut(s)``, shortcut = identity or
    ``SN(BN(conv1x1(s)))`` when the shape changes. Input and output are spikes (the sum
    can exceed 1, as in the original)."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str, neuron: str,
                 neuron_kwargs: dict[str, Any], spiking: bool = True) -> None:
        super().__init__()
        n1 = Neurons(neuron, neuron_kwargs, spiking, overwrite_input=True)  # after a conv unit
        thr = n1.threshold
        self.branch = nn.Sequential(
            conv_unit(cin, cout, norm, stride=stride, threshold=thr), n1,
            conv_unit(cout, cout, norm, threshold=thr),
            Neurons(neuron, neuron_kwargs, spiking, overwrite_input=True),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                conv_unit(cin, cout, norm, kernel_size=1, stride=stride, threshold=thr),
                Neurons(neuron, neuron_kwargs, spiking, overwrite_input=True),
            )

    def forward(self, s: Tensor) -> Tensor:
        return self.branch(s) + self.shortcut(s)


class MembraneBlock(nn.Module):
    """Membrane-shortcut residual block (MS-ResNet, Hu et al.): the input ``u`` is a
    real-valued membrane input; ``out = u + BN(conv(SN(BN(conv(SN(u))))))``, shortcut
    ``BN(conv1x1(SN(u)))`` when the shape changes. The residual stream stays real-valued,
    every convolution sees spikes."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str, neuron: str,
                 neuron_kwargs: dict[str, Any], spiking: bool = True) -> None:
        super().__init__()
        self.sn1 = Neurons(neuron, neuron_kwargs, spiking)  # its input u is also the shortcut
        thr = self.sn1.threshold
        alpha = 1.0 / math.sqrt(2.0)  # tdBN: two summed branches keep the variance
        self.branch = nn.Sequential(
            conv_unit(cin, cout, norm, stride=stride, threshold=thr),
            Neurons(neuron, neuron_kwargs, spiking, overwrite_input=True),
            conv_unit(cout, cout, norm, threshold=thr, alpha=alpha),
        )
        self.shortcut: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.shortcut = conv_unit(cin, cout, norm, kernel_size=1, stride=stride,
                                      threshold=thr, alpha=alpha)

    def forward(self, u: Tensor) -> Tensor:
        s = self.sn1(u)
        short = u if self.shortcut is None else self.shortcut(s)
        return short + self.branch(s)
