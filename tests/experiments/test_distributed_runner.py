"""A run folder trained by 2 DDP processes resumes under 1 process and back, and ends
with the figures of a 1-process run (same global batch: the same gradients, so the same
training up to float32 rounding)."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from snnbench.cli import main
from snnbench.experiments.config import validate_suite
from snnbench.experiments.distributed import strip_nproc
from snnbench.experiments.runner import prepare_run_dir, run_suite

EPOCHS = 3


def _suite(name: str = "tiny"):
    return validate_suite({
        "name": name, "seeds": [0],
        "experiments": [{
            "name": "digits", "data": {"name": "digits", "val_fraction": 0.1},
            "models": [{"name": "snn", "type": "snn_ff", "hidden": [16],
                        "kwargs": {"encoder": "direct", "num_steps": 4, "readout": "mean_membrane"}}],
            "train": {"epochs": EPOCHS, "batch_size": 64, "lr": 5e-3, "schedule": "cosine"},
        }],
    })


def _worker(rank: int, tmp: str, run_dir: str) -> None:
    """Epoch 1 on 2 processes, epoch 2 on rank 0 alone (no process group), the rest on 2
    processes again: one start of the 2 processes for all three phases."""
    from pathlib import Path

    torch.set_num_threads(1)
    tmp, run_dir = Path(tmp), Path(run_dir)
    for phase, stop in (("a", 1), ("b", 2), ("c", None)):
        if phase == "b":
            if rank == 0:
                run_suite(_suite(), run_dir, progress=False, stop_after_epochs=stop)
                (tmp / "phase-b-done").touch()
            while not (tmp / "phase-b-done").exists():
                time.sleep(0.05)
            continue
        dist.init_process_group("gloo", init_method=f"file://{tmp / ('init-' + phase)}", rank=rank, world_size=2)
        try:
            run_suite(_suite(), run_dir, progress=False, stop_after_epochs=stop)
            if phase == "a" and rank == 0:
                (tmp / "after-a.json").write_text(json.dumps(sorted(p.name for p in run_dir.iterdir())))
                (tmp / "after-a-history").write_text((run_dir / "digits/snn/seed0/metrics.jsonl").read_text())
            dist.barrier()
        finally:
            dist.destroy_process_group()


def _history(run_dir):
    lines = (run_dir / "digits" / "snn" / "seed0" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_ddp_checkpoint_resumes_under_another_world_size(tmp_path):
    torch.set_num_threads(1)
    mixed = prepare_run_dir(_suite(), tmp_path / "mixed")
    mp.start_processes(_worker, args=(str(tmp_path), str(mixed)), nprocs=2, start_method="spawn")
    seed_dir = mixed / "digits" / "snn" / "seed0"
    # after epoch 1 on 2 processes: rank 0 wrote the folder, no result yet
    assert json.loads((tmp_path / "after-a.json").read_text()) == ["config.yaml", "digits", "log.txt"]
    assert len((tmp_path / "after-a-history").read_text().splitlines()) == 1
    straight = prepare_run_dir(_suite(), tmp_path / "straight")
    run_suite(_suite(), straight, progress=False)                # 1 process throughout

    got, want = _history(mixed), _history(straight)
    assert len(got) == len(want) == EPOCHS
    for g, w in zip(got, want):
        assert g["train_loss"] == pytest.approx(w["train_loss"], rel=1e-4)
        assert g["val_loss"] == pytest.approx(w["val_loss"], rel=1e-4)
        assert g["lr"] == pytest.approx(w["lr"], rel=1e-9, abs=1e-12)  # one schedule step per global batch
    final_g = json.loads((seed_dir / "final.json").read_text())
    final_w = json.loads((straight / "digits" / "snn" / "seed0" / "final.json").read_text())
    assert final_g["extra"]["test_loss"] == pytest.approx(final_w["extra"]["test_loss"], rel=1e-4)
    agree = sum(a == b for a, b in zip(final_g["extra"]["predictions"], final_w["extra"]["predictions"]))
    assert agree >= len(final_w["extra"]["predictions"]) - 2
    assert (mixed / "results.json").is_file()


def test_nproc_is_removed_from_the_command_each_process_runs():
    assert strip_nproc(["run", "x.yaml", "--nproc", "2", "--out", "o"]) == ["run", "x.yaml", "--out", "o"]
    assert strip_nproc(["run", "--nproc=4", "--resume", "r"]) == ["run", "--resume", "r"]


def test_nproc_must_be_positive(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert main(["run", "quickstart", "--nproc", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--nproc must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_odd_global_batch_is_refused_before_training(tmp_path):
    """Batch 63 cannot be split over 2 processes: a one-line error naming the fix."""
    from snnbench.learning.distributed import World, check_batch_size

    with pytest.raises(ValueError, match="train.batch_size=63 must be a multiple"):
        check_batch_size(63, World(1, 2))


@pytest.mark.slow
def test_cli_nproc_two_matches_one_process(tmp_path):
    """End to end through torchrun's launcher (about 30 s): run by hand with -m slow."""
    import yaml

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(_suite().model_dump(mode="json")))
    assert main(["run", str(cfg), "--out", str(tmp_path / "one"), "--no-report", "--no-progress"]) == 0
    os.environ.pop("WORLD_SIZE", None)
    assert main(["run", str(cfg), "--out", str(tmp_path / "two"), "--no-report", "--no-progress", "--nproc", "2"]) == 0
    for g, w in zip(_history(tmp_path / "two"), _history(tmp_path / "one")):
        assert g["train_loss"] == pytest.approx(w["train_loss"], rel=1e-4)
