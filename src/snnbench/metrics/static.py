"""The static metrics of a model in one dict (parameter count, footprint, connection sparsity)."""

from __future__ import annotations

from typing import Any

from torch import nn

from .connection_sparsity import connection_sparsity
from .footprint import footprint
from .parameter_count import parameter_count


def static_metrics(model: nn.Module) -> dict[str, Any]:
    """``{"parameter_count", "trainable_parameters", "footprint_bytes", "connection_sparsity"}``."""
    return {
        "parameter_count": parameter_count(model),
        "trainable_parameters": parameter_count(model, trainable_only=True),
        "footprint_bytes": footprint(model),
        "connection_sparsity": connection_sparsity(model),
    }
