"""DelaySNN: exact delayed dynamics against hand-computed spike trains, padding/latency
handling, parameter counting and matching, the builder, gradients and bad arguments."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from snnbench.models import DelaySNN, FeedForwardSNN, build_model, count_parameters
from snnbench.synapses.delays import DelayedLinear, anneal_all, round_all_delays


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _set(layer: DelayedLinear, weight, positions, bias=None) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        layer.positions.copy_(torch.as_tensor(positions, dtype=layer.positions.dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.zeros_like(layer.bias) if bias is None else torch.as_tensor(bias))


def test_rounded_delays_give_the_hand_computed_spike_train_and_membrane():
    # 1 input -> 1 hidden LIF (beta 0.5, threshold 1) -> 2 leaky-integrator outputs.
    # Input spikes at t = 1 and 6; weight 1.5 with delay 3: the hidden current is 1.5 at
    # t = 4 and 9, above threshold at once (soft reset leaves 0.5, decaying by half).
    beta = 0.5
    m = DelaySNN((12, 1), [1], 2, max_delay=6, readout="mean_membrane",
                 neuron_kwargs={"beta": beta}, output_beta=0.8, extra_steps=0)
    _set(m.fcs[0], [[1.5]], [[3.0]])
    _set(m.out, [[2.0], [-1.0]], [[0.0], [5.0]])
    round_all_delays(m)
    x = torch.zeros(1, 12, 1)
    x[0, [1, 6], 0] = 1.0
    m.record = True
    logits = m(x)
    hidden = m.last_activity["fc1"]["spikes"][:, 0, 0]
    expect = torch.zeros(12)
    expect[[4, 9]] = 1.0
    assert torch.equal(hidden, expect)
    # the soft reset leaves 0.5 after the spike at t = 4, which then halves each step
    mem = m.last_activity["fc1"]["membrane"][:, 0, 0]
    assert mem[5].item() == pytest.approx(0.25) and mem[6].item() == pytest.approx(0.125)
    assert mem[:4].abs().max().item() == 0.0
    # output k: v_t = 0.8 v_{t-1} + w_k s_{t - d_k}; closed form by hand
    v = torch.zeros(12, 2)
    prev = torch.zeros(2)
    for t in range(12):
        cur = torch.tensor([2.0 * expect[t], -1.0 * (expect[t - 5] if t >= 5 else 0.0)])
        prev = 0.8 * prev + cur
        v[t] = prev
    torch.testing.assert_close(m.last_activity["out"]["membrane"][:, 0], v)
    torch.testing.assert_close(logits[0], v.mean(0))


def test_padded_series_give_the_same_logits_as_unpadded():
    torch.manual_seed(0)
    m = DelaySNN((9, 3), [6, 5], 4, max_delay=4, readout="mean_membrane")
    x = torch.randn(2, 9, 3, generator=_gen(1))
    x[1, 5:] = 0.0  # sample 1 is 5 steps long, zero padded
    both = m(x, torch.tensor([9, 5]))
    alone = m(x[1:, :5])
    torch.testing.assert_close(both[1], alone[0])
    torch.testing.assert_close(both[0], m(x[:1])[0])


def test_extra_steps_let_late_input_reach_the_readout():
    # A spike in the last frame travels through a 3-step delay: without extra steps it
    # arrives after the readout window; with extra_steps = K - 1 it counts.
    def model(extra):
        m = DelaySNN((5, 1), [1], 2, max_delay=4, readout="mean_membrane",
                     neuron_kwargs={"beta": 0.0}, output_beta=0.0, delay_output=False,
                     extra_steps=extra)
        _set(m.fcs[0], [[2.0]], [[3.0]])
        with torch.no_grad():
            m.out.weight.copy_(torch.tensor([[1.0], [0.0]]))
            m.out.bias.zero_()
        round_all_delays(m)
        return m

    x = torch.zeros(1, 5, 1)
    x[0, 4, 0] = 1.0
    assert model(0)(x)[0, 0].item() == 0.0
    default = model(None)
    assert default.extra_steps == 3
    # 8 readout steps, one hidden spike (at t = 7) into output 0 with weight 1
    assert default(x)[0, 0].item() == pytest.approx(1.0 / 8)


def test_parameter_count_is_weights_biases_and_positions_and_gru_matches_it():
    m = DelaySNN((20, 12), [16, 8], 9, max_delay=5)
    conns = 12 * 16 + 16 * 8 + 8 * 9
    assert count_parameters(m) == 2 * conns + (16 + 8 + 9)
    no_bias = DelaySNN((20, 12), [16, 8], 9, max_delay=5, bias=False, delay_output=False)
    assert count_parameters(no_bias) == 2 * (12 * 16 + 16 * 8) + 8 * 9 + 9
    info = SimpleNamespace(input_shape=(20, 12), num_classes=9)
    spec = {"type": "snn_delay", "hidden": [16, 8], "max_delay": 5}
    gru = build_model({"type": "gru", "match": spec, "tolerance": 0.05}, info)
    assert gru.match_info["snn_params"] == count_parameters(m)
    assert abs(count_parameters(gru) / count_parameters(m) - 1) <= 0.05


def test_builder_makes_a_delay_snn_and_requires_hidden():
    info = SimpleNamespace(input_shape=(7, 3), num_classes=4)
    m = build_model({"type": "snn_delay", "hidden": [5], "max_delay": 3}, info)
    assert isinstance(m, DelaySNN) and m.max_delay == 3
    assert [type(s).__name__ for _, s in m.synapse_layers()] == ["DelayedLinear"] * 2
    with pytest.raises(ValueError, match="hidden"):
        build_model({"type": "snn_delay"}, info)
    with pytest.raises(ValueError, match="unknown keys"):
        build_model({"type": "snn_delay", "hidden": [5], "max_dealy": 3}, info)


def test_static_inputs_and_spike_readout_and_activity_contract():
    m = DelaySNN((1, 4, 4), [8], 3, max_delay=3, num_steps=5, encoder="poisson")
    x = torch.rand(2, 1, 4, 4, generator=_gen())
    m.record = True
    out = m(x, generator=_gen(2))
    assert out.shape == (2, 3)
    assert set(m.last_activity) == {"fc1", "out"} and m.spiking_layers == ("fc1", "out")
    assert m.last_activity["fc1"]["spikes"].shape == (5 + 2, 2, 8)  # T + extra_steps
    assert m.last_activity["fc1"]["input"].shape == (7, 2, 16)
    assert m.depth == 1
    # same generator, same spikes: deterministic
    m.record = False
    torch.testing.assert_close(m(x, generator=_gen(2)), out)


def test_gradients_reach_positions_and_weights_and_same_seed_same_model():
    torch.manual_seed(3)
    a = DelaySNN((10, 2), [6], 3, max_delay=5, readout="mean_membrane")
    torch.manual_seed(3)
    b = DelaySNN((10, 2), [6], 3, max_delay=5, readout="mean_membrane")
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(pa, pb), na
    anneal_all(a, 0, 5)
    x = torch.randn(4, 10, 2, generator=_gen(4))
    loss = F.cross_entropy(a(x), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    for layer in a.delay_layers():
        assert layer.positions.grad is not None and layer.positions.grad.abs().sum() > 0
        assert layer.weight.grad.abs().sum() > 0


def test_gaussian_then_rounded_evaluation_matches_a_plain_snn_at_zero_delay():
    # With every delay 0 and exact kernels the delayed SNN is the plain feed-forward SNN
    # with the same weights: an independent implementation of the same dynamics.
    torch.manual_seed(0)
    ff = FeedForwardSNN((8, 3), [7, 5], 4, readout="mean_membrane")
    d = DelaySNN((8, 3), [7, 5], 4, max_delay=3, readout="mean_membrane", extra_steps=0)
    for lin, dl in zip([*ff.fcs, ff.out], d.delay_layers()):
        _set(dl, lin.weight.detach(), torch.zeros_like(lin.weight), lin.bias.detach())
    round_all_delays(d)
    x = torch.randn(3, 8, 3, generator=_gen(5))
    lengths = torch.tensor([8, 4, 6])
    torch.testing.assert_close(d(x, lengths), ff(x, lengths))


@pytest.mark.parametrize("kw, match", [
    ({"max_delay": 0}, "max_delay"),
    ({"extra_steps": -1}, "extra_steps"),
    ({"delay_output": "yes"}, "delay_output"),
    ({"bias": 1}, "bias"),
    ({"sigma_schedule": "step"}, "schedule"),
    ({"delay_init": "random"}, "delay_init"),
    ({"hidden": [0]}, "hidden"),
])
def test_bad_arguments_raise_value_errors_naming_them(kw, match):
    args = {"input_shape": (6, 2), "hidden": [4], "num_classes": 3, **kw}
    with pytest.raises(ValueError, match=match):
        DelaySNN(**args)


def test_sigma_schedule_reaches_the_layers():
    m = DelaySNN((6, 2), [4], 3, max_delay=9, sigma_init=4.0, sigma_final=1.0,
                 sigma_schedule="linear")
    assert anneal_all(m, 0, 3) == [4.0, 4.0]
    assert anneal_all(m, 2, 3) == [1.0, 1.0]
    assert math.isclose(float(m.fcs[0].sigma), 1.0)


@pytest.mark.parametrize("preset, shape, classes", [
    ("fsdd-spikes", (40, 64), 10), ("japanesevowels-delays", (29, 12), 9), ("shd", (100, 140), 20),
])
def test_delay_presets_build_three_models_with_the_gru_matched_to_the_delayed_snn(preset, shape, classes):
    from snnbench.experiments.config import load_suite
    from snnbench.experiments.runner import build_experiment_model

    exp = load_suite(preset).experiments[0]
    info = SimpleNamespace(input_shape=shape, num_classes=classes)
    built = {m.type: build_experiment_model(exp, m, info) for m in exp.models}
    assert set(built) == {"snn_ff", "snn_delay", "gru"}
    ff, delay = built["snn_ff"][0], built["snn_delay"][0]
    assert ff.hidden == delay.hidden  # same layout, the delays are the only difference
    gru_info = built["gru"][1]
    assert gru_info["matched_to"] == next(m.name for m in exp.models if m.type == "snn_delay")
    assert gru_info["snn_params"] == count_parameters(delay)
    assert abs(gru_info["params"] / count_parameters(delay) - 1) <= 0.05
