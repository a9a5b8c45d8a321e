"""SNN builders: shapes, masking of padded series, activity records, gradients, determinism,
and the synapse/neuron pieces against closed forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from snnbench.models import ConvSNN, FeedForwardSNN, LeakyIntegrator, RecurrentSNN


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _img(b=3, hw=8, seed=0):
    return torch.rand(b, 1, hw, hw, generator=_gen(seed))


@pytest.mark.parametrize("readout", ["spike_count", "mean_membrane", "max_membrane",
                                     "last_membrane", "first_spike_time"])
def test_feedforward_image_shapes_every_readout(readout):
    m = FeedForwardSNN((1, 8, 8), [16, 12], 10, num_steps=4, readout=readout)
    assert m(_img(), generator=_gen()).shape == (3, 10)


@pytest.mark.parametrize("encoder, kw", [("poisson", {}), ("bernoulli", {}), ("latency", {}),
                                         ("rank_order", {}), ("population", {"n_neurons": 3}),
                                         ("direct", {})])
def test_feedforward_tabular_every_static_encoder(encoder, kw):
    m = FeedForwardSNN((4,), [8], 3, encoder=encoder, encoder_kwargs=kw, num_steps=5)
    x = torch.rand(6, 4, generator=_gen())
    assert m(x, generator=_gen()).shape == (6, 3)
    assert m.num_steps == 5
    if encoder == "population":
        assert m.fcs[0].in_features == 4 * 3


@pytest.mark.parametrize("encoder", ["direct", "delta", "population"])
def test_feedforward_series_shapes(encoder):
    m = FeedForwardSNN((11, 3), [8], 4, encoder=encoder, readout="mean_membrane")
    x = torch.randn(2, 11, 3, generator=_gen())
    assert m(x, torch.tensor([11, 6])).shape == (2, 4)
    assert m(x[:, :7]).shape == (2, 4)  # another series length is fine


@pytest.mark.parametrize("neuron, kw", [("lif", {"tau_mem": 5.0}), ("if", {}),
                                        ("alif", {"theta_plus": 0.1}),
                                        ("izhikevich", {"preset": "fast_spiking"})])
def test_every_neuron_model_in_ff_and_conv(neuron, kw):
    for m in (FeedForwardSNN((1, 8, 8), [8], 10, neuron=neuron, neuron_kwargs=kw, num_steps=3),
              ConvSNN((1, 8, 8), [4], 10, kernel_size=3, neuron=neuron, neuron_kwargs=kw,
                      num_steps=3)):
        m.record = True
        assert m(_img(2), generator=_gen()).shape == (2, 10)
        first = next(iter(m.last_activity.values()))
        assert first["membrane"].shape == first["spikes"].shape
        assert first["spikes"].shape[:2] == (3, 2)


def test_conv_and_recurrent_shapes():
    c = ConvSNN((1, 8, 8), [4, 6], 10, kernel_size=3, hidden=[12], num_steps=3)
    assert c(_img(), generator=_gen()).shape == (3, 10)
    c28 = ConvSNN((1, 28, 28), [12, 32], 10, kernel_size=5, padding=0, num_steps=2)
    assert c28.feature_shape == (32, 4, 4)  # 12c5-p2-32c5-p2
    assert c28(_img(2, 28), generator=_gen()).shape == (2, 10)
    r = RecurrentSNN((9, 3), [8, 5], 4)
    assert r(torch.randn(2, 9, 3, generator=_gen()), torch.tensor([9, 2])).shape == (2, 4)
    # static inputs work for the recurrent network too (encoded over num_steps)
    r = RecurrentSNN((4,), [8], 3, encoder="poisson", num_steps=6, readout="spike_count")
    assert r(torch.rand(2, 4, generator=_gen()), generator=_gen()).shape == (2, 3)


def _padded_pair(c: int, seed: int = 0):
    g = _gen(seed)
    x = torch.randn(2, 10, c, generator=g)
    lengths = torch.tensor([6, 10])
    x[0, 6:] = 5.0 * torch.randn(4, c, generator=g)  # garbage, not just zeros: must not count
    return x, lengths


@pytest.mark.parametrize(
    "make",
    [
        lambda r: FeedForwardSNN((10, 3), [16], 4, encoder="direct", readout=r,
                                 neuron_kwargs={"threshold": 0.3}),
        lambda r: FeedForwardSNN((10, 3), [16], 4, encoder="delta", readout=r,
                                 neuron_kwargs={"threshold": 0.3}),
        lambda r: FeedForwardSNN((10, 3), [16], 4, encoder="population", readout=r,
                                 encoder_kwargs={"n_neurons": 4, "substeps": 2}),
        lambda r: RecurrentSNN((10, 3), [16, 8], 4, readout=r, neuron_kwargs={"threshold": 0.3}),
    ],
)
@pytest.mark.parametrize("readout", ["spike_count", "mean_membrane", "max_membrane",
                                     "last_membrane", "first_spike_time"])
def test_padded_series_logits_equal_unpadded(make, readout):
    torch.manual_seed(0)
    m = make(readout)
    x, lengths = _padded_pair(3)
    padded = m(x, lengths)
    torch.testing.assert_close(padded[0], m(x[:1, :6])[0])
    torch.testing.assert_close(padded[1], m(x[1:])[0])
    if readout in ("mean_membrane", "last_membrane"):  # garbage shifts these unmasked
        assert not torch.allclose(m(x)[0], padded[0])


def test_record_activity_shapes_and_consistency():
    m = FeedForwardSNN((1, 8, 8), [16, 12], 10, num_steps=4, encoder="bernoulli",
                       neuron_kwargs={"threshold": 0.5})
    x = _img()
    m(x, generator=_gen())
    assert m.last_activity == {}  # record is off by default
    m.record = True
    m(x, generator=_gen())
    act = m.last_activity
    assert list(act) == [n for n, _ in m.synapse_layers()] == ["fc1", "fc2", "out"]
    assert act["fc1"]["input"].shape == (4, 3, 64)
    for name, width in [("fc1", 16), ("fc2", 12), ("out", 10)]:
        assert act[name]["spikes"].shape == act[name]["membrane"].shape == (4, 3, width)
        assert set(act[name]["spikes"].unique().tolist()) <= {0.0, 1.0}
        assert not act[name]["spikes"].requires_grad
    torch.testing.assert_close(act["fc2"]["input"], act["fc1"]["spikes"])
    torch.testing.assert_close(act["out"]["input"], act["fc2"]["spikes"])
    assert m.spiking_layers == ("fc1", "fc2", "out")
    # the first input is the encoded sample: the same generator gives the same spikes
    from snnbench.encoding import bernoulli_encode

    expected = bernoulli_encode(x, 4, generator=_gen()).flatten(2)
    torch.testing.assert_close(act["fc1"]["input"], expected)


def test_conv_record_and_folded_conv_matches_per_step_conv():
    m = ConvSNN((1, 8, 8), [4, 6], 10, kernel_size=3, num_steps=3, encoder="direct",
                readout="mean_membrane")
    m.record = True
    x = _img(2)
    m(x)
    act = m.last_activity
    assert list(act) == ["conv1", "conv2", "out"] == [n for n, _ in m.synapse_layers()]
    assert act["conv1"]["input"].shape == (3, 2, 1, 8, 8)
    assert act["conv1"]["spikes"].shape == (3, 2, 4, 4, 4)
    assert act["conv2"]["spikes"].shape == (3, 2, 6, 2, 2)
    assert act["out"]["membrane"].shape == (3, 2, 10)
    assert m.spiking_layers == ("conv1", "conv2")  # the output integrator does not spike
    # v_0 = 0, so the first pre-reset membrane is the first current: maxpool(conv(x))
    expected = F.max_pool2d(m.convs[0](x), 2)
    torch.testing.assert_close(act["conv1"]["membrane"][0], expected.detach())


def test_recurrent_record_entries():
    m = RecurrentSNN((7, 3), [8], 4, neuron_kwargs={"threshold": 0.3})
    m.record = True
    m(torch.randn(2, 7, 3, generator=_gen()))
    act = m.last_activity
    assert list(act) == [n for n, _ in m.synapse_layers()] == ["rec1", "rec1_rec", "out"]
    s = act["rec1"]["spikes"]
    assert s.shape == (7, 2, 8)
    # the recurrent synapse sees the layer's own spikes one step late
    torch.testing.assert_close(act["rec1_rec"]["input"][1:], s[:-1])
    assert float(act["rec1_rec"]["input"][0].abs().sum()) == 0.0
    assert m.spiking_layers == ("rec1",)
    assert m.depth == 1


def test_leaky_integrator_closed_form():
    beta = 0.8
    x = torch.randn(6, 2, 3, generator=_gen(), dtype=torch.float64)
    v, last = LeakyIntegrator(beta)(x)
    t = torch.arange(6, dtype=torch.float64)
    # v_t = sum_{k <= t} beta^(t-k) x_k
    kernel = torch.tril(beta ** (t.view(-1, 1) - t.view(1, -1)))
    torch.testing.assert_close(v, torch.einsum("tk,kbc->tbc", kernel, x))
    torch.testing.assert_close(last, v[-1])


@pytest.mark.parametrize(
    "make, x, lengths",
    [
        (lambda: FeedForwardSNN((1, 8, 8), [16], 10, num_steps=5, encoder="bernoulli",
                                neuron_kwargs={"threshold": 0.3, "learn_tau": True}),
         _img(4), None),
        (lambda: FeedForwardSNN((1, 8, 8), [16], 10, num_steps=5, encoder="bernoulli",
                                readout="mean_membrane", neuron_kwargs={"threshold": 0.3}),
         _img(4), None),
        (lambda: ConvSNN((1, 8, 8), [4], 10, kernel_size=3, hidden=[8], num_steps=4,
                         encoder="bernoulli", neuron_kwargs={"threshold": 0.2}),
         _img(4), None),
        (lambda: RecurrentSNN((8, 3), [12], 4, neuron_kwargs={"threshold": 0.2}),
         torch.randn(4, 8, 3, generator=_gen()), torch.tensor([8, 5, 3, 8])),
    ],
)
def test_gradients_reach_every_parameter(make, x, lengths):
    torch.manual_seed(0)
    m = make()
    logits = m(x, lengths, generator=_gen(1))
    F.cross_entropy(logits, torch.arange(4) % logits.shape[1]).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert float(p.grad.abs().sum()) > 0, name


def test_determinism_under_a_generator():
    torch.manual_seed(0)
    m = FeedForwardSNN((1, 8, 8), [16], 10, num_steps=8, encoder="poisson",
                       encoder_kwargs={"max_rate_hz": 500.0}, neuron_kwargs={"threshold": 0.2})
    x = _img()
    a = m(x, generator=_gen(5))
    b = m(x, generator=_gen(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    m.record = True
    m(x, generator=_gen(5))
    s5 = m.last_activity["fc1"]["input"]
    m(x, generator=_gen(6))
    assert not torch.equal(s5, m.last_activity["fc1"]["input"])


def test_snn_bad_arguments():
    with pytest.raises(ValueError, match="neuron must be one of"):
        FeedForwardSNN((4,), [8], 3, neuron="hodgkin")
    with pytest.raises(ValueError, match="readout must be one of"):
        FeedForwardSNN((4,), [8], 3, readout="vote")
    with pytest.raises(ValueError, match="bad neuron_kwargs for neuron='if'"):
        FeedForwardSNN((4,), [8], 3, neuron="if", neuron_kwargs={"beta": 0.5})
    with pytest.raises(ValueError, match="encoder must be one of"):
        FeedForwardSNN((10, 3), [8], 3, encoder="poisson")  # not a series encoder
    with pytest.raises(ValueError, match="num_steps"):
        FeedForwardSNN((4,), [8], 3, num_steps=0)
    with pytest.raises(ValueError, match="input_shape must be"):
        ConvSNN((64,), [4], 3)
    m = FeedForwardSNN((4,), [8], 3, num_steps=2)
    with pytest.raises(ValueError, match="x must have shape"):
        m(torch.rand(2, 5))
    with pytest.raises(ValueError, match="lengths is only meaningful"):
        m(torch.rand(2, 4), torch.tensor([1, 1]))
    s = FeedForwardSNN((10, 3), [8], 3)
    with pytest.raises(ValueError, match="lengths must lie in"):
        s(torch.randn(2, 10, 3), torch.tensor([11, 3]))
    with pytest.raises(ValueError, match=r"x must have shape \[B, L, 3\]"):
        s(torch.randn(2, 10, 4))


@pytest.mark.parametrize(
    "make",
    [
        lambda: FeedForwardSNN((1, 8, 8), [16], 10, encoder="direct", num_steps=5,
                               neuron_kwargs={"threshold": 0.2}),
        lambda: ConvSNN((1, 8, 8), [4], 10, kernel_size=3, encoder="direct", num_steps=5,
                        neuron_kwargs={"threshold": 0.2}),
    ],
)
def test_direct_code_first_synapse_once_equals_folded(make):
    torch.manual_seed(0)
    m = make()
    assert m.constant_input
    x = _img()
    y = torch.arange(3)

    def run():
        m.zero_grad()
        out = m(x)
        F.cross_entropy(out, y).backward()
        return out.detach(), [p.grad.clone() for p in m.parameters()]

    fast, g_fast = run()
    m.constant_input = False  # the plain path: one folded matmul over all T steps
    slow, g_slow = run()
    torch.testing.assert_close(fast, slow)
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert float(fast.abs().sum()) > 0  # the network did spike
