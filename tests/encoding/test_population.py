import math

import numpy as np
import pytest
import torch

from snnbench.encoding import (
    PopulationEncoder,
    gaussian_receptive_fields,
    population_encode,
    receptive_field_centres,
)


def test_response_closed_form():
    # n = 3 over [0, 1]: centres 0, 0.5, 1; sigma = 0.5 / 1.5 = 1/3
    r = gaussian_receptive_fields(torch.tensor([[0.5]], dtype=torch.float64), 3)
    expected = [math.exp(-0.25 / (2 / 9)), 1.0, math.exp(-0.25 / (2 / 9))]
    assert torch.allclose(r[0], torch.tensor(expected, dtype=torch.float64))
    r = gaussian_receptive_fields(torch.tensor([[2.0]], dtype=torch.float64), 2, low=1.0, high=3.0, sigma=0.5)
    assert torch.allclose(r[0], torch.tensor([math.exp(-2.0), math.exp(-2.0)], dtype=torch.float64))
    assert torch.allclose(receptive_field_centres(5, -2.0, 2.0), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))


def test_peak_at_nearest_centre():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, generator=g) * 6.0 - 3.0
    n = 7
    r = gaussian_receptive_fields(x, n, low=-3.0, high=3.0).reshape(64, 3, n)
    centres = np.linspace(-3.0, 3.0, n)
    nearest = np.abs(x.numpy()[..., None] - centres).argmin(-1)
    assert np.array_equal(r.argmax(-1).numpy(), nearest)


def test_per_feature_bounds_and_layout():
    x = torch.tensor([[0.0, 10.0]])
    r = gaussian_receptive_fields(x, 3, low=torch.tensor([0.0, 0.0]), high=torch.tensor([1.0, 20.0]))
    assert r.shape == (1, 6)
    # feature f occupies channels f*n .. f*n+n-1: feature 0 peaks at its first neuron,
    # feature 1 (10 in [0, 20]) at its middle one
    assert r[0, :3].argmax() == 0 and r[0, 3:].argmax() == 1
    assert torch.allclose(r[0, [0, 4]], torch.ones(2))


def test_gradient_matches_analytic():
    x = torch.tensor([[0.3, 0.8]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: gaussian_receptive_fields(v, 4, sigma=0.2), (x,))
    r = gaussian_receptive_fields(x, 4, sigma=0.2).reshape(2, 4)
    r.sum().backward()
    c = torch.linspace(0, 1, 4, dtype=torch.float64)
    analytic = (-(x.detach().reshape(2, 1) - c) / 0.04 * r.detach()).sum(-1)
    assert torch.allclose(x.grad.reshape(2), analytic)


def test_tabular_latency_spikes():
    x = torch.tensor([[0.0, 0.52], [1.0, 0.25]])
    T, n = 11, 5
    s = population_encode(x, T, n_neurons=n, min_response=0.1)
    assert s.shape == (T, 2, 2 * n)
    r = gaussian_receptive_fields(x, n)
    fires = r >= 0.1
    assert torch.equal(s.sum(0), fires.float())  # one spike per responsive neuron, none else
    t = s.argmax(0)
    expected = torch.round((1 - r) * (T - 1)).long()
    assert torch.equal(t[fires], expected[fires])
    # the neuron whose centre is nearest spikes first (x = 0.52 -> centre 0.5 = neuron 2)
    assert t[0, n + 2] == t[0, n:][fires[0, n:]].min()


def test_scalar_and_current_modes():
    x = torch.tensor([0.1, 0.9])
    s = population_encode(x, 4, n_neurons=3)
    assert s.shape == (4, 2, 3)
    c = population_encode(x, 4, n_neurons=3, mode="current")
    assert torch.equal(c, gaussian_receptive_fields(x.unsqueeze(-1), 3).expand(4, 2, 3))


def test_time_series_layouts():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 3, generator=g)
    r = gaussian_receptive_fields(x, 4, low=-2.0, high=2.0)  # [B, L, C*n]
    c = population_encode(x, n_neurons=4, low=-2.0, high=2.0, mode="current")
    assert c.shape == (6, 2, 12)
    assert torch.equal(c, r.transpose(0, 1))
    s1 = population_encode(x, n_neurons=4, low=-2.0, high=2.0, min_response=0.3)
    assert torch.equal(s1, (r >= 0.3).float().transpose(0, 1))  # S = 1: spike iff responsive
    s3 = population_encode(x, n_neurons=4, low=-2.0, high=2.0, min_response=0.3, substeps=3)
    assert s3.shape == (18, 2, 12)
    # sample step l occupies network steps 3l .. 3l+2 and holds one latency-coded volley
    for step in range(6):
        block = s3[3 * step: 3 * step + 3]
        expected = population_encode(x[:, step], 3, n_neurons=4, low=-2.0, high=2.0, min_response=0.3)
        assert torch.equal(block, expected.reshape(3, 2, 12))


def test_module_matches_function():
    x = torch.rand(3, 2)
    enc = PopulationEncoder(num_steps=6, n_neurons=5, mode="latency")
    assert torch.equal(enc(x), population_encode(x, 6, n_neurons=5))


@pytest.mark.parametrize("call, match", [
    (lambda: population_encode(torch.rand(2, 3, 4, 5), 5), r"x must have 1 or 2 or 3 dimensions"),
    (lambda: population_encode(torch.rand(2, 3), None), r"num_steps must be an integer >= 1.*None"),
    (lambda: population_encode(torch.rand(2, 3), 0), r"num_steps must be an integer >= 1, got 0"),
    (lambda: population_encode(torch.rand(2, 3, 4), 5), r"num_steps must be None for time series"),
    (lambda: population_encode(torch.rand(2, 3), 5, n_neurons=1), r"n_neurons must be an integer >= 2, got 1"),
    (lambda: population_encode(torch.rand(2, 3), 5, low=1.0, high=1.0), r"high must be > low"),
    (lambda: population_encode(torch.rand(2, 3), 5, sigma=-0.1), r"sigma must be > 0"),
    (lambda: population_encode(torch.rand(2, 3), 5, mode="rate"), r"mode must be one of"),
    (lambda: population_encode(torch.rand(2, 3), 5, low=torch.zeros(2)), r"low must be .* one entry per feature \(3\)"),
    (lambda: population_encode(torch.tensor([[math.nan]]), 5), r"x contains NaN"),
    (lambda: population_encode(torch.rand(2, 3), 5, min_response=1.5), r"min_response must be in \[0.0, 1.0\], got 1.5"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
