"""Trimming padded batches to their longest series changes no result (float64), for the
SNN, the delay SNN and the GRU baseline, in training and in evaluation."""

from __future__ import annotations

import copy

import pytest
import torch

from snnbench.data.splits import ArraySplit
from snnbench.experiments.config import TrainConfig
from snnbench.learning.trainer import build_optimizer, evaluate, train_one_epoch
from snnbench.models import DelaySNN, FeedForwardSNN, GRUClassifier


def _series(n=24, L=30, C=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, 21, (n,), generator=g)  # every batch is padded past its longest
    x = torch.randn(n, L, C, generator=g, dtype=torch.float64)
    for i, k in enumerate(lengths.tolist()):
        x[i, k:] = 0
    y = torch.randint(0, 3, (n,), generator=g)
    return ArraySplit(x, y, lengths)


MODELS = {
    "snn": lambda: FeedForwardSNN((30, 2), [12], 3, readout="mean_membrane"),
    "delay_snn": lambda: DelaySNN((30, 2), [12], 3, max_delay=5),
    "gru": lambda: GRUClassifier(2, 8, 1, 3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trimmed_batches_give_the_same_training_and_evaluation(name):
    split = _series()
    torch.manual_seed(0)
    base = MODELS[name]().double()
    from snnbench.data.batching import iterate_batches

    assert all(x.shape[1] <= 20 for x, _, _ in iterate_batches(split, 8, trim=True))
    results = []
    for trim in (False, True):
        model = copy.deepcopy(base)
        cfg = TrainConfig(epochs=1, batch_size=8, lr=1e-2, schedule="none", trim_padding=trim)
        opt = build_optimizer(model, cfg)
        ep = train_one_epoch(model, split, cfg, opt, None, seed=0, epoch=0,
                             device=torch.device("cpu"), progress=False)
        ev = evaluate(model, split, batch_size=8, seed=0, device=torch.device("cpu"), trim=trim)
        results.append((ep.loss, ev, [p.detach().clone() for p in model.parameters()]))
    (l0, e0, p0), (l1, e1, p1) = results
    assert l0 == pytest.approx(l1, rel=1e-9, abs=1e-12)
    assert e0["loss"] == pytest.approx(e1["loss"], rel=1e-9, abs=1e-12)
    assert torch.equal(torch.as_tensor(e0["predictions"]), torch.as_tensor(e1["predictions"]))
    for a, b in zip(p0, p1):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
