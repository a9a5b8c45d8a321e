"""Recurrent LIF layer against an explicit hand-written loop."""

from __future__ import annotations

import torch

from snnbench.neurons import LIFParams, RecurrentLIF, lif, recurrent_lif

D = torch.float64


def _hand_loop(x, w_in, b_in, w_rec, beta, thr):
    """Soft-reset recurrent LIF written out with plain tensor ops, one step at a time."""
    T, B, _ = x.shape
    H = w_in.shape[0]
    v = torch.zeros(B, H, dtype=x.dtype)
    s = torch.zeros(B, H, dtype=x.dtype)
    out = []
    for t in range(T):
        h = beta * v + x[t] @ w_in.T + b_in + s @ w_rec.T
        s = (h >= thr).to(x.dtype)
        v = h - thr * s
        out.append(s)
    return torch.stack(out), v


def test_recurrent_layer_equals_hand_written_loop():
    g = torch.Generator().manual_seed(0)
    m = RecurrentLIF(6, 5, beta=0.85, threshold=0.8).double()
    with torch.no_grad():
        m.fc_rec.weight.copy_(torch.randn(5, 5, generator=g, dtype=D) * 0.5)
    x = torch.rand(40, 3, 6, generator=g, dtype=D) * 1.5
    s, st = m(x)
    s_ref, v_ref = _hand_loop(x, m.fc_in.weight, m.fc_in.bias, m.fc_rec.weight, 0.85, 0.8)
    assert torch.equal(s, s_ref)
    assert torch.allclose(st.v, v_ref)
    assert torch.equal(st.spikes, s[-1])
    assert 0 < s.mean() < 1


def test_zero_recurrence_is_feed_forward_lif():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(20, 2, 4, generator=g, dtype=D)
    w_in = torch.randn(3, 4, generator=g, dtype=D)
    p = LIFParams(beta=0.7, reset="hard", refractory_steps=1)
    s, _ = recurrent_lif(x, w_in, torch.zeros(3, 3, dtype=D), None, p)
    s_ref, _ = lif(x @ w_in.T, None, p)
    assert torch.equal(s, s_ref)


def test_state_continues_and_gradients_reach_weights():
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    m = RecurrentLIF(4, 6, tau_mem=10.0, record=True)
    x = torch.rand(30, 2, 4, generator=g) * 2
    s, st = m(x)
    s1, st1 = m(x[:11])
    s2, st2 = m(x[11:], st1)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.v, st.v)
    assert m.last_membrane.shape == (19, 2, 6)
    s, _ = m(x)
    s.sum().backward()
    for p in (m.fc_in.weight, m.fc_in.bias, m.fc_rec.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
