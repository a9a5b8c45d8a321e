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


def test_results_table_gains_the_rstdp_readout_column_only_when_every_seed_has_it():
    from snnbench.experiments.stdp_runner import format_cells, summarise_cells

    def run(acc, ro=None):
        m = {"test_accuracy": acc, "test_accuracy_per_epoch": [acc], "train_samples_per_s": [100.0],
             "seconds": 1.0}
        if ro is not None:
            m["rstdp_readout"] = {"test_accuracy": ro}
        return m

    rows = summarise_cells([("a", run(0.8, 0.9)), ("a", run(0.9, 0.7)), ("b", run(0.5))])
    assert rows[0]["rstdp_accuracy_mean"] == pytest.approx(80.0)
    assert rows[0]["rstdp_accuracy_std"] == pytest.approx(14.142, abs=1e-3)
    assert "rstdp_accuracy_mean" not in rows[1]
    table = format_cells(rows).splitlines()
    assert "R-STDP readout" in table[0] and table[0].count("|") == table[1].count("|") == table[2].count("|")
    assert "| 80.0 +- 14.1 |" in table[2] and table[3].count("|") == table[0].count("|")
    assert "R-STDP" not in format_cells(summarise_cells([("b", run(0.5))]))
