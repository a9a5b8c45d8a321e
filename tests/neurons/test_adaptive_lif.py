"""Adaptive-threshold LIF: theta bookkeeping by hand, decay law, homeostasis."""

from __future__ import annotations

import math

import pytest
import torch

from snnbench.neurons import (
    AdaptiveLIF,
    ALIFParams,
    ALIFState,
    LIFParams,
    alif,
    alif_step,
    lif,
)

D = torch.float64


def test_theta_after_known_spike_train_matches_hand_computation():
    # beta = 0 and hard reset: the neuron has no memory, so it spikes exactly on the steps
    # that receive a large input. theta_t = theta_{t-1} * decay + theta_plus * s_t.
    T, spike_steps, theta_plus, tau_theta, dt = 20, [2, 3, 9, 15], 0.3, 5.0, 1.0
    x = torch.zeros(T, 1, dtype=D)
    x[spike_steps] = 50.0
    p = ALIFParams.from_tau(1e-3, tau_theta, dt, theta_plus=theta_plus, reset="hard")
    s, st = alif(x, None, p)
    assert torch.nonzero(s.flatten()).flatten().tolist() == spike_steps
    decay = math.exp(-dt / tau_theta)
    expected = sum(theta_plus * decay ** (T - 1 - k) for k in spike_steps)
    assert st.theta.item() == pytest.approx(expected, rel=1e-12)


def test_theta_decays_exponentially_without_spikes():
    dt, tau_theta = 0.5, 12.0
    p = ALIFParams.from_tau(10.0, tau_theta, dt)
    theta0 = torch.tensor([[2.0, 0.5]], dtype=D)
    st = ALIFState(torch.zeros_like(theta0), theta0, None)
    thetas = []
    for _ in range(40):
        _, st = alif_step(torch.zeros_like(theta0), st, p)
        thetas.append(st.theta)
    t = torch.arange(1, 41, dtype=D)[:, None]
    assert torch.allclose(torch.cat(thetas), theta0 * torch.exp(-t * dt / tau_theta))


def test_effective_threshold_and_soft_reset_use_theta():
    p = ALIFParams(beta=0.0, theta_plus=0.0, reset="soft")
    st = ALIFState(torch.zeros(1, 2, dtype=D), torch.full((1, 2), 0.5, dtype=D), None)
    s, st2 = alif_step(torch.tensor([[1.2, 1.6]], dtype=D), st, p)
    assert s.tolist() == [[0.0, 1.0]]  # threshold 1 + theta 0.5 = 1.5
    assert st2.v[0].tolist() == pytest.approx([1.2, 0.1])  # 1.6 - 1.5


def test_zero_theta_plus_reduces_to_lif():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, generator=g, dtype=D)
    s_a, st_a = alif(x, None, ALIFParams(beta=0.8, theta_plus=0.0, refractory_steps=1))
    s_l, st_l = lif(x, None, LIFParams(beta=0.8, refractory_steps=1))
    assert torch.equal(s_a, s_l) and torch.equal(st_a.v, st_l.v)


def test_homeostasis_lowers_the_rate_and_state_continues():
    x = torch.full((200, 1, 4), 0.4)
    m = AdaptiveLIF(4, tau_mem=10.0, theta_plus=0.2, tau_theta=1e4, record=True)
    s, st = m(x)
    assert s[:100].sum() > s[100:].sum() > 0
    assert torch.all(st.theta > 0)
    assert m.last_membrane.shape == x.shape
    s1, st1 = m(x[:70])
    s2, st2 = m(x[70:], st1)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.theta, st.theta)
