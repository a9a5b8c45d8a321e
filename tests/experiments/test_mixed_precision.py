"""train.precision: bf16 autocast of training forward passes (mixed precision on CUDA;
on the CPU, where CI runs, bf16 autocast), fp32 a no-op that leaves configs unchanged."""

import json

import torch

from snnbench.experiments.config import load_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite
from snnbench.learning.trainer import autocast


def _suite(precision):
    sets = ["train.epochs=1", "models.0.hidden=[16]", "train.batch_size=128"]
    if precision is not None:
        sets.append(f"train.precision={precision}")
    return load_suite("digits", sets, seeds=1)


def test_fp32_is_the_default_and_keeps_the_config_dump():
    default, fp32 = _suite(None), _suite("fp32")
    assert default.experiments[0].train.precision == "fp32"
    assert "precision" not in default.experiments[0].train.model_dump()
    assert default.model_dump() == fp32.model_dump()
    assert "precision" in _suite("bf16").experiments[0].train.model_dump()


def test_autocast_context_follows_the_setting():
    cfg16 = _suite("bf16").experiments[0].train
    cfg32 = _suite("fp32").experiments[0].train
    lin = torch.nn.Linear(4, 3)
    x = torch.rand(2, 4)
    with autocast(torch.device("cpu"), cfg16):
        assert lin(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), cfg32):
        assert lin(x).dtype == torch.float32


def test_bf16_training_follows_fp32_training(tmp_path, monkeypatch):
    seen = []
    orig = torch.nn.Linear.forward

    def spy(self, x):
        y = orig(self, x)
        seen.append(y.dtype)
        return y

    monkeypatch.setattr(torch.nn.Linear, "forward", spy)
    losses = {}
    for precision in ("fp32", "bf16"):
        suite = load_suite("digits", ["train.epochs=2", "models.0.hidden=[16]", "train.batch_size=64", "models.0.kwargs.num_steps=8",
                                      f"train.precision={precision}"], seeds=1)
        suite.experiments[0].models = suite.experiments[0].models[:1]  # the SNN
        run_dir = prepare_run_dir(suite, tmp_path / precision)
        run_suite(suite, run_dir, progress=False)
        hist = [json.loads(line) for line in
                (run_dir / "digits" / "snn" / "seed0" / "metrics.jsonl").read_text().splitlines()]
        losses[precision] = [h["train_loss"] for h in hist]
        if precision == "fp32":
            assert torch.bfloat16 not in seen
    assert torch.bfloat16 in seen and torch.float32 in seen  # bf16 training, fp32 evaluation
    assert losses["bf16"][1] < losses["bf16"][0]
    assert abs(losses["bf16"][1] / losses["fp32"][1] - 1) < 0.1  # bf16 rounding, same learning
