import json

import pytest
import torch

from snnbench.experiments.checkpoint import (
    atomic_write_text,
    load_checkpoint,
    load_tensors,
    save_checkpoint,
    save_tensors,
)


def _model_and_opt(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    return model, opt, sched


def _step(model, opt, sched, x):
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()


def test_checkpoint_round_trip_continues_identically(tmp_path):
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1))
    model, opt, sched = _model_and_opt()
    for _ in range(3):
        _step(model, opt, sched, x)
    save_checkpoint(tmp_path / "c.safetensors", model, opt, sched, {"epoch": 3, "history": [1, 2]})

    model2, opt2, sched2 = _model_and_opt(seed=99)  # different init: everything must come from the file
    meta, best = load_checkpoint(tmp_path / "c.safetensors", model2, opt2, sched2)
    assert meta["epoch"] == 3 and meta["history"] == [1, 2] and best is None
    for _ in range(2):
        _step(model, opt, sched, x)
        _step(model2, opt2, sched2, x)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_best_state_is_saved_separately(tmp_path):
    model, opt, sched = _model_and_opt()
    best = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "c.safetensors", model, opt, None, {}, best_state=best)
    _, loaded = load_checkpoint(tmp_path / "c.safetensors", model, opt)
    assert loaded is not None and all(torch.equal(loaded[k], best[k]) for k in best)


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    path = tmp_path / "c.safetensors"
    save_tensors(path, {"a": torch.ones(3)}, {"k": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_tensors(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tensors(tmp_path / "missing.safetensors")


def test_checkpoint_of_other_model_is_rejected(tmp_path):
    model, opt, _ = _model_and_opt()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, None, {})
    other = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(tmp_path / "c.safetensors", other)


def test_atomic_write_leaves_old_file_when_writer_fails(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write_text(path, json.dumps({"v": 1}))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, json.dumps({"v": 2}))
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left behind


def test_atomic_files_get_normal_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    atomic_write_text(tmp_path / "r.txt", "x")
    assert stat.S_IMODE((tmp_path / "r.txt").stat().st_mode) == 0o666 & ~mask
