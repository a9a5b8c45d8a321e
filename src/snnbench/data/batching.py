"""Mini-batches of a sample-first :class:`~snnbench.data.splits.ArraySplit`.

Batches stay sample-first (``[B, ...]``); the encoder turns them time-first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .._validation import check_int
from .splits import ArraySplit


def num_batches(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """How many batches :func:`iterate_batches` yields for ``n`` samples."""
    n = check_int("n", n, minimum=0)
    batch_size = check_int("batch_size", batch_size)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def batch_order(n: int, *, shuffle: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample indices in visiting order: ``randperm`` drawn from ``generator`` when
    shuffling (the global RNG if None), else ``0..n-1``."""
    if shuffle:
        return torch.randperm(n, generator=generator)
    return torch.arange(n)


def iterate_batches(
    split: ArraySplit,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
    trim: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x [B, ...], y [B], lengths [B] or None)``.

    ``shuffle`` draws one permutation per call from ``generator`` (pass a seeded CPU
    generator for a reproducible order). ``drop_last`` skips a final short batch.
    ``trim`` cuts padded sequences to the longest valid length within the batch, which
    saves time steps when lengths vary a lot (only for splits with ``lengths``).
    """
    if not isinstance(split, ArraySplit):
        raise ValueError(f"split must be an ArraySplit, got {type(split).__name__}")
    batch_size = check_int("batch_size", batch_size)
    n = len(split)
    order = batch_order(n, shuffle=shuffle, generator=generator)
    stop = (n // batch_size) * batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        if not shuffle:
            # contiguous slice: a view, no copy
            sl = slice(start, start + len(idx))
            x, y = split.x[sl], split.y[sl]
            lengths = split.lengths[sl] if split.lengths is not None else None
        else:
            x, y = split.x[idx], split.y[idx]
            lengths = split.lengths[idx] if split.lengths is not None else None
        if trim and lengths is not None and len(lengths):
            x = x[:, : int(lengths.max())]
        yield x, y, lengths
