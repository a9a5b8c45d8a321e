"""snnbench tune: a tiny search (2 trials x 2 models x 1 epoch on digits) through a local Ray
instance. Equal budgets read back from the finished folder, the test split never reaches a
trial, an interrupted search resumes without repeating finished trials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("ray.tune", reason="snnbench tune needs the 'scale' extra (ray[tune], optuna)")
pytest.importorskip("optuna", reason="snnbench tune needs the 'scale' extra (ray[tune], optuna)")

from snnbench.data import load_dataset  # noqa: E402
from snnbench.experiments.config import ConfigError, validate_suite  # noqa: E402
from snnbench.experiments.search_space import apply_params, model_space  # noqa: E402
from snnbench.experiments.tune import (  # noqa: E402
    _scheduler, budget_of, prepare_tune_dir, run_trial, run_tune, search_experiment, trial_data)
from snnbench.experiments.tune_config import TuneSettings  # noqa: E402


def tiny_suite(**tune) -> dict:
    return {
        "name": "tiny-tune", "seeds": [0],
        "experiments": [{
            "name": "digits", "data": {"name": "digits"},
            "models": [
                {"name": "snn", "type": "snn_ff", "hidden": [16],
                 "kwargs": {"num_steps": 4, "readout": "mean_membrane"}},
                {"name": "mlp", "type": "mlp", "match": "snn"},
            ],
            "train": {"epochs": 1, "batch_size": 128, "lr": 0.01},
        }],
        # a narrow space, so that one epoch learns something (a model at the majority class gets no verdict)
        "tune": {"trials": 2, "epochs": 1, "scheduler": "none",
                 "spaces": {"snn": {"lr": {"loguniform": [0.01, 0.03]}, "batch_size": {"choice": [32]},
                                    "num_steps": None, "threshold": None, "beta": {"uniform": [0.8, 0.9]}},
                            "mlp": {"lr": {"loguniform": [0.01, 0.03]}, "batch_size": {"choice": [32]}}},
                 **tune},
    }


@pytest.fixture(scope="module")
def ray_session():
    import ray

    from snnbench.experiments.tune import init_ray

    init_ray(None, 2)  # one Ray session for the whole module: startup costs seconds
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tuned(ray_session, tmp_path_factory) -> Path:
    run_dir = prepare_tune_dir(validate_suite(tiny_suite()), tmp_path_factory.mktemp("tune") / "t")
    assert run_tune(run_dir, workers=2, references=False) is not None
    return run_dir


def test_every_model_had_the_same_budget(tuned: Path):
    cfg = yaml.safe_load((tuned / "config.yaml").read_text())
    for exp in cfg["experiments"]:
        records = [json.loads((tuned / "tune" / exp["name"] / f"{m['name']}.json").read_text()) for m in exp["models"]]
        assert len(records) == 2
        budgets = [r["budget"] for r in records]
        assert all(b == budgets[0] for b in budgets)
        assert budgets[0]["trials"] == cfg["tune"]["trials"] == 2
        for r in records:  # what ran, not only what was asked: trials and epochs per trial
            # one search ran every model's trials, each trial in a folder named after its model
            trial_dirs = sorted((tuned / "tune" / exp["name"] / "search").glob(f"{r['model']}_*/result.json"))
            assert len(trial_dirs) == 2
            assert {json.loads(p.read_text().splitlines()[-1])["model"] for p in trial_dirs} == {r["model"]}
            assert len(r["trials"]) == budgets[0]["trials"]
            assert [t["epochs_run"] for t in r["trials"]] == [budgets[0]["epochs_per_trial"]] * 2
            assert all(t["error"] is None for t in r["trials"])
            assert r["chosen"]["params"] in [t["params"] for t in r["trials"]]
        # the trial actors started once, for both models' trials (2 workers: at most 2 processes)
        pids = {json.loads(p.read_text().splitlines()[-1])["pid"]
                for p in (tuned / "tune" / exp["name"] / "search").glob("*/result.json")}
        assert 1 <= len(pids) <= 2


def test_final_runs_use_the_chosen_settings(tuned: Path):
    final = yaml.safe_load((tuned / "final" / "config.yaml").read_text())
    for m in final["experiments"][0]["models"]:
        chosen = json.loads((tuned / "tune" / "digits" / f"{m['name']}.json").read_text())["chosen"]["params"]
        assert m["lr"] == pytest.approx(chosen["lr"])
        assert m["train"]["batch_size"] == chosen["batch_size"]
        f = json.loads((tuned / "final" / "digits" / m["name"] / "seed0" / "final.json").read_text())
        assert len(f["extra"]["predictions"]) == 360  # the canonical digits test split, tested once
    results = json.loads((tuned / "results.json").read_text())
    assert [v["snn"] + "/" + v["baseline"] for v in results["verdicts"]] == ["snn/mlp"]
    # one search for both models, within the search phase's wall time
    (a0, a1), (b0, b1) = [json.loads((tuned / "tune" / "digits" / f"{m}.json").read_text())["search_window"]
                          for m in ("snn", "mlp")]
    assert (a0, a1) == (b0, b1)
    assert results["search_wall_seconds"]["digits"] >= a1 - a0
    assert "verdict snn vs mlp" in (tuned / "results.md").read_text()


def _rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.reshape(len(x), -1)}


@pytest.mark.parametrize("cv_folds", [None, 3])
def test_trials_get_no_test_data(cv_folds):
    exp = validate_suite(tiny_suite()).experiments[0]
    settings = TuneSettings(cv_folds=cv_folds)
    td = trial_data(exp, settings)
    assert not hasattr(td, "test")
    full = load_dataset("digits", val_fraction=0.0, seed=0)
    test_rows, train_rows = _rows(full.test.x), _rows(full.train.x)
    assert len(td.folds) == (cv_folds or 1)
    for tr, va in td.folds:
        seen = _rows(tr.x) | _rows(va.x)
        assert not seen & (test_rows - train_rows)  # no test sample reaches a trial
        assert len(tr) + len(va) == len(full.train)
    # a trial runs on that data alone and reports the validation accuracy per epoch
    reports: list[dict] = []
    run_trial({"lr": 0.01, "beta": 0.8}, experiment=exp.model_dump(mode="json"), model="snn", data=td,
              epochs=2, seed=0, report=reports.append)
    assert [r["epoch"] for r in reports] == [1, 2]
    assert len(reports[0]["fold_accuracies"]) == (cv_folds or 1)


def test_resume_after_an_interrupted_search(ray_session, tmp_path: Path):
    raw = tiny_suite(trials=2)
    raw["experiments"][0]["models"] = raw["experiments"][0]["models"][:1]  # the SNN alone: CI time
    raw["tune"]["spaces"].pop("mlp")
    run_dir = prepare_tune_dir(validate_suite(raw), tmp_path / "r")
    assert run_tune(run_dir, workers=1, references=False, stop_after_trials=1) is None
    assert not (run_dir / "tune" / "digits" / "snn.json").exists()
    state = sorted((run_dir / "tune" / "digits" / "search").glob("snn_*/result.json"))
    done = {json.loads(p.read_text().splitlines()[-1])["trial_id"] for p in state if p.read_text().strip()}
    assert done, "the interrupted search finished no trial"
    assert run_tune(run_dir, workers=1, references=False) is not None
    rec = json.loads((run_dir / "tune" / "digits" / "snn.json").read_text())
    assert len(rec["trials"]) == 2
    assert done <= {t["trial_id"] for t in rec["trials"]}  # the finished trial was kept, not rerun


def test_an_unfinished_search_of_the_per_model_layout_is_not_restarted(tmp_path: Path):
    exp = validate_suite(tiny_suite()).experiments[0]
    (tmp_path / "snn" / "trial_digits_snn_0").mkdir(parents=True)  # an older snnbench's search
    with pytest.raises(ConfigError, match=r"unfinished searches of \['snn'\] in the layout"):
        search_experiment(exp, TuneSettings(trials=2), trial_data(exp, TuneSettings()), tmp_path)
    assert not (tmp_path / "search").exists()  # nothing written


def test_spaces_and_bad_configs():
    exp = validate_suite(tiny_suite()).experiments[0]
    snn, mlp = exp.models
    space = model_space(exp, snn, (64,), {"threshold": None})
    assert {"lr", "beta", "alpha"} <= set(space) and "threshold" not in space
    assert "num_steps" in model_space(exp, snn, (64,))
    assert "depth" in model_space(exp, mlp, (64,))
    m = apply_params(exp, snn, {"lr": 0.003, "batch_size": 32, "beta": 0.9, "alpha": 4.0, "num_steps": 6})
    assert m.lr == 0.003 and m.train == {"batch_size": 32}
    assert m.kwargs["neuron_kwargs"] == {"beta": 0.9, "alpha": 4.0, "surrogate": "atan"} and m.kwargs["num_steps"] == 6
    with pytest.raises(ValueError, match="not a parameter of a mlp model"):
        model_space(exp, mlp, (64,), {"beta": {"uniform": [0.5, 0.9]}})
    with pytest.raises(ConfigError, match="tune.trials"):
        validate_suite(tiny_suite(trials=0))
    with pytest.raises(ConfigError, match="loguniform needs low > 0"):
        validate_suite(tiny_suite(spaces={"snn": {"lr": {"loguniform": [0, 1]}}}))
    with pytest.raises(ConfigError, match="models.0.train"):
        bad = tiny_suite()
        bad["experiments"][0]["models"][0]["train"] = {"batch_sise": 3}
        validate_suite(bad)


@pytest.mark.parametrize("epochs, fraction, period, grace", [
    (50, 0.25, None, 13),   # ceil(12.5): a quarter of a 50-epoch trial, not a fixed 5 epochs
    (12, 0.25, None, 3),
    (8, 0.25, None, 2),
    (30, 0.1, None, 3),
    (1, 0.25, None, 1),     # at least one epoch
    (50, 0.25, 5, 5),       # an explicit grace_period wins, the same for every model
    (4, 0.25, 10, 4),       # never longer than the trial
])
def test_grace_period_is_a_share_of_the_trial(epochs, fraction, period, grace):
    settings = TuneSettings(epochs=epochs, grace_fraction=fraction, grace_period=period, scheduler="asha")
    assert settings.grace_epochs(epochs) == grace
    exp = validate_suite(tiny_suite()).experiments[0]
    assert budget_of(settings, exp)["grace_period"] == grace  # the record states what the scheduler used
    sched = _scheduler(settings, epochs)
    assert sched._max_t == epochs
    rungs = sorted(r[0] for r in sched._brackets[0]._rungs)  # where ASHA may stop a trial
    assert rungs[0] == grace and all(b == 3 * a for a, b in zip(rungs, rungs[1:]))  # then x3


def test_startup_trials_leave_tpe_a_part_of_the_budget():
    assert [TuneSettings(trials=n).startup_trials() for n in (1, 2, 8, 20, 40)] == [1, 1, 4, 10, 10]
    with pytest.raises(ValueError, match="grace_fraction"):
        TuneSettings(grace_fraction=0.0)


def test_a_constant_seed_difference_is_said_in_words():
    from snnbench.experiments.tune import format_tuned

    v = {"snn": "snn", "baseline": "mlp", "verdict": "no difference at 95 %", "difference": 0.8,
         "ci_low": -0.5, "ci_high": 2.2, "seeds": 3, "p": 0.0}
    text = format_tuned({"rows": [], "tuning": {}, "verdicts": [v, {**v, "p": 0.04}]})
    assert "p=0 (the same difference on every seed)" in text
    assert "p=0.04)" in text
