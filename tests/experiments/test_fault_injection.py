"""Fault injection on a short real run (digits, an SNN and its matched MLP, 2 epochs).

A forked child runs ``snnbench run`` and sends itself SIGKILL (kill -9: no handler, no
cleanup) at a chosen event: an optimizer step (during an epoch), half-way through writing a
file or just before its rename (checkpoint, metrics, final.json, results, config.yaml).
Events are numbered by an uninterrupted reference run, and kill points are drawn at random
from them, one in each category first. After each kill the run is resumed (or restarted,
when the kill came before config.yaml existed) and must end with exactly the reference's
metrics, predictions and weights, and no temporary file left. Also: 100 random single-bit
flips of a checkpoint all detected, and concurrent starts and resumes on one folder.

CI runs 5 kill points (drawn with seed 0); the 20-point version (20 distinct points drawn
with seed 1, in four tests of 5) is marked slow:
``python -m pytest tests/experiments/test_fault_injection.py -m slow``.
"""

import io
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from snnbench import _files
from snnbench.cli import main
from snnbench.experiments import runner
from snnbench.experiments.checkpoint import load_checkpoint
from snnbench.experiments.config import validate_suite

from _suites import tiny_suite  # tests/experiments/_suites.py

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux",
                                reason="fault injection forks the test process (Linux)")

FLAGS = ["--no-progress", "--no-report"]
MODELS = ("snn", "mlp")


def tiny() -> dict:
    return tiny_suite("fault")


