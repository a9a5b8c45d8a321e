"""DelaySpikingMLP: Hammouamri et al.'s delay network (delayed synapses, batch norm over
time, dropout), checked against closed forms and against its own no-delay twin."""

import math
from types import SimpleNamespace

import pytest
import torch

from snnbench.models import build_model, count_parameters
from snnbench.models.delay_mlp import AnnealedDelayedLinear, DelaySpikingMLP

SERIES = SimpleNamespace(name="s", kind="series", input_shape=(12, 6), num_classes=3)
NKW = {"beta": 1 / 3, "reset": "hard", "detach_reset": True, "alpha": 5.0}


def test_parameter_count_is_weights_positions_and_batch_norm():
    m = DelaySpikingMLP((12, 6), [8, 8], 3, max_delay=5, neuron_kwargs=NKW)
    conns = 6 * 8 + 8 * 8 + 8 * 3
    assert count_parameters(m) == 2 * conns + 2 * (2 * 8)  # weight + position each; BN scale + shift
    plain = DelaySpikingMLP((12, 6), [8, 8], 3, delays=False, neuron_kwargs=NKW)
    assert count_parameters(plain) == conns + 2 * (2 * 8)
    assert m.extra_steps == 2 and plain.extra_steps == 0  # the reference's right padding (K - 1) // 2


def test_sigma_reaches_its_final_width_after_a_quarter_of_the_epochs_and_holds():
    layer = AnnealedDelayedLinear(3, 2, 25, sigma_init=12.0, sigma_final=0.23, anneal_fraction=0.25)
    epochs = 10  # F = 10 // 4 = 2
    got = [layer.anneal(e, epochs) for e in range(epochs)]
    want = [12.0, 12.0 * (0.23 / 12.0) ** 0.5] + [0.23] * 8
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="anneal_fraction"):
        AnnealedDelayedLinear(3, 2, 5, anneal_fraction=0.0)


def test_weights_start_kaiming_uniform_for_relu():
    torch.manual_seed(0)
    m = DelaySpikingMLP((12, 300), [400], 3, max_delay=3, neuron_kwargs=NKW)
    w = m.fcs[0].weight.detach()
    bound = math.sqrt(6.0 / 300)
    assert float(w.abs().max()) <= bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3.0), rel=0.02)  # std of U(-b, b)
    assert not any(getattr(fc, "bias", None) is not None for fc in [*m.fcs, m.out])


def test_zero_integer_delays_equal_the_no_delay_network():
    """Rounded delays of 0 steps make every delayed synapse a plain Linear map."""
    torch.manual_seed(1)
    kw = dict(max_delay=5, neuron_kwargs=NKW, dropout=0.25, extra_steps=2)
    delayed = DelaySpikingMLP((12, 6), [8, 8], 3, **kw).double().eval()
    plain = DelaySpikingMLP((12, 6), [8, 8], 3, delays=False, **kw).double().eval()
    plain.load_state_dict({k: v for k, v in delayed.state_dict().items()
                           if not k.endswith(("positions", "sigma"))}, strict=True)
    with torch.no_grad():
        for layer in delayed.delay_layers():
            layer.positions.zero_()
            layer.round_delays()
    x = torch.rand(4, 12, 6, dtype=torch.float64) * 3
    lengths = torch.tensor([12, 7, 3, 12])
    assert torch.allclose(delayed(x, lengths), plain(x, lengths), atol=1e-12)


def test_padding_does_not_change_logits_and_gradients_reach_positions():
    torch.manual_seed(2)
    m = DelaySpikingMLP((12, 6), [8], 3, max_delay=5, neuron_kwargs=NKW).eval()
    x = torch.rand(2, 7, 6) * 3
    padded = torch.cat([x, torch.zeros(2, 5, 6)], 1)
    a = m(x)
    b = m(padded, lengths=torch.tensor([7, 7]))
    assert torch.allclose(a, b, atol=1e-6)
    m.train()
    m(padded, lengths=torch.tensor([7, 4]), generator=torch.Generator().manual_seed(0)).sum().backward()
    assert float(m.fcs[0].positions.grad.abs().sum()) > 0
    assert float(m.out.weight.grad.abs().sum()) > 0


def test_builder_type_and_errors():
    m = build_model({"type": "snn_delay_mlp", "hidden": [8], "max_delay": 3}, SERIES)
    assert isinstance(m, DelaySpikingMLP)
    with pytest.raises(ValueError, match="needs 'hidden'"):
        build_model({"type": "snn_delay_mlp"}, SERIES)
    with pytest.raises(ValueError, match="snn_delay_mlp"):
        build_model({"type": "snn_delay_mlp", "hidden": [8], "max_delays": 3}, SERIES)
    with pytest.raises(ValueError, match="delays must be True or False"):
        DelaySpikingMLP((12, 6), [8], 3, delays="yes")


def test_rows_reads_an_image_row_by_row():
    torch.manual_seed(3)
    img = DelaySpikingMLP((3, 4, 5), [8], 3, max_delay=3, rows=True, neuron_kwargs=NKW).eval()
    series = DelaySpikingMLP((4, 15), [8], 3, max_delay=3, neuron_kwargs=NKW).eval()
    series.load_state_dict(img.state_dict())
    x = torch.rand(2, 3, 4, 5)
    rows = torch.stack([torch.cat([x[:, c, r] for c in range(3)], -1) for r in range(4)], 1)  # [B, H, C*W]
    assert torch.allclose(img(x), series(rows))
    with pytest.raises(ValueError, match="row by row"):
        DelaySpikingMLP((12, 6), [8], 3, rows=True)
    with pytest.raises(ValueError, match=r"x must have shape \[B, 3, 4, 5\]"):
        img(torch.rand(2, 3, 5, 4))
