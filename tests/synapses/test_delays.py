"""Tests for learnable delays: closed-form kernels, exact shifts, gradients, a toy task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnbench.synapses.delays import (
    DelayedLinear,
    DelayState,
    anneal_all,
    anneal_sigma,
    clamp_all_positions,
    round_all_delays,
    delay_kernel,
    delay_lag_weights,
    delayed_linear,
    split_delay_parameters,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _reference(x, kernel, bias=None):
    """y_t[o] = b_o + sum_{i,k} kernel[o,i,k] x_{t-k}[i], looped by hand (float64 numpy)."""
    x = np.asarray(x, dtype=np.float64)
    ker = np.asarray(kernel, dtype=np.float64)
    t_len, batch, _ = x.shape
    out, _, k_len = ker.shape
    y = np.zeros((t_len, batch, out))
    for t in range(t_len):
        for k in range(k_len):
            if t - k >= 0:
                y[t] += x[t - k] @ ker[:, :, k].T
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)
    return y


# -- kernel ------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 1.0, 4.0, 50.0])
def test_lag_weights_are_normalised_gaussians(sigma):
    pos = torch.tensor([[0.0, 2.5, 4.0], [1.2, -3.0, 9.0]], dtype=torch.float64)
    g = delay_lag_weights(pos, sigma, 5)
    assert g.shape == (2, 3, 5)
    torch.testing.assert_close(g.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    lags = np.arange(5.0)
    for d, row in zip(pos.flatten().tolist(), g.reshape(-1, 5).numpy()):
        e = np.exp(-((lags - d) ** 2) / (2 * sigma**2))
        np.testing.assert_allclose(row, e / e.sum(), rtol=1e-12, atol=1e-300)


def test_tiny_sigma_stays_finite_and_peaks_at_nearest_lag():
    g = delay_lag_weights(torch.tensor([2.2, 6.9]), 1e-3, 8)
    assert torch.isfinite(g).all()
    assert g.argmax(-1).tolist() == [2, 7]


def test_sigma_zero_is_one_hot_at_rounded_clamped_position():
    g = delay_lag_weights(torch.tensor([1.4, 1.6, -2.0, 30.0]), 0.0, 6)
    assert g.argmax(-1).tolist() == [1, 2, 0, 5]
    torch.testing.assert_close(g.sum(-1), torch.ones(4))
    assert set(g.unique().tolist()) == {0.0, 1.0}


def test_functional_matches_hand_loop_with_bias():
    g = _gen(1)
    x = torch.rand(9, 2, 3, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, generator=g, dtype=torch.float64)
    d = torch.rand(4, 3, generator=g, dtype=torch.float64) * 4
    b = torch.randn(4, generator=g, dtype=torch.float64)
    y = delayed_linear(x, w, d, 0.8, 5, bias=b)
    ref = _reference(x, delay_kernel(w, d, 0.8, 5), b)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_max_delay_one_is_a_plain_linear_layer():
    g = _gen(2)
    x = torch.randn(5, 3, 4, generator=g)
    w = torch.randn(2, 4, generator=g)
    y = delayed_linear(x, w, torch.zeros(2, 4), 1.0, 1)
    torch.testing.assert_close(y, x @ w.T)


# -- exact integer delays -----------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_rounded_delay_shifts_spike_train_exactly(k):
    layer = DelayedLinear(1, 1, 7, delay_init="constant", init_delay=min(k + 0.4, 6.0))
    with torch.no_grad():
        layer.weight.fill_(1.0)
    delays = layer.round_delays()
    assert delays.tolist() == [[k]] and layer.exact
    spikes = (torch.rand(20, 3, 1, generator=_gen(k)) < 0.4).float()
    y, _ = layer(spikes)
    expected = torch.zeros_like(spikes)
    expected[k:] = spikes[: 20 - k]
    assert torch.equal(y, expected)


def test_round_delays_per_connection_matches_hand_shift():
    layer = DelayedLinear(3, 2, 5, generator=_gen(3))
    d = layer.round_delays()
    assert float(layer.sigma) == 0.0
    assert torch.equal(layer.positions, d.to(layer.positions.dtype))
    x = (torch.rand(12, 2, 3, generator=_gen(4)) < 0.5).float()
    y, _ = layer(x)
    w = layer.weight.detach()
    ref = torch.zeros(12, 2, 2)
    for o in range(2):
        for i in range(3):
            s = int(d[o, i])
            ref[s:, :, o] += w[o, i] * x[: 12 - s, :, i]
    torch.testing.assert_close(y.detach(), ref)


def test_exact_mode_gives_no_gradient_to_positions_but_to_weights():
    layer = DelayedLinear(2, 2, 4, generator=_gen(5))
    layer.round_delays()
    y, _ = layer(torch.rand(6, 1, 2, generator=_gen(6)))
    y.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert layer.positions.grad is None


# -- gradients ----------------------------------------------------------------------------


def test_gradcheck_weights_positions_and_input_float64():
    g = _gen(7)
    x = torch.rand(6, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    d = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 3).requires_grad_()
    b = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x_, w_, d_, b_: delayed_linear(x_, w_, d_, 1.3, 4, bias=b_), (x, w, d, b)
    )


def test_gradcheck_narrow_sigma_and_positions_outside_the_range():
    g = _gen(12)
    w = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    d = torch.tensor([[-1.3, 0.4], [2.6, 6.2]], dtype=torch.float64, requires_grad=True)
    x = torch.rand(5, 1, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda w_, d_: delayed_linear(x, w_, d_, 0.45, 4), (w, d))
    k = delay_kernel(w, d, 0.05, 4)  # far narrower than a step: still finite, still normalised
    assert torch.isfinite(k).all()
    torch.testing.assert_close(k.sum(-1), w.detach())


def test_position_gradient_matches_closed_form():
    # One connection, one input spike at t=0, so y_t = g[t]. Differentiating the
    # normalised Gaussian by hand: d g_k / d d = g_k ((k-d) - sum_j g_j (j-d)) / sigma^2.
    sigma, d0, kmax = 1.7, 2.3, 6
    d = torch.tensor([[d0]], dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, dtype=torch.float64)
    x = torch.zeros(kmax, 1, 1, dtype=torch.float64)
    x[0] = 1.0
    y = delayed_linear(x, w, d, sigma, kmax)[:, 0, 0]
    lags = np.arange(kmax)
    e = np.exp(-((lags - d0) ** 2) / (2 * sigma**2))
    gk = e / e.sum()
    mean = (gk * (lags - d0)).sum()
    for t in range(kmax):
        (grad,) = torch.autograd.grad(y[t], d, retain_graph=True)
        expected = gk[t] * ((t - d0) - mean) / sigma**2
        assert math.isclose(float(grad), expected, rel_tol=1e-9, abs_tol=1e-12)


def test_learns_known_delays_on_a_toy_task():
    # target_t = x_{t-2}[0] + x_{t-5}[1] + x_{t-7}[2]; weights fixed at 1, positions start
    # at the middle of the range and must move to (2, 5, 7) while sigma is annealed.
    true = torch.tensor([2.0, 5.0, 7.0])
    layer = DelayedLinear(3, 1, 10, delay_init="constant", init_delay=4.5,
                          sigma_init=3.0, sigma_final=0.5, schedule="exponential")
    with torch.no_grad():
        layer.weight.fill_(1.0)
    layer.weight.requires_grad_(False)
    opt = torch.optim.Adam(layer.delay_parameters(), lr=0.1)
    g = _gen(8)
    epochs, steps = 10, 15
    for epoch in range(epochs):
        layer.anneal(epoch, epochs)
        for _ in range(steps):
            x = (torch.rand(40, 8, 3, generator=g) < 0.2).float()
            target = torch.zeros(40, 8, 1)
            for i, s in enumerate(true.long().tolist()):
                target[s:, :, 0] += x[: 40 - s, :, i]
            y, _ = layer(x)
            loss = ((y - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            layer.clamp_positions()
    learned = layer.positions.detach()[0]
    assert (learned - true).abs().max() < 0.5, learned
    layer.round_delays()
    x = (torch.rand(30, 2, 3, generator=g) < 0.3).float()
    y, _ = layer(x)
    target = torch.zeros(30, 2, 1)
    for i, s in enumerate(true.long().tolist()):
        target[s:, :, 0] += x[: 30 - s, :, i]
    assert torch.equal(y, target)


# -- module behaviour ---------------------------------------------------------------------


def test_chunked_streaming_equals_one_pass():
    layer = DelayedLinear(3, 4, 6, bias=True, generator=_gen(9))
    x = torch.randn(17, 2, 3, generator=_gen(10))
    full, _ = layer(x)
    state = None
    outs = []
    for chunk in (x[:2], x[2:9], x[9:]):
        y, state = layer(chunk, state)
        outs.append(y)
    assert isinstance(state, DelayState) and state.history.shape == (5, 2, 3)
    torch.testing.assert_close(torch.cat(outs), full)


def test_same_generator_seed_same_layer():
    a = DelayedLinear(5, 3, 8, bias=True, generator=_gen(11))
    b = DelayedLinear(5, 3, 8, bias=True, generator=_gen(11))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert a.positions.min() >= 0 and a.positions.max() <= 7
    z = DelayedLinear(5, 3, 8, delay_init="zero")
    assert torch.count_nonzero(z.positions) == 0


def test_parameter_groups():
    layer = DelayedLinear(4, 2, 3, bias=True)
    assert [id(p) for p in layer.delay_parameters()] == [id(layer.positions)]
    assert [id(p) for p in layer.weight_parameters()] == [id(layer.weight), id(layer.bias)]
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), layer)
    delays, rest = split_delay_parameters(model)
    assert [id(p) for p in delays] == [id(layer.positions)]
    assert len(rest) == 4 and all(id(p) != id(layer.positions) for p in rest)


@pytest.mark.parametrize("schedule", ["exponential", "linear", "cosine"])
def test_sigma_schedules_endpoints_and_monotone(schedule):
    vals = [anneal_sigma(e, 10, 8.0, 0.5, schedule) for e in range(12)]
    assert math.isclose(vals[0], 8.0) and math.isclose(vals[9], 0.5)
    assert math.isclose(vals[11], 0.5)  # past the end it stays at the final width
    assert all(a >= b - 1e-12 for a, b in zip(vals, vals[1:]))
    if schedule == "exponential":
        assert math.isclose(vals[3] / vals[2], vals[5] / vals[4], rel_tol=1e-12)
    if schedule == "linear":
        assert math.isclose(vals[1] - vals[0], (0.5 - 8.0) / 9)
    assert anneal_sigma(3, 10, 8.0, 0.5, "constant") == 8.0


def test_anneal_sets_sigma_and_state_dict_keeps_it():
    layer = DelayedLinear(2, 2, 9, sigma_init=4.0, sigma_final=1.0, schedule="linear")
    assert float(layer.sigma) == 4.0
    assert layer.anneal(2, 5) == pytest.approx(2.5)
    assert float(layer.sigma) == pytest.approx(2.5)
    other = DelayedLinear(2, 2, 9)
    other.load_state_dict(layer.state_dict())
    assert float(other.sigma) == pytest.approx(2.5)
    layer.set_sigma(0.0)
    assert layer.exact


def test_validation_errors_name_the_argument():
    with pytest.raises(ValueError, match="max_delay"):
        DelayedLinear(3, 2, 0)
    with pytest.raises(ValueError, match="delay_init"):
        DelayedLinear(3, 2, 4, delay_init="normal")
    with pytest.raises(ValueError, match="schedule"):
        DelayedLinear(3, 2, 4, schedule="step")
    with pytest.raises(ValueError, match="init_delay"):
        DelayedLinear(3, 2, 4, delay_init="constant", init_delay=5.0)
    with pytest.raises(ValueError, match="sigma_init"):
        DelayedLinear(3, 2, 4, sigma_init=-1.0)
    layer = DelayedLinear(3, 2, 4)
    with pytest.raises(ValueError, match=r"x_seq .*\[T, B, in\]"):
        layer(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="3 input features"):
        layer(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="history"):
        layer(torch.zeros(5, 2, 3), DelayState(torch.zeros(2, 2, 3)))
    with pytest.raises(ValueError, match="sigma"):
        layer.set_sigma(-0.1)
    with pytest.raises(ValueError, match="positions"):
        delayed_linear(torch.zeros(4, 1, 3), torch.zeros(2, 3), torch.zeros(3, 2), 1.0, 4)
    with pytest.raises(ValueError, match="epoch"):
        layer.anneal(-1, 5)


def test_model_level_helpers():
    a = DelayedLinear(3, 4, 6, sigma_init=3.0, sigma_final=0.5, generator=_gen(13))
    b = DelayedLinear(4, 2, 3, sigma_init=1.0, sigma_final=0.5, schedule="linear", generator=_gen(14))
    model = torch.nn.ModuleList([a, torch.nn.Linear(2, 2), b])
    assert anneal_all(model, 4, 5) == [pytest.approx(0.5), pytest.approx(0.5)]
    with torch.no_grad():
        a.positions[0, 0] = 9.0
        b.positions[1, 1] = -1.0
    clamp_all_positions(model)
    assert a.positions[0, 0].item() == 5.0 and b.positions[1, 1].item() == 0.0
    assert round_all_delays(model) == 2 and a.exact and b.exact
    assert torch.equal(a.positions, a.positions.round())
