"""The R-STDP readout: its per-sample update against stepping the RSTDP rule through a
presentation, hand-computed cases, learning a separable task, and bad input."""

import numpy as np
import pytest
import torch

from snnbench.learning.rstdp_readout import (
    ReadoutSettings,
    choose_rstdp_readout,
    fit_rstdp_readout,
    readout_predict,
    readout_rule,
    readout_step,
)
from snnbench.learning.reward import reward_at_end


def _stepped(weight: torch.Tensor, raster: torch.Tensor, label: int, rate: float) -> torch.Tensor:
    """Reference: RSTDP.step through every millisecond of the presentation, the decision
    spike of the most driven output neuron one step after the last feature step, with the
    reward (+1 correct, -1 wrong) on that neuron at that step."""
    T, F = raster.shape
    K = weight.shape[0]
    winner = int(torch.argmax(weight @ raster.sum(0)))
    reward = torch.zeros(T + 1, 1, K, dtype=torch.float64)
    reward[-1, 0, winner] = 1.0 if winner == label else -1.0
    rule = readout_rule(rate)._replace(reward=reward)
    state = None
    total = torch.zeros_like(weight)
    for t in range(T + 1):
        pre = raster[t : t + 1] if t < T else torch.zeros(1, F, dtype=torch.float64)
        post = torch.zeros(1, K, dtype=torch.float64)
        if t == T:
            post[0, winner] = 1.0
        dw, state = rule.step(weight, pre, post, state)
        total += dw
    return weight + total


@pytest.mark.parametrize("label", [0, 2])
def test_step_matches_the_rule_stepped_through_the_presentation(label):
    g = torch.Generator().manual_seed(1)
    raster = (torch.rand(60, 12, generator=g, dtype=torch.float64) < 0.05).double()
    raster[:, 5] = 0  # a silent feature: its synapses must not move
    w0 = 0.3 + 0.4 * torch.rand(3, 12, generator=g, dtype=torch.float64)
    ref = _stepped(w0, raster, label, rate=0.02)
    W = w0.clone().numpy()
    readout_step(W, raster.sum(0).numpy(), label, readout_rule(0.02))
    # traces with tau 1e6 ms decay by < 1e-4 over 60 ms: the count is the trace's limit
    np.testing.assert_allclose(W, ref.numpy(), rtol=1e-4, atol=1e-9)
    assert (W[:, 5] == w0[:, 5].numpy()).all()
    assert np.abs(W - w0.numpy()).sum() > 0


def test_step_hand_case_reward_and_punishment():
    rule = readout_rule(0.1)
    W = np.array([[0.5, 0.5], [0.2, 0.9]])
    # u = [1.0, 0.4]: neuron 0 wins; correct -> W[0, 0] += 0.1 * 2 * 0.5 * 0.5
    assert readout_step(W, np.array([2.0, 0.0]), 0, rule) == 0
    np.testing.assert_allclose(W, [[0.55, 0.5], [0.2, 0.9]])
    # u = [0.5, 0.9] for pre [0, 1]: neuron 1 wins, label 0 -> punished: W[1, 1] -= 0.1 * 0.9 * 0.1
    assert readout_step(W, np.array([0.0, 1.0]), 0, rule) == 1
    np.testing.assert_allclose(W, [[0.55, 0.5], [0.2, 0.9 - 0.009]])


def _toy(n_per: int, seed: int):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per)
    rates = np.full((3, 9), 0.2)
    for k in range(3):
        rates[k, 3 * k : 3 * k + 3] = 3.0
    return rng.poisson(rates[y]).astype(float), y


def test_learns_a_separable_task_from_reward_only():
    x, y = _toy(60, 0)
    xt, yt = _toy(40, 1)
    w = fit_rstdp_readout(x, y, 3, ReadoutSettings(rate=0.02, epochs=5), torch.Generator().manual_seed(0))
    assert (readout_predict(w, xt) == yt).mean() > 0.9
    w0 = fit_rstdp_readout(x, y, 3, ReadoutSettings(rate=0.0, epochs=1), torch.Generator().manual_seed(0))
    assert (readout_predict(w0, xt) == yt).mean() < 0.6  # control: untrained weights do not


def test_choice_is_made_on_validation_and_deterministic():
    x, y = _toy(30, 0)
    s1, c1 = choose_rstdp_readout(x, y, 3, seed=4, rates=(1e-3, 3e-2), max_epochs=3)
    s2, c2 = choose_rstdp_readout(x, y, 3, seed=4, rates=(1e-3, 3e-2), max_epochs=3)
    assert s1 == s2 and c1 == c2
    assert set(c1) == {"0.001", "0.03"} and all(len(v) == 3 for v in c1.values())
    best = max(max(v) for v in c1.values())
    assert c1[f"{s1.rate:g}"][s1.epochs - 1] == best


def test_bad_input_is_refused():
    g = torch.Generator()
    with pytest.raises(ValueError, match="non-negative"):
        fit_rstdp_readout(np.array([[1.0, -1.0]]), np.array([0]), 2, ReadoutSettings(), g)
    with pytest.raises(ValueError, match="non-negative"):
        fit_rstdp_readout(np.array([[1.0, np.nan]]), np.array([0]), 2, ReadoutSettings(), g)
    with pytest.raises(ValueError, match="one entry per sample"):
        fit_rstdp_readout(np.ones((2, 3)), np.array([0]), 2, ReadoutSettings(), g)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        fit_rstdp_readout(np.ones((1, 3)), np.array([2]), 2, ReadoutSettings(), g)
    with pytest.raises(ValueError, match="spike counts"):
        readout_predict(torch.ones(2, 3), np.ones(3))
