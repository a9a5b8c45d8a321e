"""Parameter count (NeuroBench ``ParameterCount``): every element of every parameter."""

from __future__ import annotations

from torch import nn


def parameter_count(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (only those with ``requires_grad`` when
    ``trainable_only``). Shared parameters count once (``nn.Module.parameters`` deduplicates)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
