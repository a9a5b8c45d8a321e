import math

import pytest
import torch

from snnbench.encoding import DeltaEncoder, delta_decode, delta_encode


def test_hand_case_counts():
    x = torch.tensor([0.0, 0.25, 0.05, 0.05, -0.12], dtype=torch.float64).view(1, 5, 1)
    s = delta_encode(x, 0.1)
    # t0: no change; t1: +0.25 -> 2 up (ref 0.2); t2: -0.15 -> 1 down (ref 0.1);
    # t3: -0.05 -> none; t4: -0.22 -> 2 down (ref -0.1)
    assert s[:, 0, 0].tolist() == [0, 2, 0, 0, 0]
    assert s[:, 0, 1].tolist() == [0, 0, 1, 0, 2]
    assert torch.allclose(delta_decode(s, 0.1)[0, :, 0], torch.tensor([0, 0.2, 0.1, 0.1, -0.1], dtype=torch.float64))


def test_sine_reconstruction_within_threshold():
    t = torch.linspace(0, 4 * math.pi, 200, dtype=torch.float64)
    # two channels, one fast (several quanta per step) and one slow, plus an offset start
    x = torch.stack([2.0 * torch.sin(3 * t) + 0.7, torch.sin(t)], dim=-1).unsqueeze(0).repeat(2, 1, 1)
    thr = 0.05
    s = delta_encode(x, thr)
    assert s.shape == (200, 2, 4)
    assert s.max() > 1  # the fast channel needs counts
    err = (delta_decode(s, thr) - x).abs().max()
    assert err < thr * (1 + 1e-9)
    # a coarser threshold sends fewer spikes
    assert delta_encode(x, 4 * thr).sum() < s.sum()


def test_single_mode_binary_and_lagging():
    t = torch.linspace(0, 2 * math.pi, 300, dtype=torch.float64)
    slow = torch.sin(t).view(1, 300, 1)  # changes < 0.03 per step
    thr = 0.05
    s = delta_encode(slow, thr, mode="single")
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    assert (delta_decode(s, thr) - slow).abs().max() < thr * (1 + 1e-9)
    # a jump of 0.5 = 10 quanta is sent one spike per step: caught up after 10 steps
    step = torch.tensor([0.0] + [0.5] * 12, dtype=torch.float64).view(1, 13, 1)
    s = delta_encode(step, thr, mode="single")
    assert s[:, 0, 0].tolist() == [0] + [1] * 10 + [0, 0]
    assert delta_decode(s, thr)[0, 10, 0] == pytest.approx(0.5)


def test_initial_level_and_module():
    x = torch.full((1, 4, 2), 3.0, dtype=torch.float64)
    assert delta_encode(x, 0.5, initial=3.0).sum() == 0  # starts at the signal: silent
    s = delta_encode(x, 0.5)
    assert s[0, 0].tolist() == [6, 6, 0, 0] and s[1:].sum() == 0
    enc = DeltaEncoder(0.5, initial=1.0)
    assert torch.allclose(enc.decode(enc(x)), x)
    per_channel = torch.tensor([3.0, 2.0], dtype=torch.float64)
    s = delta_encode(x, 0.5, initial=per_channel)
    assert s[0, 0].tolist() == [0, 2, 0, 0]
    assert torch.allclose(delta_decode(s, 0.5, initial=per_channel), x)


@pytest.mark.parametrize("call, match", [
    (lambda: delta_encode(torch.rand(4, 3), 0.1), r"x must have 3 dimensions, got shape \(4, 3\)"),
    (lambda: delta_encode(torch.rand(2, 4, 3), 0.0), r"threshold must be finite and > 0, got 0.0"),
    (lambda: delta_encode(torch.rand(2, 4, 3), 0.1, mode="multi"), r"mode must be one of \['count', 'single'\]"),
    (lambda: delta_encode(torch.full((1, 2, 1), math.nan), 0.1), r"x contains NaN"),
    (lambda: delta_encode(torch.rand(2, 4, 3), 0.1, initial=torch.zeros(5)), r"initial must .* \[B, C\] = \(2, 3\)"),
    (lambda: delta_decode(torch.rand(4, 2, 3), 0.1), r"even channel count"),
    (lambda: delta_decode(-torch.rand(4, 2, 2), 0.1), r"spikes must be >= 0"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
