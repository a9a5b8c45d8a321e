import json

import pytest

from snnbench.cli import main
from snnbench.experiments.config import ConfigError, load_suite


def test_stdp_grid_cell_runs_from_cli_and_resume_skips_finished_cells(tmp_path):
    out = tmp_path / "run"
    args = ["run", "stdp-grid", "--set", "stdp.cells=[poisson/adaptive_lif/stdp]", "--set", "stdp.n_neurons=8",
            "--set", "stdp.presentation_ms=40", "--set", "stdp.rest_ms=10", "--out", str(out), "--no-progress", "--no-report"]
    assert main(args) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["cell"] for r in rows] == ["poisson-adaptive_lif-stdp-8n"]
    assert 0.0 <= rows[0]["accuracy_mean"] <= 100.0 and rows[0]["train_samples_per_s"] > 0
    cell = out / "poisson-adaptive_lif-stdp-8n" / "seed0"
    metrics = cell / "metrics.json"
    assert (cell / "weights.safetensors").is_file()
    stamp = metrics.stat().st_mtime_ns
    assert main(["run", "--resume", str(out), "--no-progress", "--no-report"]) == 0
    assert metrics.stat().st_mtime_ns == stamp  # finished cell read back, not retrained


@pytest.mark.parametrize(
    "override, message",
    [
        ("stdp.nu_pre=-1", "stdp.nu_pre"),
        ("stdp.wmin=2", "wmin must be < wmax"),
        ("stdp.cells=[poisson/lif/backprop]", "stdp.cells"),
        ("stdp.mode=online", "stdp.mode"),
        ("stdp.learning_rate=1", "unknown fields ['learning_rate']"),
    ],
)
def test_invalid_stdp_settings_are_rejected_before_work(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_suite("stdp-grid", [override])


def test_stdp_grid_preset_has_27_cells():
    from snnbench.experiments.stdp_runner import build_stdp_configs

    suite = load_suite("stdp-grid")
    names = {name for name, _ in build_stdp_configs(suite.stdp, suite.seeds)}
    assert len(names) == 27
