"""1-D convolutional baseline for time series: ``depth`` x [Conv1d(k, same padding) -> ReLU]
of ``width`` channels over time, global average pooling over the valid steps, Linear.

Series ``[B, L, C]`` convolve along L with C input channels; images become row sequences
and tabular rows 1-channel series, as for the recurrent baselines. With ``lengths`` every
layer's output is zeroed past each series' end, so a padded series gives the logits of the
same series unpadded (zero 'same' padding sees the same zeros either way).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_int
from .ann import _Recording, as_checked_sequence
from .readout import lengths_to_mask


class CNN1d(_Recording):
    """Temporal CNN: ``depth`` conv layers of ``width`` channels, kernel ``kernel_size``."""

    def __init__(self, input_size: int, width: int, depth: int, num_classes: int,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.width = check_int("width", width)
        self.depth = check_int("depth", depth)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        self.kernel_size = check_int("kernel_size", kernel_size)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        sizes = [self.input_size] + [self.width] * self.depth
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, self.kernel_size, padding=self.kernel_size // 2)
            for a, b in zip(sizes, sizes[1:])
        )
        self.out = nn.Linear(self.width, self.num_classes)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        seq = as_checked_sequence(x, self.input_size, lengths)
        b, length, _ = seq.shape
        if lengths is None:
            mask = torch.ones(b, 1, length, dtype=seq.dtype, device=seq.device)
        else:
            mask = lengths_to_mask(lengths, length).to(seq.dtype).t().unsqueeze(1)  # [B, 1, L]
        h = seq.transpose(1, 2) * mask
        for i, conv in enumerate(self.convs):
            inp = h
            h = torch.relu(conv(h)) * mask  # padding never leaks into valid steps
            self._keep(f"convs.{i}", input=inp, output=h)
        pooled = h.sum(2) / mask.sum(2)
        logits = self.out(pooled)
        self._keep("out", input=pooled, output=logits)
        return logits
