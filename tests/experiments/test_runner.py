import json

import pytest
import torch
from safetensors.torch import load_file

from snnbench.cli import main
from snnbench.experiments.config import validate_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite

from _suites import tiny_suite  # tests/experiments/_suites.py


def _tiny_suite(epochs: int = 2) -> dict:
    return tiny_suite("tiny", epochs, batch_size=128)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def test_run_writes_folder_and_resume_equals_uninterrupted(tmp_path):
    suite = validate_suite(_tiny_suite())
    straight = prepare_run_dir(suite, tmp_path / "straight")
    rows = run_suite(suite, straight, progress=False)
    assert {r["model"] for r in rows} == {"snn", "mlp"}
    snn_row = next(r for r in rows if r["model"] == "snn")
    mlp_row = next(r for r in rows if r["model"] == "mlp")
    assert abs(mlp_row["params"] - snn_row["params"]) <= 0.05 * snn_row["params"]
    assert 0.0 <= snn_row["mean_spike_rate"] <= 1.0
    seed_dir = straight / "digits" / "snn" / "seed0"
    assert len((seed_dir / "metrics.jsonl").read_text().splitlines()) == 2
    assert (straight / "results.md").read_text().count("|") > 10

    # interrupt after one epoch, then resume from the folder
    broken = prepare_run_dir(suite, tmp_path / "broken")
    assert run_suite(suite, broken, progress=False, stop_after_epochs=1) == []
    assert not (broken / "digits" / "snn" / "seed0" / "final.json").exists()
    assert main(["run", "--resume", str(broken), "--no-progress", "--no-report"]) == 0

    for model in ("snn", "mlp"):
        a = json.loads((straight / "digits" / model / "seed0" / "final.json").read_text())
        b = json.loads((broken / "digits" / model / "seed0" / "final.json").read_text())
        assert a["test_accuracy"] == b["test_accuracy"]
        assert a["extra"]["predictions"] == b["extra"]["predictions"]
        wa = load_file(str(straight / "digits" / model / "seed0" / "checkpoint.safetensors"))
        wb = load_file(str(broken / "digits" / model / "seed0" / "checkpoint.safetensors"))
        assert wa.keys() == wb.keys()
        for k in wa:
            assert torch.equal(wa[k], wb[k]), k


def test_cli_rejects_bad_config_before_work(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "quickstart", "--set", "train.epochs=0", "--out", str(out)])
    assert code == 2
    assert "train.epochs" in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_to_overwrite_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert main(["run", "quickstart", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "precious"


def test_cli_list_names_presets_and_datasets(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "quickstart" in text and "mnist5k" in text and "basicmotions" in text


def test_resume_with_a_corrupt_checkpoint_reports_it_and_changes_nothing(tmp_path, capsys):
    suite = validate_suite(_tiny_suite(epochs=2))
    run = prepare_run_dir(suite, tmp_path / "run")
    run_suite(suite, run, progress=False, stop_after_epochs=1)
    ckpt = run / "digits" / "snn" / "seed0" / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    before = ckpt.read_bytes()
    assert main(["run", "--resume", str(run), "--no-progress", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err and "checkpoint.safetensors" in err
    assert ckpt.read_bytes() == before and not (run / "digits" / "snn" / "seed0" / "final.json").exists()


def test_a_model_can_have_its_own_learning_rate(tmp_path):
    raw = _tiny_suite(epochs=1)
    exp = raw["experiments"][0]
    exp["train"]["schedule"] = "none"
    exp["models"][0]["lr"] = 0.01  # the SNN; the MLP keeps train.lr
    run_suite(validate_suite(raw), tmp_path, progress=False)
    lrs = {}
    for name in ("snn", "mlp"):
        rows = [json.loads(line) for line in
                (tmp_path / "digits" / name / "seed0" / "metrics.jsonl").read_text().splitlines()]
        lrs[name] = rows[0]["lr"]
    assert lrs == {"snn": 0.01, "mlp": 5e-3}
    raw["experiments"][0]["models"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        validate_suite(raw)
