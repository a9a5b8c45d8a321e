"""ANN-to-SNN conversion against closed forms: IF counts for constant currents, the
percentile scales of known activations, pooled counts, and logits converging to the ANN's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnbench.models.ann import CNN, MLP, GRUClassifier
from snnbench.models.conversion import activation_scales, convert, if_soft_reset


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


@pytest.mark.parametrize("v0", [0.0, 0.5])
def test_if_soft_reset_counts_are_floor_of_charge(v0):
    # dyadic currents in float64: every partial sum is exact, so the closed form holds bit for bit
    z = torch.tensor([-0.25, 0.0, 1 / 64, 0.125, 0.5, 37 / 64, 1.0, 1.5], dtype=torch.float64)
    for steps in (1, 7, 64, 200):
        v = torch.full_like(z, v0)
        count = torch.zeros_like(z)
        for _ in range(steps):
            v, s = if_soft_reset(v, z)
            count += s
        expected = [min(max(math.floor(steps * zi + v0), 0), steps) for zi in z.tolist()]
        assert count.tolist() == expected
        ok = (z >= 0) & (z <= 1)
        # rate within 1/T of the (clipped) ReLU activation: the conversion's error bound
        assert ((count / steps - z).abs()[ok] <= 1 / steps + 1e-12).all()


def _identity_mlp(n_in: int) -> MLP:
    net = MLP((n_in,), [n_in], 2).double()
    with torch.no_grad():
        net.hidden_layers[0].weight.copy_(torch.eye(n_in, dtype=torch.float64))
        net.hidden_layers[0].bias.zero_()
    return net


def test_scales_are_the_percentiles_of_positive_activations():
    net = _identity_mlp(1)
    xs = torch.cat([torch.arange(1, 1001), -torch.arange(1, 301)]).double().view(-1, 1)
    batches = list(xs.split(128))
    # linear-interpolation percentile of 1..N at p: 1 + (N - 1) p / 100; negatives are ignored
    assert activation_scales(net, batches, 99.9) == [pytest.approx(1 + 999 * 0.999)]
    assert activation_scales(net, batches, 100.0) == [1000.0]
    assert activation_scales(net, batches, 50.0) == [pytest.approx(500.5)]


def test_silent_layer_gets_scale_one_and_bad_calibration_is_refused():
    net = _identity_mlp(2)
    assert activation_scales(net, [-torch.ones(4, 2, dtype=torch.float64)]) == [1.0]
    with pytest.raises(ValueError, match="calibration data is empty"):
        activation_scales(net, [])
    with pytest.raises(ValueError, match="percentile"):
        activation_scales(net, [torch.ones(1, 2)], 0.0)
    with pytest.raises(ValueError, match="MLP or CNN"):
        convert(GRUClassifier(3, 4, 1, 2), [torch.ones(1, 5, 3)])


def test_converted_mlp_rates_and_logits_converge_to_the_ann():
    torch.manual_seed(0)
    net = MLP((6,), [16, 12], 3).double().eval()
    x = torch.rand(20, 6, dtype=torch.float64)
    snn = convert(net, [x], percentile=100.0)
    ann_logits = net(x).detach()
    errs = []
    for steps in (4, 32, 256):
        errs.append(float((snn(x, steps) - ann_logits).abs().max()))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.05 * float(ann_logits.abs().max())
    # the first hidden layer sees a constant current: its spike counts are floor(T a / lam + 1/2)
    a1 = torch.relu(net.hidden_layers[0](x)) / snn.scales[0]
    counts = torch.zeros_like(a1)

    def hook(t, seen):
        counts.add_(seen[1][1])  # what entered the second hidden layer: layer 1's spikes

    snn.simulate(x, 100, on_step=hook)
    assert torch.equal(counts, torch.floor(100 * a1 + 0.5).clamp(max=100))


def test_converted_cnn_max_pool_counts_follow_the_pooled_activation():
    torch.manual_seed(1)
    net = CNN((1, 6, 6), [3], 2, kernel_size=3, pool=2).double().eval()
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    snn = convert(net, [x], percentile=100.0)
    pooled = net.pools[0](torch.relu(net.convs[0](x))) / snn.scales[0]
    counts = torch.zeros_like(pooled)

    def hook(t, seen):
        counts.add_(seen[1][1].view_as(pooled))

    snn.simulate(x, 64, on_step=hook)
    # max of the accumulated current: with a constant input, the pooled unit integrates max(z)
    assert torch.allclose(counts, torch.floor(64 * pooled + 0.5).clamp(max=64), atol=0)
    ref = net(x).detach()
    assert float((snn(x, 256) - ref).abs().max()) < 0.02 * float(ref.abs().max()) + 1e-3


def test_two_conv_cnn_converges_with_spiking_pool_inputs():
    torch.manual_seed(2)
    net = CNN((1, 8, 8), [4, 6], 3, kernel_size=3, hidden=[10]).double().eval()
    x = torch.rand(8, 1, 8, 8, dtype=torch.float64)
    snn = convert(net, [x], percentile=100.0)
    ref = net(x).detach()
    e16, e512 = (float((snn(x, t) - ref).abs().max()) for t in (16, 256))
    assert e512 < e16 and e512 < 0.05 * float(ref.abs().max())
    with pytest.raises(ValueError, match="x must have shape"):
        snn(torch.rand(2, 1, 7, 7, dtype=torch.float64), 4)


def test_conversion_leaves_the_ann_unchanged():
    net = MLP((4,), [5], 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    snn = convert(net, [torch.rand(3, 4)])
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(snn.layers[0], nn.Linear) and not snn.layers[0].weight.requires_grad
