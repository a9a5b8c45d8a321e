"""Label assignment for unsupervised networks (Diehl & Cook 2015): each neuron takes the
class it answers most, and a sample's class is voted by the neurons assigned to each class.

Two votes: "all" (Diehl & Cook: the mean count of a class's neurons) and "proportion"
(BindsNET's ``proportion_weighting``: each neuron's count weighted by the share of its mean
response that goes to its assigned class, so that neurons that answer several digits alike
count less)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["assign_labels", "class_rates", "label_shares", "predict"]


def class_rates(counts: np.ndarray, y: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """Mean response of each neuron to each class, [num_classes, n_neurons] (spikes per
    sample); ``counts`` [n_samples, n_neurons], ``y`` [n_samples]. A class without samples
    has rate 0."""
    y = np.asarray(torch.as_tensor(y).cpu().numpy(), dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != y.shape[0]:
        raise ValueError(
            f"counts must be [n_samples, n_neurons] matching y ({y.shape[0]} samples), got {counts.shape}"
        )
    rates = np.zeros((num_classes, counts.shape[1]))
    for c in range(num_classes):
        m = y == c
        if m.any():
            rates[c] = counts[m].mean(0)
    return rates


def assign_labels(counts: np.ndarray, y: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """Each neuron's label: the class with the highest mean response (Diehl & Cook).

    ``counts`` [n_samples, n_neurons] spike counts, ``y`` [n_samples]. Neurons that never
    fired get label -1 (they take no part in prediction).
    """
    rates = class_rates(counts, y, num_classes)
    labels = rates.argmax(0)
    labels[rates.sum(0) == 0] = -1
    return labels


def label_shares(counts: np.ndarray, y: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """Per neuron, the share of its class-mean response that goes to its assigned class:
    ``r[label] / sum_c r[c]`` in (0, 1] (0 for silent neurons). The weights of the
    "proportion" vote."""
    rates = class_rates(counts, y, num_classes)
    total = rates.sum(0)
    return np.divide(rates.max(0), total, out=np.zeros_like(total), where=total > 0)


def predict(counts: np.ndarray, labels: np.ndarray, num_classes: int,
            weights: np.ndarray | None = None) -> np.ndarray:
    """Class with the highest mean spike count over its assigned neurons ("all" voting);
    with ``weights`` [n_neurons] (e.g. :func:`label_shares`, the "proportion" vote) each
    neuron's count is multiplied by its weight first.

    Classes without neurons score -1 so they are never chosen over a class that has some;
    ties go to the lowest class index.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (counts.shape[1],):
            raise ValueError(f"weights must be [n_neurons] = [{counts.shape[1]}], got {weights.shape}")
        counts = counts * weights
    scores = np.full((counts.shape[0], num_classes), -1.0)
    for c in range(num_classes):
        m = labels == c
        if m.any():
            scores[:, c] = counts[:, m].mean(1)
    return scores.argmax(1)