class Injector:
    """Counts events and kills the process (SIGKILL) at event ``kill_at``."""

    def __init__(self, kill_at: int | None = None, step_sleep: float = 0.0) -> None:
        self.events: list[str] = []
        self.kill_at = kill_at
        self.step_sleep = step_sleep

    def tick(self, kind: str) -> bool:
        self.events.append(kind)
        return len(self.events) - 1 == self.kill_at

    @staticmethod
    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def install(self, setattr) -> None:
        orig_write = _files.atomic_write
        orig_step = torch.optim.Adam.step
        inj = self

        def atomic_write(path, write):
            name = Path(path).name
            buf = io.BytesIO()
            write(buf)
            data = buf.getvalue()

            def hooked(f):
                if inj.tick(f"mid:{name}"):  # a torn temporary file
                    f.write(data[: len(data) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                    inj.die()
                f.write(data)
                if inj.tick(f"rename:{name}"):  # complete, never renamed
                    f.flush()
                    os.fsync(f.fileno())
                    inj.die()

            orig_write(path, hooked)

        def step(opt, *a, **k):
            if inj.tick("epoch"):
                inj.die()
            if inj.step_sleep:
                time.sleep(inj.step_sleep)
            return orig_step(opt, *a, **k)

        setattr(_files, "atomic_write", atomic_write)
        setattr(torch.optim.Adam, "step", step)


def category(event: str) -> str:
    if event == "epoch":
        return "epoch"
    return {"checkpoint.safetensors": "checkpoint", "final.json": "final"}.get(event.split(":", 1)[1], "other")


def pick_kill_points(events: list[str], n: int, seed: int) -> list[int]:
    """``n`` distinct event indices: one during an epoch, one in a checkpoint write, one in a
    final.json write, the rest uniformly from all events."""
    rng = random.Random(seed)
    chosen: list[int] = []
    for cat in ("epoch", "checkpoint", "final"):
        chosen.append(rng.choice([i for i, e in enumerate(events) if category(e) == cat]))
    rest = [i for i in range(len(events)) if i not in chosen]
    chosen += rng.sample(rest, n - len(chosen))
    return chosen[:n]


def fork_run(argv: list[str], injector: Injector | None = None, stderr: Path | None = None) -> int:
    """Run ``snnbench`` in a forked child (its error messages into ``stderr``); return its pid."""
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        code = 3
        try:
            if stderr is not None:
                sys.stderr = open(stderr, "w", buffering=1)
            torch.set_num_threads(1)
            if injector is not None:
                injector.install(setattr)
            code = main(argv)
        finally:
            os._exit(code)
    return pid


def wait(pid: int, timeout: float = 180.0) -> int:
    """The child's exit code, or -signal."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish within {timeout} s")


def snapshot(run: Path) -> dict:
    """Everything a run produced that must not depend on interruptions (timings dropped)."""
    out: dict = {}
    for m in MODELS:
        d = run / "digits" / m / "seed0"
        final = json.loads((d / "final.json").read_text())
        final.pop("train_seconds")
        rows = [json.loads(s) for s in (d / "metrics.jsonl").read_text().splitlines()]
        for r in rows:
            r.pop("seconds")
        tensors = load_file(str(d / "checkpoint.safetensors"))
        out[m] = {"final": final, "rows": rows, "tensors": {k: v.tolist() for k, v in tensors.items()}}
    results = json.loads((run / "results.json").read_text())
    for r in results["rows"]:
        r.pop("train_seconds_mean")
    out["results"] = results
    out["results_md_lines"] = len((run / "results.md").read_text().splitlines())
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run with every event counted."""
    base = tmp_path_factory.mktemp("fault")
    cfg = base / "fault.yaml"
    cfg.write_text(yaml.safe_dump(tiny(), sort_keys=False))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    inj = Injector()
    inj.install(mp.setattr)
    try:
        assert main(["run", str(cfg), "--out", str(base / "ref")] + FLAGS) == 0
    finally:
        mp.undo()
        torch.set_num_threads(n)
    return {"cfg": str(cfg), "run": base / "ref", "events": inj.events, "snapshot": snapshot(base / "ref")}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def kill_and_resume(reference, tmp_path, kill_at: int) -> None:
    out = tmp_path / f"kill{kill_at}"
    event = reference["events"][kill_at]
    code = wait(fork_run(["run", reference["cfg"], "--out", str(out)] + FLAGS, Injector(kill_at)))
    assert code == -signal.SIGKILL, f"event {kill_at} ({event}): child ended with {code}, not kill -9"
    if (out / "config.yaml").is_file():
        assert main(["run", "--resume", str(out)] + FLAGS) == 0, event
    else:  # killed while writing config.yaml: the same command starts again
        assert main(["run", reference["cfg"], "--out", str(out)] + FLAGS) == 0, event
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], event
    assert snapshot(out) == reference["snapshot"], f"kill at event {kill_at} ({event}) changed the results"


def test_reference_run_has_every_kind_of_kill_point(reference):
    events = reference["events"]
    assert events.count("epoch") == 2 * 2 * 6  # 2 models x 2 epochs x ceil(1293 / 256) steps
    for name in ("checkpoint.safetensors", "final.json", "metrics.jsonl", "config.yaml", "results.json"):
        assert f"mid:{name}" in events and f"rename:{name}" in events


def test_kill_at_random_points_resumes_to_identical_results(reference, tmp_path, capsys):
    points = pick_kill_points(reference["events"], 5, seed=0)
    assert {category(reference["events"][i]) for i in points} >= {"epoch", "checkpoint", "final"}
    for kill_at in points:
        kill_and_resume(reference, tmp_path, kill_at)


def test_kill_between_the_checkpoint_and_the_metrics_of_an_epoch(reference, tmp_path):
    # found by the 20-point run: the checkpoint of the last epoch is written, metrics.jsonl not yet
    events = reference["events"]
    kill_and_resume(reference, tmp_path, max(i for i, e in enumerate(events) if e == "rename:metrics.jsonl"))


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
def test_kill_at_20_random_points_resumes_to_identical_results(reference, tmp_path, chunk):
    points = pick_kill_points(reference["events"], 20, seed=1)  # 20 distinct points, 5 per test
    for kill_at in points[5 * chunk: 5 * chunk + 5]:
        kill_and_resume(reference, tmp_path, kill_at)


def test_100_random_single_bit_flips_of_a_checkpoint_are_all_detected(reference, tmp_path):
    src = reference["run"] / "digits" / "snn" / "seed0" / "checkpoint.safetensors"
    data = src.read_bytes()
    suite = validate_suite(tiny())
    exp = suite.experiments[0]
    info = runner._load_split_cached({}, exp, 0).info
    model, _ = runner.build_experiment_model(exp, exp.models[0], info)
    load_checkpoint(src, model)  # the intact file loads
    rng = random.Random(0)
    path = tmp_path / "flipped.safetensors"
    missed = []
    for _ in range(100):
        offset, bit = rng.randrange(len(data)), rng.randrange(8)
        flipped = bytearray(data)
        flipped[offset] ^= 1 << bit
        path.write_bytes(bytes(flipped))
        try:
            load_checkpoint(path, model)
            missed.append((offset, bit))
        except ValueError as err:
            assert "corrupt" in str(err) and "delete it to restart" in str(err), str(err)
    assert not missed, f"undetected flips (offset, bit): {missed}"


def test_a_flipped_bit_stops_resume_with_the_corrupt_message(reference, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference["run"], run)
    seed_dir = run / "digits" / "snn" / "seed0"
    (seed_dir / "final.json").unlink()
    ckpt = seed_dir / "checkpoint.safetensors"
    data = bytearray(ckpt.read_bytes())
    data[len(data) - 7] ^= 0x10  # a weight byte
    ckpt.write_bytes(bytes(data))
    assert main(["run", "--resume", str(run)] + FLAGS) == 2
    err = capsys.readouterr().err
    assert f"checkpoint '{ckpt}' is corrupt" in err and "checksum mismatch" in err
    assert not (seed_dir / "final.json").exists()


def test_two_concurrent_starts_on_one_folder(reference, tmp_path, capsys):
    out = tmp_path / "same"
    argv = ["run", reference["cfg"], "--out", str(out)] + FLAGS
    slow = Injector(step_sleep=0.05)  # both are surely running at the same time
    a = fork_run(argv, slow, tmp_path / "a.err")
    b = fork_run(argv, slow, tmp_path / "b.err")
    codes = {a: wait(a), b: wait(b)}
    assert sorted(codes.values()) == [0, 2]  # exactly one trains; the other is refused
    winner = next(p for p, c in codes.items() if c == 0)
    err = (tmp_path / ("b.err" if winner == a else "a.err")).read_text()
    assert f"is in use by process {winner} on" in err, err
    assert snapshot(out) == reference["snapshot"]


def test_resume_while_the_run_is_training_is_refused_naming_its_pid(reference, tmp_path, capsys):
    out = tmp_path / "busy"
    pid = fork_run(["run", reference["cfg"], "--out", str(out)] + FLAGS, Injector(step_sleep=0.05))
    deadline = time.monotonic() + 120
    while not (out / "digits" / "snn" / "seed0" / "checkpoint.safetensors").exists():
        assert time.monotonic() < deadline, "the run never wrote its first checkpoint"
        time.sleep(0.02)
    assert main(["run", "--resume", str(out)] + FLAGS) == 2
    err = capsys.readouterr().err
    assert f"is in use by process {pid} on" in err
    assert wait(pid) == 0
    assert snapshot(out) == reference["snapshot"]
