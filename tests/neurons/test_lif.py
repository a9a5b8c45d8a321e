"""LIF / IF dynamics against closed forms and hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from snnbench.neurons import (
    IF,
    LIF,
    LIFParams,
    LIFState,
    if_neuron,
    if_params,
    lif,
    lif_step,
)

D = torch.float64


def _first_crossing(v0: float, current: float, beta: float, thr: float) -> int:
    """Steps n >= 1 until v_n = beta^n v0 + I (1 - beta^n)/(1 - beta) first reaches thr."""
    n = 1
    while beta**n * v0 + current * (1 - beta**n) / (1 - beta) < thr:
        n += 1
        assert n < 10_000
    return n


def _spike_times(s: torch.Tensor) -> list[int]:
    return torch.nonzero(s.flatten()).flatten().tolist()


@pytest.mark.parametrize("beta,current", [(0.9, 0.15), (0.8, 0.5), (0.95, 0.07), (0.5, 0.6)])
def test_hard_reset_isi_matches_closed_form(beta, current):
    thr = 1.0
    # Closed form with v0 = 0: v_n = I (1 - beta^n)/(1 - beta); solve v_n >= thr for n.
    n = math.ceil(math.log(1 - thr * (1 - beta) / current) / math.log(beta))
    assert n == _first_crossing(0.0, current, beta, thr)
    T = 6 * n + 3
    x = torch.full((T, 1), current, dtype=D)
    s, _ = lif(x, None, LIFParams(beta=beta, threshold=thr, reset="hard"))
    times = _spike_times(s)
    assert times == [k * n - 1 for k in range(1, T // n + 1) if k * n - 1 < T]


@pytest.mark.parametrize("beta,current,thr", [(0.9, 0.13, 1.0), (0.7, 0.45, 1.3), (0.85, 0.3, 0.9)])
def test_soft_reset_spike_train_matches_closed_form_chain(beta, current, thr):
    # Between spikes v_n = beta^n r + I (1 - beta^n)/(1 - beta) where r is the remainder
    # left by the soft reset (h - thr); chain the closed form from v0 = 0 in plain floats.
    T = 200
    expected, t, r = [], -1, 0.0
    while True:
        n = _first_crossing(r, current, beta, thr)
        t += n
        if t >= T:
            break
        expected.append(t)
        r = beta**n * r + current * (1 - beta**n) / (1 - beta) - thr
    x = torch.full((T, 1), current, dtype=D)
    s, _ = lif(x, None, LIFParams(beta=beta, threshold=thr, reset="soft"))
    assert _spike_times(s) == expected
    assert len(expected) > 5


def test_hand_computed_soft_reset_membrane():
    # beta = 0.5, I = 0.8, thr = 1: h = 0.8, 1.2(spike, v=.2), 0.9, 1.25(spike, v=.25), 0.925
    x = torch.full((5, 1), 0.8, dtype=D)
    s, st, h = lif(x, None, LIFParams(beta=0.5), return_membrane=True)
    assert torch.allclose(h.flatten(), torch.tensor([0.8, 1.2, 0.9, 1.25, 0.925], dtype=D))
    assert s.flatten().tolist() == [0, 1, 0, 1, 0]
    assert st.v.item() == pytest.approx(0.925)


def test_reset_none_is_a_leaky_integrator():
    x = torch.full((30, 2), 0.3, dtype=D)
    beta = 0.8
    s, st, h = lif(x, None, LIFParams(beta=beta, reset="none"), return_membrane=True)
    n = torch.arange(1, 31, dtype=D)
    closed = 0.3 * (1 - beta**n) / (1 - beta)
    assert torch.allclose(h[:, 0], closed)
    assert torch.equal(s[:, 0], (closed >= 1.0).to(D))


def test_hard_reset_to_nonzero_v_reset():
    x = torch.tensor([[2.0], [0.0], [0.0]], dtype=D)
    _, _, h = lif(x, None, LIFParams(beta=0.5, reset="hard", v_reset=-0.4), return_membrane=True)
    assert torch.allclose(h.flatten(), torch.tensor([2.0, -0.2, -0.1], dtype=D))


@pytest.mark.parametrize("refractory", [1, 3, 7])
def test_refractory_adds_to_isi(refractory):
    beta, current = 0.9, 0.2
    n = _first_crossing(0.0, current, beta, 1.0)
    T = 5 * (n + refractory)
    x = torch.full((T, 1), current, dtype=D)
    p = LIFParams(beta=beta, reset="hard", refractory_steps=refractory)
    s, _, h = lif(x, None, p, return_membrane=True)
    times = _spike_times(s)
    assert times[0] == n - 1
    assert all(b - a == n + refractory for a, b in zip(times, times[1:]))
    # During the refractory period the neuron sits at v_reset and ignores its input.
    assert torch.all(h[times[0] + 1 : times[0] + 1 + refractory] == 0.0)


def test_refractory_blocks_spikes_under_huge_input():
    x = torch.full((9, 1), 5.0, dtype=D)
    s, _ = lif(x, None, LIFParams(beta=0.9, reset="soft", refractory_steps=2))
    assert _spike_times(s) == [0, 3, 6]


def test_if_spike_count_equals_floor_of_cumulative_input():
    g = torch.Generator().manual_seed(0)
    thr = 0.7
    # Inputs in [0, thr): at most one spike is ever due per step, so the soft-reset IF
    # neuron has emitted exactly floor(cumsum / thr) spikes after every step.
    x = torch.rand(300, 4, 5, generator=g, dtype=D) * thr
    s, _ = if_neuron(x, None, if_params(threshold=thr))
    expected = torch.floor(torch.cumsum(x, 0) / thr)
    assert torch.equal(torch.cumsum(s, 0), expected)
    s_mod, _ = IF(threshold=thr)(x)
    assert torch.equal(s_mod, s)


def test_if_rejects_leak():
    with pytest.raises(ValueError, match="beta"):
        if_neuron(torch.zeros(3, 1), None, LIFParams(beta=0.9))


def test_multi_step_equals_repeated_step():
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(40, 3, 6, generator=g, dtype=D) * 0.8).requires_grad_(True)
    p = LIFParams(beta=0.85, reset="soft", refractory_steps=2)
    s_multi, st_multi = lif(x, None, p)
    st = None
    outs = []
    for xt in x.unbind(0):
        s, st = lif_step(xt, st, p)
        outs.append(s)
    s_loop = torch.stack(outs)
    assert torch.equal(s_multi, s_loop)
    assert torch.equal(st_multi.v, st.v) and torch.equal(st_multi.refractory, st.refractory)
    (g1,) = torch.autograd.grad((s_multi * torch.arange(40.0, dtype=D)[:, None, None]).sum(), x)
    (g2,) = torch.autograd.grad((s_loop * torch.arange(40.0, dtype=D)[:, None, None]).sum(), x)
    assert torch.allclose(g1, g2)
    assert g1.abs().sum() > 0


@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
def test_state_continues_exactly(reset):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 2, 3, generator=g, dtype=D)
    p = LIFParams(beta=0.9, reset=reset, refractory_steps=1)
    s_all, st_all = lif(x, None, p)
    s1, st1 = lif(x[:17], None, p)
    s2, st2 = lif(x[17:], st1, p)
    assert torch.equal(torch.cat([s1, s2]), s_all)
    assert torch.equal(st2.v, st_all.v) and torch.equal(st2.refractory, st_all.refractory)


def test_membrane_is_pre_reset_threshold_crossing():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(60, 8, generator=g, dtype=D)
    s, _, h = lif(x, None, LIFParams(beta=0.8, threshold=1.5), return_membrane=True)
    assert torch.equal(s, (h >= 1.5).to(D))


def test_module_matches_functional_and_records():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(20, 3, 4, generator=g)
    m = LIF(4, tau_mem=5.0, dt=0.5, reset="hard", record=True)
    s, st = m(x)
    s_ref, st_ref, h_ref = lif(x, None, LIFParams.from_tau(5.0, 0.5, reset="hard"), return_membrane=True)
    assert torch.equal(s, s_ref) and torch.equal(st.v, st_ref.v)
    assert torch.equal(m.last_membrane, h_ref) and not m.last_membrane.requires_grad
    assert m.beta == pytest.approx(math.exp(-0.1))
    assert m.tau_mem == pytest.approx(5.0)
    assert isinstance(st, LIFState)


def test_no_state_survives_between_calls():
    x = torch.full((5, 1, 2), 0.6)
    m = LIF(beta=0.9)
    a, _ = m(x)
    b, _ = m(x)
    assert torch.equal(a, b)


@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_fused_dispatch_equals_reference_loop(reset, detach_reset):
    """lif() runs the fused kernel by default; values, final state and gradients (input,
    initial membrane, learnable beta) equal the reference loop in float64."""
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(12, 4, 5, generator=g, dtype=torch.float64) * 0.8).requires_grad_()
    v0 = (torch.rand(4, 5, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
    beta = torch.full((5,), 0.85, dtype=torch.float64, requires_grad=True)
    p = LIFParams(beta=beta, threshold=1.0, reset=reset, v_reset=0.1, detach_reset=detach_reset)
    state = LIFState(v0, torch.zeros(4, 5, dtype=torch.int32))
    outs = []
    for fused in (True, False):
        s, st = lif(x, state, p, fused=fused)
        loss = (s * torch.linspace(0.5, 1.5, 5, dtype=torch.float64)).sum() + (st.v ** 2).sum()
        grads = torch.autograd.grad(loss, (x, v0, beta))
        outs.append((s.detach(), st.v.detach(), grads))
    (s1, v1, g1), (s2, v2, g2) = outs
    assert torch.equal(s1, s2) and 0 < float(s1.sum()) < s1.numel()
    torch.testing.assert_close(v1, v2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
