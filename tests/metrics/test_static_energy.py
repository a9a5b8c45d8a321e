"""Static metrics, activation sparsity, spike rates and the energy estimate by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnbench.metrics import (
    EnergyModel,
    activation_sparsity,
    classification_accuracy,
    connection_sparsity,
    estimate_energy,
    footprint,
    parameter_count,
    spike_rates,
)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)  # 6 weights + 2 biases
        self.conv = nn.Conv1d(1, 2, 2)  # 4 weights + 2 biases
        self.register_buffer("counter", torch.zeros(5, dtype=torch.float64))


def test_parameter_count_and_footprint():
    m = _Tiny()
    assert parameter_count(m) == 14
    m.fc.bias.requires_grad_(False)
    assert parameter_count(m, trainable_only=True) == 12
    # 14 float32 parameters + 5 float64 buffer entries
    assert footprint(m) == 14 * 4 + 5 * 8


def test_connection_sparsity_counts_weights_only():
    m = _Tiny()
    with torch.no_grad():
        m.fc.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]))  # 3 zeros
        m.conv.weight.zero_()  # 4 zeros
        m.fc.bias.zero_()  # biases do not count
    assert connection_sparsity(m) == pytest.approx(7 / 10)
    gru = nn.GRU(2, 3)
    with torch.no_grad():
        gru.weight_hh_l0.zero_()
    assert connection_sparsity(gru) == pytest.approx(27 / (18 + 27))
    with pytest.raises(ValueError, match="no Linear"):
        connection_sparsity(nn.ReLU())


def test_activation_sparsity_and_rates_from_counts():
    counts = {"a": (3.0, 12), "b": (0.0, 4)}
    overall, per = activation_sparsity(counts)
    assert overall == pytest.approx(1 - 3 / 16)
    assert per == {"a": pytest.approx(0.75), "b": 1.0}
    assert spike_rates({"a": (6.0, 24)}) == {"a": 0.25}


def test_energy_is_counts_times_constants():
    assert estimate_energy(100, 1000) == pytest.approx(100 * 4.6 + 1000 * 0.9)
    custom = EnergyModel(ac_pj=0.03, mac_pj=0.2, update_pj=0.1)
    assert estimate_energy(10, 20, 30, custom) == pytest.approx(10 * 0.2 + 20 * 0.03 + 30 * 0.1)
    with pytest.raises(ValueError, match="ac_pj"):
        estimate_energy(1, 1, model=EnergyModel(ac_pj=-1.0))
    with pytest.raises(ValueError, match="effective_macs"):
        estimate_energy(-5, 1)


def test_classification_accuracy():
    labels = torch.tensor([0, 1, 2, 1])
    assert classification_accuracy(torch.tensor([0, 1, 0, 1]), labels) == 0.75
    scores = torch.nn.functional.one_hot(labels, 3).float()
    assert classification_accuracy(scores, labels) == 1.0
    with pytest.raises(ValueError, match="matching labels"):
        classification_accuracy(torch.tensor([0, 1]), labels)
