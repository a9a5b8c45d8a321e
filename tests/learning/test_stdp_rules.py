"""The rule protocol: triplet potentiation by hand, and a new rule slotting into the engine."""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest
import torch
from torch import nn

from snnbench.learning.stdp import STDP, STDPParams, stdp_sequence


def _train(T, times):
    s = torch.zeros(T, 1, 1, dtype=torch.float64)
    s[list(times), 0, 0] = 1.0
    return s


def test_triplet_hand_case():
    """pre at step 0, post at 2 and 7, no depression: the first post spike finds the slow
    trace at 0 (no potentiation), the second potentiates by nu * x_pre(7) * x_post2(7-)."""
    nu, tau_pre, tau2 = 0.1, 20.0, 40.0
    p = STDPParams(nu_pre=0.0, nu_post=nu, tau_pre=tau_pre, tau_post2=tau2, wmax=10.0)
    w = torch.full((1, 1), 1.0, dtype=torch.float64)
    stdp_sequence(w, _train(10, [0]), _train(10, [2, 7]), p)
    assert float(w) == pytest.approx(1.0 + nu * math.exp(-7 / tau_pre) * math.exp(-5 / tau2), rel=1e-12)
    # the pair rule potentiates on both post spikes
    w = torch.full((1, 1), 1.0, dtype=torch.float64)
    stdp_sequence(w, _train(10, [0]), _train(10, [2, 7]), p._replace(tau_post2=None))
    assert float(w) == pytest.approx(1.0 + nu * (math.exp(-2 / tau_pre) + math.exp(-7 / tau_pre)), rel=1e-12)


class RewardState(NamedTuple):
    pre: torch.Tensor
    post: torch.Tensor
    eligibility: torch.Tensor


class RewardModulated(NamedTuple):
    """A rule the engine has never seen: pair-STDP changes accumulate in an eligibility
    trace and the weight moves by ``reward * eligibility`` (reward fixed here)."""

    pair: STDPParams
    reward: float
    tau_e: float = 50.0

    @property
    def wmin(self) -> float:
        return self.pair.wmin

    @property
    def wmax(self) -> float:
        return self.pair.wmax

    def check(self):
        return self.pair.check()

    def init_state(self, pre, post, dtype):
        return None

    def step(self, weight, pre, post, state, conv=None):
        inner = None if state is None else self.pair.init_state(pre, post, weight.dtype)._replace(
            pre=state.pre, post=state.post)
        dw, tr = self.pair.step(weight, pre, post, inner, conv)
        e = dw if state is None else state.eligibility * math.exp(-1.0 / self.tau_e) + dw
        return self.reward * e, RewardState(tr.pre, tr.post, e)


def test_a_new_rule_slots_into_the_stdp_module():
    torch.manual_seed(0)
    pre = (torch.rand(30, 2, 5) < 0.3).double()
    post = (torch.rand(30, 2, 3) < 0.3).double()
    pair = STDPParams(nu_pre=0.01, nu_post=0.02, wmin=-1.0, wmax=1.0)
    lin = nn.Linear(5, 3, bias=False).double()
    w0 = lin.weight.detach().clone()
    state = STDP(lin, RewardModulated(pair, reward=0.0))(pre, post)
    assert torch.equal(lin.weight, w0) and isinstance(state, RewardState)  # no reward, no change
    STDP(lin, RewardModulated(pair, reward=1.0, tau_e=1e-9))(pre, post)  # instant eligibility
    ref = nn.Linear(5, 3, bias=False).double()
    ref.weight.data.copy_(w0)
    STDP(ref, pair)(pre, post)
    torch.testing.assert_close(lin.weight, ref.weight, rtol=0, atol=1e-12)
