"""A tiny real run folder, trained with the harness itself (digits, 1 epoch, tiny models)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from snnbench.experiments.config import validate_suite
    from snnbench.experiments.runner import prepare_run_dir, run_suite

    suite = validate_suite({
        "name": "tiny-report",
        "seeds": [0],
        "experiments": [{
            "name": "digits",
            "data": {"name": "digits"},
            "models": [
                {"name": "snn", "type": "snn_ff", "hidden": [16], "kwargs": {"num_steps": 4}},
                {"name": "mlp", "type": "mlp", "hidden": [8]},
            ],
            "train": {"epochs": 1, "batch_size": 128, "lr": 0.01},
        }],
    })
    run_dir = prepare_run_dir(suite, tmp_path_factory.mktemp("runs") / "tiny")
    run_suite(suite, run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def tiny_report(tiny_run: Path, tmp_path_factory) -> Path:
    """The report of :func:`tiny_run` (written once per session)."""
    from snnbench.report import write_report

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert write_report([tiny_run], out, progress=False) == out
    return out
