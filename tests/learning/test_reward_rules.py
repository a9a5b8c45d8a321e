"""Reward-modulated STDP (MSTDP, MSTDPET, R-STDP) against hand-computed cases: the pair
timing curve scaled by the reward, eligibility decay exp(-k dt / tau_e), punishment flipping
the sign, zero reward leaving the weights alone, linear == 1x1 conv."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnbench.learning.reward import MSTDP, MSTDPET, RSTDP, RewardState, reward_at_end
from snnbench.learning.stdp import STDP, STDPParams, stdp_sequence

PAIR = STDPParams(nu_pre=0.02, nu_post=0.03, tau_pre=10.0, tau_post=15.0, wmin=-5.0, wmax=5.0)


def _pair(T, t_pre, t_post, b=1):
    pre = torch.zeros(T, b, 1, dtype=torch.float64)
    post = torch.zeros(T, b, 1, dtype=torch.float64)
    pre[t_pre], post[t_post] = 1.0, 1.0
    return pre, post


@pytest.mark.parametrize("reward", [1.0, -1.0, 0.5, 0.0])
@pytest.mark.parametrize("d", [1, 3, 8])
def test_mstdp_pair_curve_is_the_stdp_curve_times_the_reward(reward, d):
    w = torch.zeros(1, 1, dtype=torch.float64)
    stdp_sequence(w, *_pair(12, 0, d), MSTDP(PAIR, reward))
    assert float(w) == pytest.approx(reward * PAIR.nu_post * math.exp(-d / PAIR.tau_pre), abs=1e-15)
    w = torch.zeros(1, 1, dtype=torch.float64)
    stdp_sequence(w, *_pair(12, d, 0), MSTDP(PAIR, reward))
    assert float(w) == pytest.approx(-reward * PAIR.nu_pre * math.exp(-d / PAIR.tau_post), abs=1e-15)


def test_mstdp_per_sample_and_per_neuron_rewards_weight_each_sample():
    torch.manual_seed(0)
    pre = (torch.rand(20, 3, 4) < 0.3).double()
    post = (torch.rand(20, 3, 2) < 0.3).double()
    r = torch.tensor([[1.0, -1.0], [0.0, 0.5], [2.0, 0.0]])
    w = torch.zeros(2, 4, dtype=torch.float64)
    total, _ = stdp_sequence(w, pre, post, MSTDP(PAIR, r), online=False)
    ref = torch.zeros(2, 4, dtype=torch.float64)
    for b in range(3):  # each sample alone, each post row scaled by its reward
        d, _ = stdp_sequence(torch.zeros(2, 4, dtype=torch.float64), pre[:, b:b + 1], post[:, b:b + 1], PAIR,
                             online=False)
        ref += r[b, :, None].double() * d
    torch.testing.assert_close(total, ref, rtol=0, atol=1e-14)


def test_mstdp_linear_equals_a_1x1_conv():
    torch.manual_seed(1)
    pre = (torch.rand(15, 2, 3) < 0.4).double()
    post = (torch.rand(15, 2, 4) < 0.4).double()
    r = torch.tensor([1.0, -0.5])
    lin = nn.Linear(3, 4, bias=False).double()
    conv = nn.Conv2d(3, 4, 1, bias=False).double()
    conv.weight.data.copy_(lin.weight.data.view(4, 3, 1, 1))
    for rule in (MSTDP(PAIR, r), MSTDPET(PAIR, r, tau_e=7.0), RSTDP(reward=reward_at_end(r, 15))):
        a, c = nn.Linear(3, 4, bias=False).double(), nn.Conv2d(3, 4, 1, bias=False).double()
        a.weight.data.copy_(lin.weight.data.clamp(0, 1))
        c.weight.data.copy_(a.weight.data.view(4, 3, 1, 1))
        STDP(a, rule)(pre, post)
        STDP(c, rule)(pre.view(15, 2, 3, 1, 1), post.view(15, 2, 4, 1, 1))
        torch.testing.assert_close(c.weight.data.view(4, 3), a.weight.data, rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", [0, 1, 5, 20])
def test_mstdpet_eligibility_decays_exponentially_until_the_reward(k):
    tau_e, dt = 12.0, 1.0
    T = 3 + k + 1
    pre, post = _pair(T, 0, 2)  # pairing completes at step 2
    r = torch.zeros(T)
    r[2 + k] = -1.5  # a punishment k steps later
    w = torch.zeros(1, 1, dtype=torch.float64)
    stdp_sequence(w, pre, post, MSTDPET(PAIR, r, per_step=True, tau_e=tau_e))
    zeta = PAIR.nu_post * math.exp(-2 / PAIR.tau_pre)
    assert float(w) == pytest.approx(-1.5 * dt * zeta / tau_e * math.exp(-k * dt / tau_e), rel=1e-12)


def test_mstdpet_zero_reward_changes_nothing_and_keeps_the_eligibility():
    pre, post = _pair(6, 0, 2)
    w = torch.full((1, 1), 0.3, dtype=torch.float64)
    _, state = stdp_sequence(w, pre, post, MSTDPET(PAIR, 0.0, tau_e=4.0))
    assert float(w) == 0.3 and isinstance(state, RewardState)
    zeta = PAIR.nu_post * math.exp(-2 / PAIR.tau_pre)
    assert float(state.eligibility.sum()) == pytest.approx(zeta / 4.0 * math.exp(-3 / 4.0), rel=1e-12)


def test_rstdp_reward_and_punishment_on_the_winner_only():
    """2 inputs -> 2 outputs; input 0 fires before output 0, input 1 after it. Output 0 is the
    winner. Reward: causal w00 up by a_r+ w(1-w), anti-causal w01 down by a_r- w(1-w);
    punishment: w00 down by a_p-, w01 up by a_p+; output 1 (no reward) unchanged."""
    T = 6
    pre = torch.zeros(T, 1, 2, dtype=torch.float64)
    post = torch.zeros(T, 1, 2, dtype=torch.float64)
    pre[0, 0, 0], post[2, 0, 0], pre[4, 0, 1] = 1.0, 1.0, 1.0
    rule = RSTDP(a_r_plus=0.1, a_r_minus=0.2, a_p_plus=0.3, a_p_minus=0.4)
    w0 = torch.tensor([[0.5, 0.25], [0.5, 0.5]], dtype=torch.float64)
    x = math.exp(-2 / 1e6)  # 'set' traces with tau 1e6: a pairing counts (almost) 1
    for sign, d00, d01 in ((1.0, 0.1 * x, -0.2 * math.exp(-2 / 1e6)), (-1.0, -0.4 * x, 0.3 * math.exp(-2 / 1e6))):
        w = w0.clone()
        stdp_sequence(w, pre, post, rule._replace(reward=reward_at_end(torch.tensor([[sign, 0.0]]), T)))
        assert float(w[0, 0]) == pytest.approx(0.5 + d00 * 0.5 * 0.5, rel=1e-12)
        assert float(w[0, 1]) == pytest.approx(0.25 + d01 * 0.25 * 0.75, rel=1e-12)
        assert torch.equal(w[1], w0[1])
    w = w0.clone()  # no reward: nothing moves
    stdp_sequence(w, pre, post, rule._replace(reward=torch.zeros(T, 1, 2)))
    assert torch.equal(w, w0)


def test_bad_rewards_and_rules_are_refused():
    pre, post = _pair(4, 0, 1, b=2)
    w = torch.zeros(1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="reward must be a number"):
        stdp_sequence(w, pre, post, MSTDP(PAIR, torch.ones(3)))
    with pytest.raises(ValueError, match="per_step reward"):
        stdp_sequence(w, pre, post, MSTDP(PAIR, torch.ones(2), per_step=True))
    with pytest.raises(ValueError, match="finite"):
        stdp_sequence(w, pre, post, MSTDP(PAIR, float("nan")))
    with pytest.raises(ValueError, match="tau_post2"):
        MSTDP(PAIR._replace(tau_post2=30.0)).check()
    with pytest.raises(ValueError, match="per_step=True"):
        RSTDP(reward=1.0, per_step=False).check()
    with pytest.raises(ValueError, match="tau_e"):
        MSTDPET(PAIR, tau_e=0.0).check()
