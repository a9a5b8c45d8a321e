"""``snnbench convert RUN_DIR`` end to end on a tiny digits run, and its one-line errors."""

import json

import pytest

from snnbench.cli import main
from snnbench.data.batching import iterate_batches
from snnbench.experiments.config import validate_suite
from snnbench.experiments.conversion import evaluate_conversion
from snnbench.experiments.runner import load_trained_model, prepare_run_dir, run_suite
from snnbench.metrics.energy import estimate_energy


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def _suite(models):
    return {"name": "tiny", "seeds": [0], "experiments": [{
        "name": "digits", "data": {"name": "digits", "val_fraction": 0.1}, "models": models,
        "train": {"epochs": 1, "batch_size": 64, "lr": 1e-2}}]}


def test_convert_cli_writes_accuracy_operations_and_energy_per_T(tmp_path, capsys):
    suite = validate_suite(_suite([{"name": "mlp", "type": "mlp", "hidden": [32]}]))
    run = prepare_run_dir(suite, tmp_path / "run")
    run_suite(suite, run, progress=False)
    assert main(["convert", str(run), "--steps", "1,4,64", "--percentile", "100"]) == 0
    assert "| digits | mlp | 64 |" in capsys.readouterr().out
    out = json.loads((run / "conversion.json").read_text())
    (res,) = out["results"]
    final = json.loads((run / "digits" / "mlp" / "seed0" / "final.json").read_text())
    assert res["ann"]["accuracy"] == pytest.approx(final["test_accuracy"])
    rows = {r["steps"]: r for r in res["snn"]}
    assert set(rows) == {1, 4, 64}
    assert abs(rows[64]["accuracy"] - res["ann"]["accuracy"]) <= 0.03  # converges to the ANN
    # the analog input is 64 x 32 MACs at every step (minus zero pixels); spikes are ACs
    ann, data = load_trained_model(run, "digits", "mlp", 0)
    nz = sum(float(x.ne(0).sum()) for x, _, _ in iterate_batches(data.test, 100, shuffle=False))
    assert rows[4]["macs_per_sample"] == pytest.approx(4 * 32 * nz / len(data.test))
    assert rows[64]["acs_per_sample"] > rows[4]["acs_per_sample"] > 0
    for r in rows.values():
        assert r["energy_pj_per_sample"] == pytest.approx(estimate_energy(r["macs_per_sample"], r["acs_per_sample"]))
    # the same numbers from the library call
    again = evaluate_conversion(ann, data, steps=[4], percentile=100.0)
    assert again["snn"][0]["accuracy"] == rows[4]["accuracy"]


def test_convert_cli_one_line_errors(tmp_path, capsys):
    suite = validate_suite(_suite([{"name": "snn", "type": "snn_ff", "hidden": [8],
                                    "kwargs": {"encoder": "bernoulli", "num_steps": 2}}]))
    run = prepare_run_dir(suite, tmp_path / "run")
    assert main(["convert", str(run)]) == 2
    assert "no mlp or cnn model" in capsys.readouterr().err
    assert main(["convert", str(run), "--steps", "1,x"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["convert", str(run), "--percentile", "0"]) == 2
    assert "percentile" in capsys.readouterr().err
    assert main(["convert", str(run), "--v-init", "1.5"]) == 2
    assert "v_init" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err
    assert not (run / "conversion.json").exists()
