"""Fused recurrent LIF against the reference loop of recurrent_lif (autograd through every op)."""

from __future__ import annotations

import itertools

import pytest
import torch

from snnbench.neurons.kernels import recurrent as fused_recurrent
from snnbench.neurons.lif import LIFParams
from snnbench.neurons.recurrent import RecurrentLIF, RLIFState, recurrent_lif
from snnbench.neurons.surrogate import get_surrogate


@pytest.fixture(autouse=True)
def short_chunks(monkeypatch):
    """Chunks of 4 steps so that T=11 crosses several chunk boundaries in backward."""
    monkeypatch.setattr(fused_recurrent, "_CHUNK", 4)


def _case(seed, learn_beta):
    g = torch.Generator().manual_seed(seed)
    T, B, F, H = 11, 3, 5, 6
    d = torch.float64
    x = torch.randn(T, B, F, generator=g, dtype=d)
    w_in = (torch.randn(H, F, generator=g, dtype=d) * 0.8).requires_grad_()
    w_rec = (torch.randn(H, H, generator=g, dtype=d) * 0.5).requires_grad_()
    b_in = torch.randn(H, generator=g, dtype=d).requires_grad_()
    beta = torch.full((H,), 0.8, dtype=d).requires_grad_() if learn_beta else 0.85
    v0 = torch.randn(B, H, generator=g, dtype=d).requires_grad_()
    s0 = (torch.rand(B, H, generator=g) < 0.3).to(d).requires_grad_()
    return x, w_in, w_rec, b_in, beta, v0, s0


@pytest.mark.parametrize("reset,detach,learn_beta",
                         list(itertools.product(["soft", "hard", "none"], [False, True], [False, True])))
def test_values_and_gradients_match_the_reference_loop(reset, detach, learn_beta):
    x, w_in, w_rec, b_in, beta, v0, s0 = _case(0, learn_beta)
    state = RLIFState(v0, torch.zeros(v0.shape, dtype=torch.int32), s0)
    p = LIFParams(beta=beta, threshold=0.7, reset=reset, v_reset=-0.2,
                  surrogate=get_surrogate("atan"), detach_reset=detach)
    params = [w_in, w_rec, b_in, v0, s0] + ([beta] if learn_beta else [])
    results = []
    for fused in (True, False):
        out, st = recurrent_lif(x, w_in, w_rec, state, p, b_in=b_in, fused=fused)
        weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
        loss = (out * weights).sum() + st.v.square().sum() + 0.3 * st.spikes.sum()
        results.append((out.detach(), st.v.detach(), st.spikes.detach(), torch.autograd.grad(loss, params)))
    (o1, v1, s1, g1), (o2, v2, s2, g2) = results
    assert 0 < o1.mean() < 1  # some spikes, not all: the test exercises both branches
    assert torch.equal(o1, o2) and torch.equal(s1, s2)
    torch.testing.assert_close(v1, v2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_default_state_and_module_use_the_fused_path(monkeypatch):
    calls = []
    real = fused_recurrent.RLIF.forward
    monkeypatch.setattr(fused_recurrent.RLIF, "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    layer = RecurrentLIF(5, 7, beta=0.9).double()
    x = torch.randn(8, 2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    s, st = layer(x)
    assert calls and s.shape == (8, 2, 7) and st.spikes.shape == (2, 7)
    ref, _ = recurrent_lif(x, layer.fc_in.weight, layer.fc_rec.weight, None, layer.params(),
                           b_in=layer.fc_in.bias, fused=False)
    assert torch.equal(s, ref)


def test_refractory_period_keeps_the_reference_loop(monkeypatch):
    monkeypatch.setattr(fused_recurrent.RLIF, "forward",
                        lambda *a, **k: pytest.fail("fused path used with a refractory period"))
    x = torch.randn(6, 2, 3)
    recurrent_lif(x, torch.randn(4, 3), torch.randn(4, 4), None, LIFParams(beta=0.9, refractory_steps=2))
