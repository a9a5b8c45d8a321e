"""Classification accuracy (NeuroBench ``ClassificationAccuracy``)."""

from __future__ import annotations

import torch
from torch import Tensor


def classification_accuracy(predictions: Tensor, labels: Tensor) -> float:
    """Fraction of samples with ``predictions == labels``; ``predictions`` may be class
    indices ``[N]`` or scores ``[N, K]`` (argmax taken)."""
    if not isinstance(predictions, Tensor) or not isinstance(labels, Tensor):
        raise ValueError("predictions and labels must be torch.Tensors")
    if predictions.ndim == 2:
        predictions = predictions.argmax(1)
    if predictions.shape != labels.shape or labels.ndim != 1:
        raise ValueError(
            f"predictions must be [N] or [N, K] matching labels [N], got {tuple(predictions.shape)} "
            f"and {tuple(labels.shape)}"
        )
    if labels.numel() == 0:
        raise ValueError("labels is empty; accuracy needs at least one sample")
    return float((predictions.to(labels.device) == labels).to(torch.float64).mean())
