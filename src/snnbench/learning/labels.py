"""Label assignment for unsupervised networks (Diehl & Cook 2015): each neuron takes the
class it answers most, and a sample's class is voted by the neurons assigned to each class."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["assign_labels", "predict"]


def assign_labels(counts: np.ndarray, y: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """Each neuron's label: the class with the highest mean response (Diehl & Cook).

    ``counts`` [n_samples, n_neurons] spike counts, ``y`` [n_samples]. Neurons that never
    fired get label -1 (they take no part in prediction).
    """
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
    labels = rates.argmax(0)
    labels[counts.sum(0) == 0] = -1
    return labels


def predict(counts: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Class with the highest mean spike count over its assigned neurons ("all" voting).

    Classes without neurons score -1 so they are never chosen over a class that has some;
    ties go to the lowest class index.
    """
    counts = np.asarray(counts, dtype=np.float64)
    scores = np.full((counts.shape[0], num_classes), -1.0)
    for c in range(num_classes):
        m = labels == c
        if m.any():
            scores[:, c] = counts[:, m].mean(1)
    return scores.argmax(1)
