"""build_model: dict specs for every type and the parameter-matched form."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from snnbench.models import (
    CNN,
    MLP,
    ConvSNN,
    FeedForwardSNN,
    GRUClassifier,
    LSTMClassifier,
    RecurrentSNN,
    build_model,
    count_parameters,
)

IMG = SimpleNamespace(name="digits", kind="image", input_shape=(1, 8, 8), num_classes=10)
SER = SimpleNamespace(name="jv", kind="timeseries", input_shape=(12, 3), num_classes=4)
TAB = SimpleNamespace(name="iris", kind="tabular", input_shape=(4,), num_classes=3)


@pytest.mark.parametrize(
    "spec, info, cls",
    [
        ({"type": "snn_ff", "hidden": [8], "num_steps": 3}, IMG, FeedForwardSNN),
        ({"type": "snn_ff", "hidden": [8], "encoder": "population", "num_steps": 3,
          "encoder_kwargs": {"n_neurons": 4}}, TAB, FeedForwardSNN),
        ({"type": "snn_ff", "hidden": [8]}, SER, FeedForwardSNN),
        ({"type": "snn_conv", "channels": [4], "kernel_size": 3, "num_steps": 2}, IMG, ConvSNN),
        ({"type": "snn_rec", "hidden": [8]}, SER, RecurrentSNN),
        ({"type": "mlp", "hidden": [8]}, TAB, MLP),
        ({"type": "cnn", "kernel_size": 3}, IMG, CNN),
        ({"type": "gru", "hidden": 6}, SER, GRUClassifier),
        ({"type": "lstm", "hidden": 6, "num_layers": 2}, SER, LSTMClassifier),
    ],
)
def test_build_every_type(spec, info, cls):
    m = build_model(spec, info)
    assert type(m) is cls
    x = torch.rand(2, *info.input_shape)
    lengths = torch.tensor([12, 5]) if info.kind == "timeseries" else None
    assert m(x, lengths, generator=torch.Generator().manual_seed(0)).shape == (2, info.num_classes)
    assert spec["type"] in spec.values()  # the caller's spec is not consumed


def test_build_matched_baseline():
    snn_spec = {"type": "snn_ff", "hidden": [32], "num_steps": 3}
    m = build_model({"type": "mlp", "match": snn_spec}, IMG)
    snn = build_model(snn_spec, IMG)
    assert m.match_info["snn_params"] == count_parameters(snn)
    assert abs(count_parameters(m) / count_parameters(snn) - 1) <= 0.05
    g = build_model({"type": "gru", "match": {"type": "snn_rec", "hidden": [32]},
                     "tolerance": 0.05}, SER)
    assert isinstance(g, GRUClassifier) and abs(g.match_info["ratio"] - 1) <= 0.05


def test_build_errors():
    with pytest.raises(ValueError, match="type must be one of"):
        build_model({"type": "svm"}, IMG)
    with pytest.raises(ValueError, match="'type' key"):
        build_model({"hidden": [3]}, IMG)
    with pytest.raises(ValueError, match=r"unknown keys \['widht'\]"):
        build_model({"type": "mlp", "hidden": [3], "widht": 2}, IMG)
    with pytest.raises(ValueError, match="needs 'hidden'"):
        build_model({"type": "gru"}, SER)
    with pytest.raises(ValueError, match="'match' applies to baselines"):
        build_model({"type": "snn_ff", "hidden": [3], "match": {}}, IMG)
