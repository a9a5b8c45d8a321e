"""Conventional (non-spiking) baselines: MLP, CNN, GRU and LSTM classifiers.

All share the classifier interface of the SNNs: ``forward(x, lengths=None, generator=None)
-> logits [B, K]`` on the sample-first batch of the dataset (``generator`` is accepted and
unused: these models are deterministic). With ``record = True`` a forward pass stores, per
weight layer, ``last_activity[name] = {"input": ..., "output": ...}`` (detached): sample-first
``[B, ...]`` for MLP/CNN layers, time-first ``[T, B, ...]`` for the recurrent layers.
``synapse_layers()`` yields ``(name, module)`` for the weight layers in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._validation import check_int, check_range, check_tensor


def _shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive ints, got {shape!r}") from None
    if not out or any(s < 1 for s in out):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {shape!r}")
    return out


def _widths(name: str, widths: Sequence[int] | int, *, allow_empty: bool = True) -> list[int]:
    if isinstance(widths, int) and not isinstance(widths, bool):
        widths = [widths]
    try:
        out = [check_int(f"{name}[{i}]", w) for i, w in enumerate(widths)]
    except TypeError:
        raise ValueError(f"{name} must be a list of positive ints, got {widths!r}") from None
    if not out and not allow_empty:
        raise ValueError(f"{name} must contain at least one layer width, got {widths!r}")
    return out


def check_batch_shape(x: Tensor, shape: tuple[int, ...]) -> None:
    """``x`` must be a batch ``[B, *shape]`` of samples of ``shape``."""
    if tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"x must have shape [B, {', '.join(map(str, shape))}], got {tuple(x.shape)}"
        )


class _Recording(nn.Module):
    """Shared ``record`` / ``last_activity`` bookkeeping."""

    def __init__(self) -> None:
        super().__init__()
        self.record = False
        self.last_activity: dict[str, dict[str, Tensor]] = {}

    def _keep(self, name: str, **tensors: Tensor) -> None:
        if self.record:
            self.last_activity[name] = {k: v.detach() for k, v in tensors.items()}

    def synapse_layers(self) -> Iterator[tuple[str, nn.Module]]:
        """``(name, layer)`` for every weight layer, in forward order."""
        for name, mod in self.named_modules():
            if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.GRU, nn.LSTM)):
                yield name, mod

    def _dense_head(self, h: Tensor, drop: nn.Module | None = None) -> Tensor:
        """``[Linear -> ReLU (-> drop)]`` per ``self.hidden_layers``, then ``self.out``:
        the logits of flat features ``h`` ``[B, F]``, each layer recorded."""
        for i, layer in enumerate(self.hidden_layers):
            inp = h
            h = torch.relu(layer(h))
            self._keep(f"hidden_layers.{i}", input=inp, output=h)
            if drop is not None:
                h = drop(h)
        logits = self.out(h)
        self._keep("out", input=h, output=logits)
        return logits


class MLP(_Recording):
    """Flatten -> [Linear -> ReLU] * len(hidden) -> Linear (logits).

    Works on any input shape (images, tabular rows, fixed-length series flattened).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int],
        num_classes: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_shape = _shape("input_shape", input_shape)
        self.hidden = _widths("hidden", hidden)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.dropout = check_range("dropout", dropout, 0.0, 0.99)
        sizes = [math.prod(self.input_shape), *self.hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], self.num_classes)
        self.drop = nn.Dropout(self.dropout)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        check_batch_shape(x, self.input_shape)
        return self._dense_head(x.flatten(1), self.drop)


