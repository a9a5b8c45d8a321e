import math

import pytest
import torch

from snnbench.encoding import (
    LatencyEncoder,
    RankOrderEncoder,
    first_spike_time,
    latency_encode,
    latency_spike_times,
    rank_order_encode,
    rank_order_spike_times,
)


def test_linear_latency_hand_case():
    x = torch.tensor([[1.0, 0.5, 0.0, 0.3, 0.005]])
    t = latency_spike_times(x, 11, threshold=0.01)
    # (1 - x) * 10, rounded; 0 and 0.005 are below the threshold -> T (never)
    assert t.tolist() == [[0, 5, 11, 7, 11]]
    s = latency_encode(x, 11, threshold=0.01)
    assert s.shape == (11, 1, 5)
    assert s[0, 0, 0] == 1 and s[5, 0, 1] == 1 and s[7, 0, 3] == 1
    assert s.sum() == 3


def test_latency_exactly_one_spike_and_order():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 30, generator=g)
    T = 50
    s = latency_encode(x, T, threshold=0.05)
    counts = s.sum(0)
    assert torch.equal(counts, (x >= 0.05).float())  # one spike above threshold, none below
    t = first_spike_time(s)
    xi, xj = x.unsqueeze(-1), x.unsqueeze(-2)
    ti, tj = t.unsqueeze(-1), t.unsqueeze(-2)
    above = (xi >= 0.05) & (xj >= 0.05)
    # brighter never later, and strictly earlier when the gap exceeds one step
    assert bool((ti <= tj)[above & (xi > xj)].all())
    assert bool((ti < tj)[above & (xi - xj > 1.0 / (T - 1))].all())
    assert torch.equal(t.long(), latency_spike_times(x, T, threshold=0.05))


def test_log_latency_closed_form():
    x = torch.tensor([[0.9, 0.5, 0.3, 0.2, 0.2001, 0.1]], dtype=torch.float64)
    tau, dt, thr, T = 10.0, 0.5, 0.2, 100
    t = latency_spike_times(x, T, method="log", tau=tau, dt=dt, threshold=thr)
    expected = []
    for v in x[0].tolist():
        if v <= thr:
            expected.append(T)
        else:
            expected.append(min(round(tau * math.log(v / (v - thr)) / dt), T - 1))
    assert t[0].tolist() == expected
    assert expected[-2] == T - 1  # x just above threshold: clipped into the window
    t_drop = latency_spike_times(x, T, method="log", tau=tau, dt=dt, threshold=thr, clip=False)
    assert t_drop[0, -2] == T  # ... or dropped without clipping
    assert t_drop[0, :3].tolist() == expected[:3]


def test_latency_normalize_maps_range_onto_window():
    T = 21
    lin = latency_spike_times(torch.tensor([[1.0, 0.1, 0.55]]), T, threshold=0.1, normalize=True)
    assert lin.tolist() == [[0, T - 1, 10]]
    eps = 1e-3
    x = torch.tensor([[1.0, 0.1 + eps, 0.5]], dtype=torch.float64)
    log = latency_spike_times(x, T, method="log", threshold=0.1, normalize=True, epsilon=eps)
    assert log[0, 0] == 0 and log[0, 1] == T - 1
    assert 0 <= log[0, 2] < T - 1


def test_rank_order_hand_cases():
    assert rank_order_spike_times(torch.tensor([[0.2, 0.9, 0.0, 0.5]]), 10).tolist() == [[2, 0, 10, 1]]
    # ties go to the lower index, deterministically
    assert rank_order_spike_times(torch.tensor([[0.5, 0.1, 0.5]]), 5).tolist() == [[0, 2, 1]]
    # ranks past the window never spike
    assert rank_order_spike_times(torch.tensor([[0.4, 0.3, 0.2, 0.1]]), 2).tolist() == [[0, 1, 2, 2]]
    # scaled: four active inputs spread over T = 8 -> steps 0, 2, 4, 6
    x = torch.tensor([[0.4, 0.3, 0.0, 0.2, 0.1]])
    assert rank_order_spike_times(x, 8, scale=True).tolist() == [[0, 2, 8, 4, 6]]


def test_rank_order_order_and_single_spike():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 2, 3, 4, generator=g)
    x[0, 0, 0, 0] = 0.0
    s = rank_order_encode(x, 24)
    assert s.shape == (24, 5, 2, 3, 4)
    assert torch.equal(s.sum(0), (x > 0).float())
    t = first_spike_time(s).reshape(5, -1)
    xf = x.reshape(5, -1)
    # the firing order is the descending order of intensities
    for b in range(5):
        active = xf[b] > 0
        order = torch.argsort(t[b][active])
        assert bool((xf[b][active][order].diff() < 0).all())


def test_modules_match_functions():
    x = torch.rand(3, 6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(LatencyEncoder(9, method="log", tau=3.0)(x), latency_encode(x, 9, method="log", tau=3.0))
    assert torch.equal(RankOrderEncoder(9, scale=True)(x), rank_order_encode(x, 9, scale=True))


@pytest.mark.parametrize("call, match", [
    (lambda: latency_encode(torch.rand(2, 3), -1), r"num_steps must be an integer >= 1, got -1"),
    (lambda: latency_encode(torch.rand(2, 3), 5, method="exp"), r"method must be one of \['linear', 'log'\], got 'exp'"),
    (lambda: latency_encode(torch.rand(2, 3), 5, threshold=1.0), r"threshold must be in \[0, 1\).*1.0"),
    (lambda: latency_encode(torch.rand(2, 3), 5, method="log", threshold=0.0), r"threshold must be in \(0, 1\).*log"),
    (lambda: latency_encode(torch.rand(2, 3), 5, method="log", tau=0.0), r"tau must be finite and > 0, got 0.0"),
    (lambda: latency_encode(torch.rand(2, 3), 5, method="log", dt=-1.0), r"dt must be finite and > 0, got -1.0"),
    (lambda: latency_encode(torch.tensor([1.2]), 5), r"x must be <= 1"),
    (lambda: latency_encode(torch.tensor([math.nan]), 5), r"x contains NaN"),
    (lambda: rank_order_encode(torch.tensor([0.2, 0.3]), 5), r"x must have at least 2 dimensions"),
    (lambda: rank_order_encode(torch.tensor([[-0.2, 0.3]]), 5), r"x must be >= 0"),
    (lambda: rank_order_encode(torch.rand(2, 3), 0), r"num_steps must be an integer >= 1, got 0"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
