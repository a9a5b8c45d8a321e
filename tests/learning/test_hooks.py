"""Layer hooks: the trainer calls what a layer announces, and knows no layer by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnbench.data.splits import ArraySplit
from snnbench.experiments.config import TrainConfig
from snnbench.learning import hooks
from snnbench.learning.trainer import build_optimizer, train_one_epoch
from snnbench.synapses.delays import DelayedLinear


class Hooked(nn.Module):
    """A layer using every hook, counting the calls."""

    def __init__(self, penalty: float = 0.0) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = nn.Parameter(torch.ones(3))
        self.penalty = penalty
        self.calls: list[tuple] = []

    def forward(self, x, lengths=None, generator=None):
        return self.lin(x) * self.scale

    def on_epoch_start(self, epoch, num_epochs):
        self.calls.append(("start", epoch, num_epochs))

    def on_epoch_end(self, epoch, num_epochs):
        self.calls.append(("end", epoch, num_epochs))

    def after_step(self):
        self.calls.append(("step",))

    def extra_loss(self):
        return torch.tensor(self.penalty)

    def parameter_groups(self):
        return [{"name": "scale", "params": [self.scale], "lr_scale": 0.5, "weight_decay": 0.0}]

    def finalize(self):
        return "freezing"


def _split(n=10):
    g = torch.Generator().manual_seed(0)
    return ArraySplit(torch.rand(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g))


def test_trainer_calls_after_step_once_per_batch_and_adds_extra_loss():
    cfg = TrainConfig(batch_size=4, lr=1e-12, schedule="none")  # weights stay put
    losses = {}
    for penalty in (0.0, 2.5):
        torch.manual_seed(0)
        m = Hooked(penalty)
        opt = build_optimizer(m, cfg)
        res = train_one_epoch(m, _split(), cfg, opt, None, seed=0, epoch=0,
                              device=torch.device("cpu"), progress=False)
        assert m.calls == [("step",)] * 3  # 10 samples in batches of 4
        losses[penalty] = res.loss
    assert losses[2.5] == pytest.approx(losses[0.0] + 2.5, rel=1e-6)


def test_optimizer_groups_come_from_the_layers():
    cfg = TrainConfig(lr=0.1)
    m = nn.Sequential(Hooked(), Hooked())
    groups = build_optimizer(m, cfg).param_groups
    assert [len(g["params"]) for g in groups] == [4, 2]  # two Linear (w, b) each; two scales
    assert groups[1]["lr"] == pytest.approx(0.05) and groups[1]["weight_decay"] == 0.0
    assert hooks.optimizer_groups(m, 0.1, {"scale": 0.7}.get)[1]["lr"] == 0.7


def test_epoch_and_finalize_hooks_reach_every_layer():
    m = nn.Sequential(Hooked(), nn.ReLU(), Hooked())
    hooks.on_epoch_start(m, 2, 5)
    hooks.on_epoch_end(m, 2, 5)
    assert m[0].calls == m[2].calls == [("start", 2, 5), ("end", 2, 5)]
    assert hooks.finalize(m) == ["freezing"]
    assert hooks.extra_loss(nn.Linear(2, 2)) is None and not hooks.has_hook(nn.Linear(2, 2), "finalize")


def test_delayed_linear_announces_its_schedule_clamp_group_and_rounding():
    torch.manual_seed(0)
    d = DelayedLinear(3, 2, max_delay=5, sigma_init=4.0, sigma_final=1.0)
    hooks.on_epoch_start(d, 2, 3)
    assert float(d.sigma) == pytest.approx(1.0)
    with torch.no_grad():
        d.positions.fill_(9.0)
    hooks.after_step(d)
    assert float(d.positions.detach().max()) == 4.0
    groups = hooks.optimizer_groups(nn.Sequential(d, nn.Linear(2, 2)), 0.01, {"delay": None}.get)
    assert groups[1]["params"] == [d.positions] and groups[1]["lr"] == pytest.approx(0.1)
    assert hooks.finalize(d) == ["rounding"] and d.exact
