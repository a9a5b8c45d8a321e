"""Parameter matching: counts within tolerance for several SNN sizes and every baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnbench.models import (
    ConvSNN,
    FeedForwardSNN,
    RecurrentSNN,
    count_parameters,
    match_baseline,
)


def test_count_parameters_counts_trainable_only():
    m = nn.Sequential(nn.Linear(5, 3), nn.Linear(3, 2, bias=False))
    assert count_parameters(m) == 5 * 3 + 3 + 3 * 2
    m[0].weight.requires_grad_(False)
    assert count_parameters(m) == 3 + 3 * 2
    snn = FeedForwardSNN((4,), [6], 3, num_steps=2, neuron_kwargs={"learn_tau": True})
    # + one learnable decay per LIF layer (hidden and spiking output)
    assert count_parameters(snn) == 4 * 6 + 6 + 6 * 3 + 3 + 2


def _check(snn, baseline, shape, k, **kw):
    model, info = match_baseline(snn, baseline, shape, k, **kw)
    n_snn, n = count_parameters(snn), count_parameters(model)
    assert info["snn_params"] == n_snn and info["baseline_params"] == n
    assert info["ratio"] == pytest.approx(n / n_snn)
    assert abs(n / n_snn - 1) <= 0.05
    return model, info


@pytest.mark.parametrize("hidden", [[16], [64], [128, 64]])
@pytest.mark.parametrize("baseline", ["mlp", "cnn", "gru", "lstm"])
def test_feedforward_snn_matched_by_every_baseline(hidden, baseline):
    snn = FeedForwardSNN((1, 8, 8), hidden, 10, num_steps=2)
    model, info = _check(snn, baseline, (1, 8, 8), 10)
    assert info["depth"] == len(hidden)
    # the chosen width is the closest: its neighbours are no closer to the target
    target = info["snn_params"]
    w = info["width"]
    if baseline == "mlp":
        assert model.hidden == [w] * len(hidden)
        for other in (w - 1, w + 1):
            if other >= 1:
                n = count_parameters(type(model)((1, 8, 8), [other] * len(hidden), 10))
                assert abs(n - target) >= abs(info["baseline_params"] - target)
    # the matched model runs on the data
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_conv_snn_matched_cnn_mirrors_its_structure():
    snn = ConvSNN((1, 28, 28), [12, 32], 10, kernel_size=5, padding=0, hidden=[64], num_steps=2)
    model, info = _check(snn, "cnn", (1, 28, 28), 10)
    assert len(model.channels) == 2 and len(model.hidden) == 1
    assert model.kernel_sizes == [5, 5] and model.feature_shape[1:] == (4, 4)
    assert info["depth"] == 3
    _check(snn, "mlp", (1, 28, 28), 10, depth=1)


@pytest.mark.parametrize("hidden", [[32], [64, 64]])
@pytest.mark.parametrize("baseline", ["gru", "lstm", "mlp"])
def test_recurrent_snn_matched(hidden, baseline):
    snn = RecurrentSNN((29, 12), hidden, 9)
    model, info = _check(snn, baseline, (29, 12), 9)
    if baseline != "mlp":
        assert model.num_layers == len(hidden)
        x = torch.randn(2, 29, 12)
        assert model(x, torch.tensor([29, 7])).shape == (2, 9)


def test_impossible_match_raises():
    # 2 -> 1 -> 2 SNN has 7 parameters; the smallest GRU (1 unit) already has 16
    snn = FeedForwardSNN((2,), [1], 2, num_steps=2)
    assert count_parameters(snn) == 7
    with pytest.raises(ValueError, match="cannot match a gru"):
        match_baseline(snn, "gru", (2,), 2)
    with pytest.raises(ValueError, match="baseline must be one of"):
        match_baseline(snn, "transformer", (2,), 2)
    with pytest.raises(ValueError, match="tolerance"):
        match_baseline(snn, "mlp", (2,), 2, tolerance=0)
    with pytest.raises(ValueError, match=r"must not set \['hidden'\]"):
        match_baseline(snn, "mlp", (2,), 2, hidden=[3])
    with pytest.raises(ValueError, match="needs an image input_shape"):
        match_baseline(snn, "cnn", (2,), 2)
