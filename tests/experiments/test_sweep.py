"""Sweeps on a local Ray instance (one per module: starting Ray takes seconds): a sweep of
2 cells killed after epoch 1 of each trial resumes and ends bit-identical to the same sweep
run serially without interruption; resuming a finished sweep writes nothing."""

from __future__ import annotations

import json

import pytest
import torch

from snnbench.cli import main
from snnbench.experiments.config import ConfigError
from snnbench.experiments.sweep import SweepSpec, load_sweep, parse_grid, prepare_sweep_dir, run_sweep, split_values

ray = pytest.importorskip("ray", reason="Ray is in the 'scale' extra: pip install -e '.[scale]'")

BASE = {
    "name": "tiny", "seeds": [0],
    "experiments": [{
        "name": "digits", "data": {"name": "digits", "val_fraction": 0.1},
        "models": [{"name": "snn", "type": "snn_ff", "hidden": [16],
                    "kwargs": {"encoder": "bernoulli", "num_steps": 4, "readout": "mean_membrane"}}],
        "train": {"epochs": 2, "batch_size": 128, "lr": 5e-3},
    }],
}


@pytest.fixture(scope="module")
def ray_session():
    from snnbench.experiments.ray_backend import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def test_grid_values_split_outside_brackets():
    assert split_values("1e-3,3e-3") == ["1e-3", "3e-3"]
    assert split_values("[128],[256, 64]") == ["[128]", "[256, 64]"]
    assert parse_grid(["train.lr=1e-3,3e-3", "models.0.hidden=[128],[256]"]) == [
        ("train.lr", ["1e-3", "3e-3"]), ("models.0.hidden", ["[128]", "[256]"])]
    with pytest.raises(ConfigError, match="balanced brackets"):
        split_values("[128,[256]")
    with pytest.raises(ConfigError, match="key=v1,v2"):
        parse_grid(["train.lr"])


def test_cells_are_the_grid_product_with_safe_names(tmp_path):
    spec = SweepSpec(BASE, parse_grid(["train.lr=1e-3,3e-3", "models.0.hidden=[8],[16, 8]"]), [0, 1])
    cells = spec.cells()
    assert [c for c, _ in cells] == ["00-lr=1e-3_hidden=8", "01-lr=1e-3_hidden=16x8",
                                     "02-lr=3e-3_hidden=8", "03-lr=3e-3_hidden=16x8"]
    trials = spec.trials(tmp_path)
    assert len(trials) == 8
    t = next(t for t in trials if t.cell.startswith("01") and t.seed == 1)
    assert t.raw["seeds"] == [1] and t.raw["experiments"][0]["models"][0]["hidden"] == [16, 8]
    assert t.raw["experiments"][0]["train"]["lr"] == 1e-3
    assert t.folder == tmp_path / "01-lr=1e-3_hidden=16x8" / "seed1"


def test_invalid_cell_is_refused_before_anything_is_written(tmp_path):
    spec = SweepSpec(BASE, parse_grid(["train.lr=1e-3,-1"]), [0])
    with pytest.raises(ConfigError, match="sweep cell 01-lr=-1"):
        prepare_sweep_dir(spec, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def _trial_figures(sweep_dir, spec):
    out = {}
    for t in spec.trials(sweep_dir):
        final = json.loads((t.folder / "digits" / "snn" / f"seed{t.seed}" / "final.json").read_text())
        hist = (t.folder / "digits" / "snn" / f"seed{t.seed}" / "metrics.jsonl").read_text().splitlines()
        out[(t.cell, t.seed)] = (final["test_accuracy"], final["extra"]["predictions"], final["extra"]["test_loss"],
                                 [(h["train_loss"], h["val_accuracy"]) for h in map(json.loads, hist)])
    return out


def test_ray_sweep_killed_and_resumed_equals_serial_sweep(tmp_path, ray_session):
    torch.set_num_threads(1)
    spec = SweepSpec(BASE, parse_grid(["train.lr=5e-3,1e-2"]), [0])
    resumed = prepare_sweep_dir(spec, tmp_path / "ray")
    assert run_sweep(spec, resumed, stop_after_epochs=1) == []      # every trial stopped after epoch 1
    assert not (resumed / "results.json").exists()
    for t in spec.trials(resumed):
        assert (t.folder / "digits" / "snn" / "seed0" / "checkpoint.safetensors").is_file()
        assert not (t.folder / "results.json").exists()
    rows = run_sweep(load_sweep(resumed), resumed)                   # resumed on Ray from the checkpoints
    assert [r["cell"] for r in rows] == ["00-lr=5e-3", "01-lr=1e-2"]
    assert all(r["seeds"] == 1 and 0 <= r["accuracy_mean"] <= 100 for r in rows)

    serial = prepare_sweep_dir(spec, tmp_path / "serial")
    serial_rows = run_sweep(spec, serial, serial=True)
    assert _trial_figures(resumed, spec) == _trial_figures(serial, spec)  # bit-identical per trial
    assert [r["accuracy_mean"] for r in rows] == [r["accuracy_mean"] for r in serial_rows]

    # a finished sweep resumed again reads every trial back and rewrites none of them
    stamps = {p: p.stat().st_mtime_ns for p in resumed.rglob("*") if p.is_file() and "seed" in str(p.parent)}
    calls = []
    again = run_sweep(load_sweep(resumed), resumed, on_trial=lambda t, r: calls.append(t))
    assert calls == [] and again == rows
    assert stamps == {p: p.stat().st_mtime_ns for p in resumed.rglob("*") if p.is_file() and "seed" in str(p.parent)}


def test_cli_sweep_resume_takes_no_other_arguments(tmp_path, capsys):
    assert main(["sweep", "quickstart", "--resume", str(tmp_path)]) == 2
    assert "--resume SWEEP_DIR takes no config" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(tmp_path / "none")]) == 2
    assert "not a snnbench sweep folder" in capsys.readouterr().err


def test_run_ray_options_are_checked_before_any_work(tmp_path, capsys):
    assert main(["run", "quickstart", "--ray", "--nproc", "2", "--out", str(tmp_path / "a")]) == 2
    assert "pick one" in capsys.readouterr().err
    assert main(["run", "quickstart", "--workers", "2", "--out", str(tmp_path / "b")]) == 2
    assert "go with --ray" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
