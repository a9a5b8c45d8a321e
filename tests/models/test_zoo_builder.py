"""The model zoo and the 1-D CNN through the builder and parameter matching."""

from types import SimpleNamespace

import pytest
import torch

from snnbench.models import build_model, count_parameters
from snnbench.models.cnn1d import CNN1d

IMG = SimpleNamespace(name="img", kind="image", input_shape=(3, 32, 32), num_classes=10)
SERIES = SimpleNamespace(name="s", kind="series", input_shape=(20, 3), num_classes=4)


def test_zoo_twin_through_builder_has_equal_parameters():
    spec = {"type": "snn_vgg", "width": 1 / 32, "hidden": [8], "num_steps": 2}
    snn = build_model(spec, IMG)
    twin = build_model({"type": "vgg", "match": spec}, IMG)
    assert count_parameters(twin) == count_parameters(snn)
    assert twin.match_info["ratio"] == 1.0
    res = build_model({"type": "snn_resnet", "width": 1 / 64, "connect": "membrane"}, IMG)
    assert build_model({"type": "resnet", "match": res}, IMG).match_info["ratio"] == 1.0
    with pytest.raises(ValueError, match="snn_resnet"):
        build_model({"type": "resnet", "match": spec}, IMG)
    with pytest.raises(ValueError, match="unknown vgg options"):
        build_model({"type": "snn_vgg", "channels": [4]}, IMG)


def test_cnn1d_padding_is_ignored_with_lengths():
    torch.manual_seed(0)
    m = CNN1d(3, 6, 3, 4, kernel_size=5)
    x = torch.randn(2, 9, 3)
    padded = torch.cat([x, torch.randn(2, 4, 3)], 1)  # garbage after the end
    got = m(padded, lengths=torch.tensor([9, 9]))
    torch.testing.assert_close(got, m(x))
    with pytest.raises(ValueError, match="lengths"):
        m(x, lengths=torch.tensor([0, 9]))


def test_cnn1d_matched_to_snn():
    snn_spec = {"type": "snn_ff", "hidden": [64, 64]}
    m = build_model({"type": "cnn1d", "match": snn_spec, "kernel_size": 3}, SERIES)
    info = m.match_info
    assert info["depth"] == 2 and abs(info["ratio"] - 1) <= 0.05
    assert count_parameters(m) == info["baseline_params"]
    assert m(torch.randn(5, 20, 3)).shape == (5, 4)
    with pytest.raises(ValueError, match="width"):
        build_model({"type": "cnn1d", "depth": 2}, SERIES)


def test_spiking_mlp_rows_read_the_image_row_by_row():
    from snnbench.models.zoo import SpikingMLP

    torch.manual_seed(0)
    line = SpikingMLP((3, 4, 5), [6, 6], 3, rows=True, neuron_kwargs={"threshold": 0.2}).eval()
    series = SpikingMLP((4, 15), [6, 6], 3, neuron_kwargs={"threshold": 0.2}).eval()
    series.load_state_dict(line.state_dict())
    x = torch.rand(2, 3, 4, 5)
    rows = torch.stack([x[:, :, r, :].reshape(2, 15) for r in range(4)], 1)  # [B, H, C*W]
    torch.testing.assert_close(line(x), series(rows))
    with pytest.raises(ValueError, match="row by row"):
        SpikingMLP((20, 3), [6], 3, rows=True)


def test_spiking_mlp_repeat_computes_the_first_layer_once_with_the_same_result():
    from snnbench.models.zoo import SpikingMLP

    torch.manual_seed(0)
    m = SpikingMLP((3, 4, 4), [8, 8], 3, encoder="direct", num_steps=5, dropout=0.3,
                   neuron_kwargs={"threshold": 0.3})
    assert m.constant_input
    x = torch.rand(4, 3, 4, 4)
    got = m(x, generator=torch.Generator().manual_seed(1))
    m.constant_input = False  # the folded path over all T copies
    want = m(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(got, want)


def test_zoo_models_record_what_the_operation_counts_need():
    from snnbench.metrics.synaptic_operations import synaptic_operations

    spec = {"type": "snn_resnet", "width": 1 / 64, "blocks": [1, 1], "channels": [128, 256],
            "num_steps": 3}
    info = SimpleNamespace(input_shape=(3, 8, 8), num_classes=10)
    for model in (build_model(spec, info), build_model({"type": "resnet", "match": spec}, info)):
        model.record = True
        model(torch.rand(2, 3, 8, 8))
        ops = synaptic_operations(model, model.last_activity)
        assert set(ops) == {n for n, _ in model.synapse_layers()}
        stem = model.last_activity["stem.0.0"]["input"]
        assert stem.shape == ((3, 2, 3, 8, 8) if hasattr(model, "twin") else (2, 3, 8, 8))


@pytest.mark.parametrize("spec,info", [
    ({"type": "snn_vgg", "width": 1 / 32, "hidden": [8], "num_steps": 2}, IMG),
    ({"type": "snn_mlp", "hidden": [8, 8], "rows": True}, IMG),
    ({"type": "snn_ff", "hidden": [8]}, SERIES),
    ({"type": "snn_delay", "hidden": [8], "max_delay": 3}, SERIES),
])
def test_models_check_input_once_at_the_boundary(spec, info):
    """Hidden neuron layers skip the per-call NaN scan; the model refuses a NaN input itself."""
    from snnbench.neurons.modules import _NeuronModule

    model = build_model(spec, info)
    layers = [m for m in model.modules() if isinstance(m, _NeuronModule)]
    assert layers and not any(m.check_finite for m in layers)
    x = torch.rand(2, *info.input_shape)
    assert torch.isfinite(model(x)).all()
    x[1, 0] = float("nan")
    with pytest.raises(ValueError, match="x .*(NaN|finite)"):
        model(x)