class CNN(_Recording):
    """[Conv2d(k, padding) -> ReLU -> MaxPool(pool)] per entry of ``channels``, then an MLP
    head (``hidden`` widths) and a Linear output.

    A pool of 1 (or a feature map already 1 pixel wide) skips pooling at that stage.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int],
        num_classes: int,
        kernel_size: int | Sequence[int] = 5,
        hidden: Sequence[int] = (),
        pool: int = 2,
        padding: int | str = "same",
    ) -> None:
        super().__init__()
        self.input_shape = _shape("input_shape", input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(
                f"input_shape must be (C, H, W) for a CNN, got {tuple(self.input_shape)}"
            )
        self.channels = _widths("channels", channels, allow_empty=False)
        self.hidden = _widths("hidden", hidden)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.kernel_sizes = _kernel_list(kernel_size, len(self.channels))
        self.pool = check_int("pool", pool)
        self.padding = padding
        convs, pools, (c, h, w) = _conv_stack(
            self.input_shape, self.channels, self.kernel_sizes, self.pool, padding
        )
        self.convs = nn.ModuleList(convs)
        self.pools = nn.ModuleList(pools)
        self.feature_shape = (c, h, w)
        sizes = [c * h * w, *self.hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], self.num_classes)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        check_tensor("x", x, ndim=4, finite=False)
        check_batch_shape(x, self.input_shape)
        h = x
        for i, (conv, pool) in enumerate(zip(self.convs, self.pools)):
            inp = h
            h = pool(torch.relu(conv(h)))
            self._keep(f"convs.{i}", input=inp, output=h)
        return self._dense_head(h.flatten(1))


def _kernel_list(kernel_size: int | Sequence[int], n: int) -> list[int]:
    ks = [kernel_size] * n if isinstance(kernel_size, int) else list(kernel_size)
    if len(ks) != n:
        raise ValueError(
            f"kernel_size must be an int or a list of {n} ints (one per conv), got {kernel_size!r}"
        )
    return [check_int(f"kernel_size[{i}]", k) for i, k in enumerate(ks)]


def _conv_stack(
    input_shape: tuple[int, ...],
    channels: list[int],
    kernel_sizes: list[int],
    pool: int,
    padding: int | str,
) -> tuple[list[nn.Conv2d], list[nn.Module], tuple[int, int, int]]:
    """Build the conv and pool layers and return the feature shape after the last stage.

    ``padding="same"`` pads by k // 2 (size kept for odd k); an int pads that many pixels.
    Raises ValueError when a stage would shrink the map below one pixel.
    """
    if padding == "same":
        pads = [k // 2 for k in kernel_sizes]
    elif isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        pads = [padding] * len(kernel_sizes)
    else:
        raise ValueError(f"padding must be 'same' or an int >= 0, got {padding!r}")
    c, h, w = input_shape
    convs: list[nn.Conv2d] = []
    pools: list[nn.Module] = []
    for i, (out_c, k, p) in enumerate(zip(channels, kernel_sizes, pads)):
        h, w = h + 2 * p - k + 1, w + 2 * p - k + 1
        if h < 1 or w < 1:
            raise ValueError(
                f"kernel_size[{i}]={k} with padding {p} does not fit the {h - 2 * p + k - 1}x"
                f"{w - 2 * p + k - 1} feature map at conv stage {i}; use a smaller kernel, "
                "padding='same' or fewer stages"
            )
        convs.append(nn.Conv2d(c, out_c, k, padding=p))
        # pooling a 1-pixel map (or pool=1) is the identity: skip it
        if pool > 1 and min(h, w) >= pool:
            pools.append(nn.MaxPool2d(pool))
            h, w = h // pool, w // pool
        else:
            pools.append(nn.Identity())
        c = out_c
    return convs, pools, (c, h, w)


def _as_sequence(x: Tensor) -> Tensor:
    """Sample-first batch -> ``[B, L, C]`` for the recurrent baselines: series pass through,
    images become row sequences ``[B, H, C*W]``, tabular rows ``[B, F, 1]``."""
    if x.ndim == 3:
        return x
    if x.ndim == 4:
        b, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, h, c * w)
    if x.ndim == 2:
        return x.unsqueeze(-1)
    raise ValueError(
        f"x must be [B, L, C] (series), [B, C, H, W] (image) or [B, F] (tabular), "
        f"got shape {tuple(x.shape)}"
    )


def as_checked_sequence(x: Tensor, input_size: int, lengths: Tensor | None) -> Tensor:
    """:func:`_as_sequence` of ``x`` with ``input_size`` features per step, and ``lengths``
    (when given) ``[B]`` valid steps each in ``[1, L]``; returns ``[B, L, C]``."""
    seq = _as_sequence(x)
    if seq.shape[-1] != input_size:
        raise ValueError(f"x must have {input_size} features per step, got shape {tuple(x.shape)}")
    b, length, _ = seq.shape
    if lengths is not None:
        check_tensor("lengths", lengths, ndim=1, finite=False)
        if lengths.shape[0] != b or int(lengths.min()) < 1 or int(lengths.max()) > length:
            raise ValueError(
                f"lengths must be [B]={b} values in [1, {length}], got "
                f"{lengths.tolist() if lengths.numel() <= 8 else tuple(lengths.shape)}"
            )
    return seq


def sequence_input_size(input_shape: Sequence[int]) -> int:
    """Features per step the recurrent baselines see for a sample of ``input_shape``."""
    shape = _shape("input_shape", input_shape)
    if len(shape) == 2:
        return shape[1]
    if len(shape) == 3:
        return shape[0] * shape[2]
    if len(shape) == 1:
        return 1
    raise ValueError(f"input_shape must have 1, 2 or 3 dims, got {shape!r}")


class _RNNClassifier(_Recording):
    cell: type[nn.RNNBase]

    def __init__(
        self,
        input_size: int,
        hidden: int,
        num_layers: int,
        num_classes: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.hidden = check_int("hidden", hidden)
        self.num_layers = check_int("num_layers", num_layers)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        dropout = check_range("dropout", dropout, 0.0, 0.99)
        self.rnn = self.cell(
            self.input_size,
            self.hidden,
            num_layers=self.num_layers,
            batch_first=True,
            dropout=dropout if self.num_layers > 1 else 0.0,
        )
        self.out = nn.Linear(self.hidden, self.num_classes)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Logits from the top layer's hidden state at each sample's last valid step."""
        seq = as_checked_sequence(x, self.input_size, lengths)
        length = seq.shape[1]
        if lengths is None:
            out, state = self.rnn(seq)
        else:
            # packing makes the recurrence stop at each sample's own length, so padding never
            # enters the final state
            packed = pack_padded_sequence(
                seq, lengths.cpu().long(), batch_first=True, enforce_sorted=False
            )
            out_packed, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=length)
        h_n = state[0] if isinstance(state, tuple) else state
        last = h_n[-1]
        if self.record:
            self._keep("rnn", input=seq.transpose(0, 1), output=out.transpose(0, 1))
        logits = self.out(last)
        self._keep("out", input=last, output=logits)
        return logits


class GRUClassifier(_RNNClassifier):
    """Stacked GRU; logits = Linear(h_L at the last valid step)."""

    cell = nn.GRU


class LSTMClassifier(_RNNClassifier):
    """Stacked LSTM; logits = Linear(h_L at the last valid step)."""

    cell = nn.LSTM


BASELINES = ("mlp", "cnn", "gru", "lstm", "cnn1d")
