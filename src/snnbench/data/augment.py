"""Image augmentation of a training batch ``[B, C, H, W]``: random crop with zero padding,
horizontal flip and cutout (DeVries & Taylor 2017), each drawn per sample from a
``torch.Generator`` so that a seeded run augments the same way every time.

Applied to the training split only (the trainer calls it on training batches; evaluation
never does). Random draws happen on the generator's device (the CPU), the pixel work on
the batch's device.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._validation import check_int


def augment_images(
    x: Tensor,
    generator: torch.Generator,
    *,
    crop_padding: int = 0,
    flip: bool = False,
    cutout: int = 0,
) -> Tensor:
    """Augmented copy of ``x`` ``[B, C, H, W]``.

    - ``crop_padding = p``: pad by ``p`` zeros on every side, take an ``H x W`` window at a
      random offset in ``[0, 2p]`` per sample (a shift by up to ``p`` pixels).
    - ``flip``: mirror left-right with probability 1/2 per sample.
    - ``cutout = s``: zero an ``s x s`` square centred at a random pixel (clipped at the
      border) per sample.
    """
    if x.ndim != 4:
        raise ValueError(
            f"image augmentation needs batches [B, C, H, W], got shape {tuple(x.shape)}; "
            "remove train.augment for non-image data"
        )
    p = check_int("crop_padding", crop_padding, minimum=0)
    s = check_int("cutout", cutout, minimum=0)
    b, _, h, w = x.shape
    dev = x.device
    if p:
        oy = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=generator.device).to(dev)
        ox = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=generator.device).to(dev)
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # [B, H, 1]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # [B, 1, W]
        # advanced indices around a slice put their dims first: [B, H, W, C]
        x = padded[torch.arange(b, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if flip:
        mirror = torch.rand(b, generator=generator, device=generator.device).to(dev) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    if s:
        cy = torch.randint(0, h, (b,), generator=generator, device=generator.device).to(dev)
        cx = torch.randint(0, w, (b,), generator=generator, device=generator.device).to(dev)
        ys = torch.arange(h, device=dev)[None, :, None]
        xs = torch.arange(w, device=dev)[None, None, :]
        lo_y, lo_x = (cy - s // 2)[:, None, None], (cx - s // 2)[:, None, None]
        hole = (ys >= lo_y) & (ys < lo_y + s) & (xs >= lo_x) & (xs < lo_x + s)  # [B, H, W]
        x = x * (~hole)[:, None].to(x.dtype)
    return x.contiguous()


def augment_from_config(x: Tensor, cfg: Any, generator: torch.Generator) -> Tensor:
    """:func:`augment_images` with the fields of a config section (``crop_padding``,
    ``flip``, ``cutout``)."""
    return augment_images(
        x, generator, crop_padding=cfg.crop_padding, flip=cfg.flip, cutout=cfg.cutout
    )
