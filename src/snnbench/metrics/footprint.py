"""Memory footprint (NeuroBench ``Footprint``): bytes of all parameters and buffers."""

from __future__ import annotations

from torch import nn


def footprint(model: nn.Module) -> int:
    """``sum(numel * element_size)`` over parameters and buffers, in bytes (float32: 4 per
    element). What a deployment must store; activations and optimizer state are not included."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return int(params + buffers)
