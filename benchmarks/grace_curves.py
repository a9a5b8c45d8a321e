"""Validation curves behind the tune grace period (docs/results.md, tuned section): how fast
the BasicMotions GRU and SNN learn, on the 4-fold CV of the training split that
`snnbench tune basicmotions` uses (the test split is never loaded).

    python benchmarks/grace_curves.py

Prints, per setting, the mean validation accuracy over the folds after 5, 13, 25 and 50
epochs (one torch thread; seed 0).
"""

from __future__ import annotations

import sys
import time

import torch

from snnbench.experiments.config import load_suite
from snnbench.experiments.tune import run_trial, trial_data

SETTINGS = [  # (model, sampled parameters)
    ("gru", {"lr": 1e-2, "batch_size": 8, "depth": 1, "dropout": 0.0, "weight_decay": 0.0}),
    ("gru", {"lr": 3e-4, "batch_size": 8, "depth": 1, "dropout": 0.0, "weight_decay": 0.0}),
    ("snn", {"lr": 1e-2, "batch_size": 8}),
]


def main() -> int:
    torch.set_num_threads(1)
    suite = load_suite("basicmotions", [], None)
    exp = suite.experiments[0]
    data = trial_data(exp, suite.tune)  # training split only: 4 stratified folds
    for model, params in SETTINGS:
        curve: list[float] = []
        start = time.perf_counter()
        run_trial(params, experiment=exp.model_dump(mode="json"), model=model, data=data, epochs=50, seed=0,
                  report=lambda r: curve.append(100 * r["val_accuracy"]))
        at = ", ".join(f"{e}: {curve[e - 1]:.0f} %" for e in (5, 13, 25, 50))
        print(f"{model} {params}: validation after epochs {at} ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
