"""Run folders that cannot be escaped, silently mixed or silently corrupted: one test per case
a hostile but fair user tried (names, edited configs, checksums, validation before the folder
exists, failed starts, one-line errors, the lock)."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file, save

from snnbench.cli import main
from snnbench.experiments import runner
from snnbench.experiments.checkpoint import checksum, load_checkpoint, save_checkpoint
from snnbench.experiments.config import ConfigError, validate_suite
from snnbench.experiments.identity import config_section, rebase_schedule
from snnbench.experiments.lock import RunFolderBusy, RunLock
from snnbench.experiments.run_folder import prepare_run_dir
from snnbench.experiments.runner import run_suite
from snnbench.learning.trainer import build_optimizer, build_scheduler

from _suites import tiny_suite  # tests/experiments/_suites.py


def tiny(epochs: int = 2) -> dict:
    return tiny_suite("tiny", epochs)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 2-epoch run and one stopped after epoch 1 (copied by each test)."""
    base = tmp_path_factory.mktemp("trained")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    suite = validate_suite(tiny())
    done = prepare_run_dir(suite, base / "done")
    run_suite(suite, done, progress=False)
    half = prepare_run_dir(suite, base / "half")  # both models stopped after epoch 1
    exp = suite.experiments[0]
    data = runner._load_split_cached({}, exp, 0)
    for m in exp.models:
        runner.train_model_seed(exp, m, 0, data, half / "digits" / m.name / "seed0", torch.device("cpu"),
                                progress=False, stop_after_epochs=1, section=config_section(suite, exp, m, 0))
    torch.set_num_threads(n)
    return {"done": done, "half": half}


def copy_of(trained, which, tmp_path):
    dst = tmp_path / which
    shutil.copytree(trained[which], dst)
    return dst


