"""A tiny feed-forward SNN must be able to memorise 20 real digits with surrogate gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from snnbench.models import FeedForwardSNN


@pytest.fixture
def one_thread():
    # 20 x 64 inputs: thread hand-off costs more than it saves, badly so on a loaded machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_tiny_feedforward_snn_overfits_20_digits(one_thread):
    d = load_digits()
    x = torch.tensor(d.images[:20] / 16.0, dtype=torch.float32).unsqueeze(1)  # [20, 1, 8, 8]
    y = torch.tensor(d.target[:20])
    torch.manual_seed(0)
    m = FeedForwardSNN((1, 8, 8), [32], 10, encoder="bernoulli", num_steps=10,
                       readout="spike_count")
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(m(x, generator=g), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # chance level is ln(10) = 2.30; memorising drives the loss far below it
    assert losses[0] > 2.0
    assert min(losses[-5:]) < 0.1 * losses[0]
    with torch.no_grad():
        acc = (m(x, generator=g).argmax(1) == y).float().mean().item()
    assert acc >= 0.95