def edit_config(run, fn):
    path = run / "config.yaml"
    raw = yaml.safe_load(path.read_text())
    fn(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def write_config(tmp_path, raw, name="c.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnbench: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


RESUME = ["--no-progress", "--no-report"]


# ----------------------------------------------------------------------------- names and paths

@pytest.mark.parametrize("where, name", [
    ("experiment", "../../escape"), ("experiment", "/tmp/abs"), ("model", "../../../m"),
    ("model", ".."), ("suite", "a/b"), ("experiment", "."), ("model", "snn net"),
])
def test_names_that_become_paths_are_refused_before_anything_is_written(tmp_path, capsys, where, name):
    raw = tiny()
    if where == "experiment":
        raw["experiments"][0]["name"] = name
    elif where == "model":
        raw["experiments"][0]["models"][0]["name"] = name
        raw["experiments"][0]["models"][1]["match"] = name
    else:
        raw["name"] = name
    work = tmp_path / "work"
    work.mkdir()
    cfg = write_config(tmp_path, raw)
    out = work / "a" / "b" / "run"
    assert main(["run", cfg, "--out", str(out)] + RESUME) == 2
    err = one_line_error(capsys)
    assert "becomes a folder name" in err and "letters, digits" in err
    assert not (work / "a").exists() and not any((tmp_path / "work").iterdir())
    assert not (tmp_path / "escape").exists() and not (tmp_path / "m").exists()


def test_a_symlink_out_of_the_run_folder_is_refused(tmp_path):
    suite = validate_suite(tiny(epochs=1))
    run = prepare_run_dir(suite, tmp_path / "run")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (run / "digits").symlink_to(outside)
    with pytest.raises(ConfigError, match="lies outside the run folder"):
        run_suite(suite, run, progress=False)
    assert not any(outside.iterdir())


# ----------------------------------------------------------------------------- validation first

@pytest.mark.parametrize("override, expected", [
    ("train.lr=inf", "experiments.0.train.lr: Input should be a finite number"),
    ("train.lr=.nan", "experiments.0.train.lr is not a finite number; give a finite value"),
    ("models.0.kwargs.neuron_kwargs={beta: .inf}", "experiments.0.models.0.kwargs.neuron_kwargs.beta is not a finite"),
    ("models.0.kwargs.encodr=poisson", "experiments.0.models.0.kwargs (model 'snn' of experiment 'digits'): "
                                      "model spec of type 'snn_ff' has unknown keys ['encodr']"),
    ("models.0.kwargs.num_steps=0", "experiments.0.models.0.kwargs.num_steps (model 'snn' of experiment 'digits'): "
                                    "num_steps must be an integer >= 1, got 0"),
])
def test_everything_is_validated_before_the_run_folder_exists(tmp_path, capsys, override, expected):
    out = tmp_path / "run"
    assert main(["run", write_config(tmp_path, tiny()), "--set", override, "--out", str(out)] + RESUME) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_a_start_that_fails_before_training_removes_what_it_created(tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise ValueError("simulated failure in the first epoch")

    monkeypatch.setattr(runner, "train_one_epoch", boom)
    out = tmp_path / "new"
    assert main(["run", write_config(tmp_path, tiny()), "--out", str(out)] + RESUME) == 2
    err = capsys.readouterr().err
    assert "simulated failure" in err and "nothing was trained; removed the run folder" in err
    assert not out.exists()
    empty = tmp_path / "empty"  # a folder that existed (empty) is emptied again, not removed
    empty.mkdir()
    assert main(["run", write_config(tmp_path, tiny()), "--out", str(empty)] + RESUME) == 2
    assert empty.is_dir() and not any(empty.iterdir())


def test_ctrl_c_names_the_real_run_folder_or_removes_an_untrained_one(tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    real = runner.train_one_epoch

    def interrupt_second_epoch(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(runner, "train_one_epoch", interrupt_second_epoch)
    out = tmp_path / "run"
    assert main(["run", write_config(tmp_path, tiny()), "--out", str(out)] + RESUME) == 130
    err = capsys.readouterr().err
    assert f"continue with 'snnbench run --resume {out}'" in err and "RUN_DIR" not in err
    assert (out / "digits" / "snn" / "seed0" / "checkpoint.safetensors").is_file()

    calls["n"] = 1  # the first epoch of the next run is interrupted
    out2 = tmp_path / "run2"
    assert main(["run", write_config(tmp_path, tiny()), "--out", str(out2)] + RESUME) == 130
    assert f"interrupted before anything was trained; removed {out2}" in capsys.readouterr().err
    assert not out2.exists()


def test_resume_with_set_fixes_fields_not_yet_used(tmp_path, capsys):
    suite = validate_suite(tiny(epochs=1))
    run = prepare_run_dir(suite, tmp_path / "run")  # a folder whose run never trained
    assert main(["run", "--resume", str(run), "--set", "train.lr=0.01"] + RESUME) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["experiments"][0]["train"]["lr"] == 0.01
    rows = [json.loads(s) for s in (run / "digits" / "mlp" / "seed0" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    # once trained, the same --set is a config change and is refused, naming the field
    assert main(["run", "--resume", str(run), "--set", "train.lr=0.02"] + RESUME) == 2
    err = one_line_error(capsys)
    assert "digits/snn/seed0 was trained with another config: train.lr 0.01 -> 0.02" in err
    assert "--allow-config-change train.lr" in err
    assert yaml.safe_load((run / "config.yaml").read_text())["experiments"][0]["train"]["lr"] == 0.01


# ----------------------------------------------------------------------------- config identity

def test_checkpoint_and_final_record_the_config_identity(trained):
    from snnbench import __version__
    from snnbench.experiments.checkpoint import read_metadata
    from snnbench.experiments.identity import section_hash

    seed_dir = trained["done"] / "digits" / "snn" / "seed0"
    final = json.loads((seed_dir / "final.json").read_text())
    meta = read_metadata(seed_dir / "checkpoint.safetensors")
    for ident in (final["config"], meta["config"]):
        assert ident["version"] == __version__
        assert ident["hash"] == section_hash(ident["section"])
        assert ident["section"]["train"]["lr"] == 5e-3 and ident["section"]["model"]["name"] == "snn"
    assert final["config"] == meta["config"]
    mlp = json.loads((trained["done"] / "digits" / "mlp" / "seed0" / "final.json").read_text())
    assert mlp["config"]["section"]["match"]["name"] == "snn" and mlp["config"]["hash"] != final["config"]["hash"]


def test_edited_config_of_a_finished_run_is_refused_naming_the_fields(trained, tmp_path, capsys):
    run = copy_of(trained, "done", tmp_path)
    before = (run / "results.json").read_text()
    edit_config(run, lambda r: r["experiments"][0]["models"][0]["kwargs"].update(encoder="poisson"))
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    err = one_line_error(capsys)
    assert "digits/snn/seed0 was trained with another config: model.kwargs.encoder 'bernoulli' -> 'poisson'" in err
    assert (run / "results.json").read_text() == before


def test_edited_config_of_an_unfinished_run_is_refused_before_any_model_trains(trained, tmp_path, capsys):
    run = copy_of(trained, "half", tmp_path)
    ckpts = {m: (run / "digits" / m / "seed0" / "checkpoint.safetensors").read_bytes() for m in ("snn", "mlp")}
    edit_config(run, lambda r: r["experiments"][0]["train"].update(lr=0.01))
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    err = one_line_error(capsys)
    assert "train.lr 0.005 -> 0.01" in err and "(and 1 more model(s) alike)" in err
    for m, data in ckpts.items():  # neither model trained on: no mixture of old and new
        assert (run / "digits" / m / "seed0" / "checkpoint.safetensors").read_bytes() == data


def test_epochs_raised_on_a_finished_run_trains_the_extra_epochs_when_allowed(trained, tmp_path, capsys):
    run = copy_of(trained, "done", tmp_path)
    seed_dir = run / "digits" / "snn" / "seed0"
    old_weights = load_file(str(seed_dir / "checkpoint.safetensors"))
    edit_config(run, lambda r: r["experiments"][0]["train"].update(epochs=3))
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    assert "train.epochs 2 -> 3" in one_line_error(capsys)

    assert main(["run", "--resume", str(run), "--allow-config-change", "train.epochs", "train.epoch"] + RESUME) == 0
    assert "Note: --allow-config-change train.epoch: no trained model has a changed train.epoch" in capsys.readouterr().out
    rows = [json.loads(s) for s in (seed_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    final = json.loads((seed_dir / "final.json").read_text())
    assert final["epochs_run"] == 3 and final["config"]["section"]["train"]["epochs"] == 3
    assert final["extra"]["config_changes"][0]["fields"] == ["train.epochs"]
    assert final["extra"]["config_changes"][0]["after_epoch"] == 2
    new_weights = load_file(str(seed_dir / "checkpoint.safetensors"))
    model_keys = [k for k in old_weights if k.startswith("model.")]
    assert model_keys and any(not torch.equal(old_weights[k], new_weights[k]) for k in model_keys)
    results = json.loads((run / "results.json").read_text())
    assert {(c["model"], tuple(c["changes"][0]["fields"])) for c in results["config_changes"]} == {
        ("snn", ("train.epochs",)), ("mlp", ("train.epochs",))}
    assert "allowed config change after epoch 2: train.epochs" in (run / "log.txt").read_text()
    # the new config is now the recorded one: a plain resume reads the results back
    assert main(["run", "--resume", str(run)] + RESUME) == 0


def test_rebased_schedule_continues_the_new_cosine_from_the_step_reached():
    model = torch.nn.Linear(3, 2)
    cfg2 = validate_suite(tiny(epochs=2)).experiments[0].train
    cfg3 = cfg2.model_copy(update={"epochs": 3})
    opt = build_optimizer(model, cfg2)
    sched = build_scheduler(opt, cfg2, steps_per_epoch=5)
    for _ in range(10):  # the whole old schedule: lr reaches 0
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    rebase_schedule(model, opt, cfg3, steps_per_epoch=5, done_steps=10)
    # closed form of cosine annealing over 15 steps, at step 10
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-3 * (1 + math.cos(math.pi * 10 / 15)) / 2, rel=1e-9)


# ----------------------------------------------------------------------------- integrity

def _rewrite(path, tensors_fn=None, meta_fn=None, fix_checksum=False):
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        raw = dict(f.metadata())
    meta = json.loads(raw["json"])
    if tensors_fn:
        tensors_fn(tensors)
    if meta_fn:
        meta_fn(meta)
    raw["json"] = json.dumps(meta, indent=2)
    if fix_checksum:
        raw["sha256"] = checksum(tensors, raw["json"])
    path.write_bytes(save(tensors, metadata=raw))


def _model_opt():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    model(torch.ones(2, 4)).sum().backward()
    opt.step()
    sched.step()
    return model, opt, sched


def test_edited_scheduler_entry_is_detected_by_the_checksum(tmp_path):
    model, opt, sched = _model_opt()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt, sched, {"history": []})
    _rewrite(path, meta_fn=lambda m: m["scheduler"].update(T_max=1000))
    with pytest.raises(ValueError, match="corrupt .*checksum mismatch.*delete it to restart"):
        load_checkpoint(path, *_model_opt())


def test_metadata_is_validated_against_its_schema(tmp_path):
    model, opt, sched = _model_opt()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt, sched, {"history": []})
    _rewrite(path, meta_fn=lambda m: m.update(scheduler=[1, 2]), fix_checksum=True)  # checksum valid, schema not
    with pytest.raises(ValueError, match=r"metadata off its schema: scheduler"):
        load_checkpoint(path, *_model_opt())


def test_non_finite_weights_blame_the_checkpoint_not_the_input(tmp_path):
    model, opt, sched = _model_opt()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt, sched, {"history": []})
    _rewrite(path, tensors_fn=lambda t: t["model.weight"].view(-1)[:2].fill_(float("nan")), fix_checksum=True)
    with pytest.raises(ValueError, match=r"c.safetensors' is corrupt .*tensor model.weight holds NaN") as err:
        load_checkpoint(path, *_model_opt())
    assert "x_seq" not in str(err.value)


def test_a_checkpoint_without_checksum_or_of_another_model_is_refused(trained, tmp_path, capsys):
    run = copy_of(trained, "half", tmp_path)
    ckpt = run / "digits" / "snn" / "seed0" / "checkpoint.safetensors"
    tensors = load_file(str(ckpt))
    from safetensors import safe_open

    with safe_open(str(ckpt), framework="pt") as f:
        raw = dict(f.metadata())
    ckpt.write_bytes(save(tensors, metadata={"json": raw["json"]}))
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    assert "carries no checksum" in one_line_error(capsys)
    # a valid checkpoint of the mlp copied over the snn's is named as such
    shutil.copy(run / "digits" / "mlp" / "seed0" / "checkpoint.safetensors", ckpt)
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    assert "was trained with another config" in one_line_error(capsys)


def test_corrupt_final_json_is_reported(trained, tmp_path, capsys):
    run = copy_of(trained, "done", tmp_path)
    (run / "digits" / "mlp" / "seed0" / "final.json").write_text('{"experiment": ')
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    assert "final.json' is corrupt" in one_line_error(capsys)


# ----------------------------------------------------------------------------- one-line errors

def test_unparsable_config_on_resume_and_report(trained, tmp_path, capsys):
    run = copy_of(trained, "done", tmp_path)
    (run / "config.yaml").write_text("name: [unclosed\nseeds: {\n")
    for argv in (["run", "--resume", str(run)] + RESUME, ["report", str(run), "--no-progress"]):
        assert main(argv) == 2
        err = one_line_error(capsys)
        assert f"config file '{run / 'config.yaml'}' is not valid" in err and "fix the file" in err
    with pytest.raises(Exception):  # --debug shows the traceback instead
        main(["--debug", "run", "--resume", str(run)] + RESUME)
    with pytest.raises(Exception):
        main(["report", str(run), "--debug"])


def test_out_naming_a_file_and_resume_of_a_missing_folder(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    assert main(["run", write_config(tmp_path, tiny()), "--out", str(f)] + RESUME) == 2
    assert "is a file, not a folder" in one_line_error(capsys)
    assert f.read_text() == "keep"
    assert main(["run", "--resume", str(tmp_path / "nope")] + RESUME) == 2
    assert "does not exist" in one_line_error(capsys)


def test_non_utf8_config_names_the_file(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert main(["run", str(path), "--out", str(tmp_path / "run")] + RESUME) == 2
    err = one_line_error(capsys)
    assert f"config file '{path}' is not UTF-8 text" in err and "save it as UTF-8" in err


# ----------------------------------------------------------------------------- the lock

def _hold_lock(run):
    code = ("import sys, time; from snnbench.experiments.lock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_and_a_dead_holder_is_taken_over(trained, tmp_path, capsys):
    run = copy_of(trained, "half", tmp_path)
    holder = _hold_lock(run)
    try:
        assert main(["run", "--resume", str(run)] + RESUME) == 2
        err = one_line_error(capsys)
        assert f"is in use by process {holder.pid} on" in err and "wait for it to finish" in err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".lock").read_text().startswith(f"process {holder.pid} ")  # left behind by kill -9
    (run / "digits" / "snn" / "seed0" / ".metrics.jsonl.abcd1234.tmp").write_text("torn")
    assert main(["run", "--resume", str(run)] + RESUME) == 0
    out = capsys.readouterr().out
    assert "Removed" in out and ".metrics.jsonl.abcd1234.tmp" in out
    assert f"Took over the lock of process {holder.pid} on" in out and "no longer running" in out
    assert not list(run.rglob("*.tmp"))
    assert (run / ".lock").read_text() == ""  # released cleanly


def test_lock_in_process_names_our_pid_and_is_released(tmp_path):
    with RunLock(tmp_path) as lock:
        assert lock.held
        with pytest.raises(RunFolderBusy, match=f"in use by process {os.getpid()} on"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):
        pass


def test_a_finished_stdp_cell_is_not_read_back_under_an_edited_config(tmp_path, capsys):
    import snnbench.experiments.stdp_runner as stdp
    from snnbench.experiments.run_folder import check_run_folder

    raw = {"name": "g", "kind": "stdp", "seeds": [0],
           "stdp": {"mode": "grid", "cells": ["poisson/lif/stdp"], "n_neurons": 8, "epochs": 1}}
    suite = validate_suite(raw)
    run = prepare_run_dir(suite, tmp_path / "run")
    (name, cfg), = stdp.build_stdp_configs(raw["stdp"], [0])
    cell = run / name / "seed0"  # a finished cell as run_diehl_cook leaves it
    cell.mkdir(parents=True)
    (cell / "config.json").write_text(json.dumps(cfg.model_dump(), indent=2))
    (cell / "metrics.json").write_text("{}")
    assert check_run_folder(suite, run) == {}
    edit_config(run, lambda r: r["stdp"].update(nu_post=0.05))
    assert main(["run", "--resume", str(run)] + RESUME) == 2
    err = one_line_error(capsys)
    assert f"{name}/seed0 was trained with another config: stdp.nu_post" in err and "-> 0.05" in err
    assert check_run_folder(validate_suite(yaml.safe_load((run / "config.yaml").read_text())), run,
                            ["stdp.nu_post"]) == {f"{name}/seed0": ["stdp.nu_post"]}


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys):
    import snnbench.cli as cli

    def bug(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "_cmd_list", bug)
    assert main(["list"]) == 2
    err = one_line_error(capsys)
    assert "unexpected RuntimeError: something broke (rerun with --debug" in err
    with pytest.raises(RuntimeError, match="something broke"):
        main(["--debug", "list"])
    with pytest.raises(RuntimeError, match="something broke"):
        main(["list", "--debug"])
