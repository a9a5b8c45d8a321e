"""Scale-out figures for docs/scaling.md: DDP speed-up and accuracy, a Ray sweep against
the same sweep run serially, and kill -9 of a DDP rank or a Ray worker followed by resume.

    python benchmarks/scaling.py all --write            # the doc's figures (targets: 12 epochs, 3 seeds)
    python benchmarks/scaling.py ddp --epochs 2 --seeds 1   # a quick look, prints only

Every figure goes through the command line a user runs (``snnbench run ... --nproc 2``,
``snnbench sweep ... --workers 2`` / ``--serial``), one thread per process
(OMP_NUM_THREADS=1). The machine load (``uptime``) is recorded beside every timing;
timings taken while other work shares the cores are not comparable to a quiet machine.
Working folders go to .bench/scaling/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".bench" / "scaling"
DOC = ROOT / "docs" / "scaling.md"
SNN = ("[{name: snn, type: snn_ff, hidden: [512], kwargs: {encoder: bernoulli, num_steps: 25, "
       "readout: mean_membrane}}]")
PRESET = "mnist5k-rate"


def uptime() -> str:
    """The 1, 5 and 15-minute load averages, as ``uptime`` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def env1() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def snnbench(*args: str) -> list[str]:
    return [sys.executable, "-m", "snnbench", *args]


def measured(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh helper process; wall seconds and the peak RSS (MiB) of its
    largest descendant (RUSAGE_CHILDREN of the helper: torchrun's workers included)."""
    helper = [sys.executable, __file__, "_measure", "--", *cmd]
    out = subprocess.run(helper, env=env1(), capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(cmd: list[str]) -> None:
    start = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rc": rc, "wall_s": wall, "peak_rss_mib": peak}))
    sys.exit(rc)


def run_figures(run_dir: Path) -> dict:
    """Test accuracy, predictions and per-epoch figures of the one model/seed of a run."""
    seed_dir = next(run_dir.glob("*/snn/seed*"))
    final = json.loads((seed_dir / "final.json").read_text())
    hist = [json.loads(line) for line in (seed_dir / "metrics.jsonl").read_text().splitlines()]
    return {"test_accuracy": final["test_accuracy"], "predictions": final["extra"]["predictions"],
            "test_loss": final["extra"]["test_loss"],
            "history": [(h["train_loss"], h["train_accuracy"], h.get("val_accuracy")) for h in hist],
            "train_seconds": sum(h["seconds"] for h in hist), "epochs": len(hist)}


def n_train() -> int:
    from snnbench.data import load_dataset

    return len(load_dataset("mnist5k", val_fraction=0.1, seed=0).train)


def ddp_run_args(out: Path, epochs: int, seed: int, nproc: int) -> list[str]:
    args = ["run", PRESET, "--set", f"models={SNN}", "--set", f"train.epochs={epochs}", "--set", f"seeds=[{seed}]",
            "--out", str(out), "--no-report", "--no-progress"]
    return args + (["--nproc", str(nproc)] if nproc > 1 else [])


# ----------------------------------------------------------------------------- DDP


def bench_ddp(epochs: int, seeds: int) -> dict:
    n = n_train()
    rows = []
    for seed in range(seeds):
        for nproc in (1, 2):
            out = WORK / f"ddp-{nproc}p-s{seed}"
            shutil.rmtree(out, ignore_errors=True)
            load = uptime()
            m = measured(snnbench(*ddp_run_args(out, epochs, seed, nproc)))
            f = run_figures(out)
            rows.append({"seed": seed, "nproc": nproc, "samples_per_s": n * f["epochs"] / f["train_seconds"],
                         "test_accuracy": f["test_accuracy"], "wall_s": m["wall_s"],
                         "peak_rss_mib": m["peak_rss_mib"], "load_before": load, "load_after": uptime()})
            print(json.dumps(rows[-1]), flush=True)
    one = [r for r in rows if r["nproc"] == 1]
    two = [r for r in rows if r["nproc"] == 2]
    return {"epochs": epochs, "seeds": seeds, "rows": rows,
            "ratio": statistics.fmean(b["samples_per_s"] / a["samples_per_s"] for a, b in zip(one, two)),
            "acc_1": 100 * statistics.fmean(r["test_accuracy"] for r in one),
            "acc_2": 100 * statistics.fmean(r["test_accuracy"] for r in two)}


# ----------------------------------------------------------------------------- sweep


def sweep_args(out: Path, epochs: int, mode: list[str]) -> list[str]:
    return ["sweep", PRESET, "--set", f"models={SNN}", "--set", f"train.epochs={epochs}",
            "--grid", "train.lr=1e-3,2e-3", "--grid", "models.0.hidden=[128],[256]", "--seeds", "2",
            "--out", str(out), "--no-report", "--no-progress", *mode]


def sweep_figures(sweep_dir: Path) -> dict:
    return {str(p.relative_to(sweep_dir)): run_figures(p) for p in sorted(sweep_dir.glob("*/seed*"))}


def same_figures(a: dict, b: dict) -> bool:
    keys = ("test_accuracy", "predictions", "test_loss")
    return a.keys() == b.keys() and all(
        all(a[k][x] == b[k][x] for x in keys) and [h for h in a[k]["history"]] == [h for h in b[k]["history"]]
        for k in a)


def bench_sweep(epochs: int) -> dict:
    out = {}
    for name, mode in (("serial", ["--serial"]), ("ray", ["--workers", "2"])):
        d = WORK / f"sweep-{name}"
        shutil.rmtree(d, ignore_errors=True)
        load = uptime()
        m = measured(snnbench(*sweep_args(d, epochs, mode)))
        out[name] = {"wall_s": m["wall_s"], "load_before": load, "load_after": uptime()}
        print(name, json.dumps(out[name]), flush=True)
    out["ratio"] = out["ray"]["wall_s"] / out["serial"]["wall_s"]
    out["identical"] = same_figures(sweep_figures(WORK / "sweep-serial"), sweep_figures(WORK / "sweep-ray"))
    out["epochs"] = epochs
    return out


# ----------------------------------------------------------------------------- kill -9


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def _wait_for(path_glob: tuple[Path, str], lines: int, proc: subprocess.Popen, timeout: float = 3600) -> None:
    base, pattern = path_glob
    end = time.time() + timeout
    while time.time() < end:
        for p in base.glob(pattern):
            if len(p.read_text().splitlines()) >= lines:
                return
        if proc.poll() is not None:
            raise SystemExit("the run ended before it could be killed; use more epochs")
        time.sleep(0.2)
    raise SystemExit("timed out waiting for the first epoch")


def bench_kill(epochs: int, sweep_epochs: int) -> dict:
    """DDP: a 2-process run whose rank 1 is killed (-9) after epoch 1, then --resume, against
    the uninterrupted 2-process run of bench_ddp (seed 0). Ray: a sweep whose first trial's
    worker is killed after epoch 1 (Ray reruns the task, which resumes its folder),
    against the serial sweep of bench_sweep."""
    res: dict = {"load_before": uptime()}
    # DDP rank
    straight = WORK / "ddp-2p-s0"
    if not (straight / "results.json").is_file() or run_figures(straight)["epochs"] != epochs:
        shutil.rmtree(straight, ignore_errors=True)
        measured(snnbench(*ddp_run_args(straight, epochs, 0, 2)))
    killed = WORK / "kill-ddp"
    shutil.rmtree(killed, ignore_errors=True)
    proc = subprocess.Popen(snnbench(*ddp_run_args(killed, epochs, 0, 2)), env=env1(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for((killed, "*/snn/seed0/metrics.jsonl"), 1, proc)
    victim = next(p for p in _children(proc.pid) if _environ(p).get("LOCAL_RANK") == "1")
    os.kill(victim, signal.SIGKILL)
    res["ddp_exit_after_kill"] = proc.wait()
    res["ddp_epochs_before_resume"] = len((next(killed.glob("*/snn/seed0")) / "metrics.jsonl").read_text().splitlines())
    measured(snnbench("run", "--resume", str(killed), "--nproc", "2", "--no-report", "--no-progress"))
    a, b = run_figures(straight), run_figures(killed)
    res["ddp_identical"] = all(a[k] == b[k] for k in ("test_accuracy", "predictions", "test_loss", "history"))
    res["ddp_test_accuracy"] = (a["test_accuracy"], b["test_accuracy"])
    # Ray worker
    ref = WORK / "sweep-serial"
    # the serial sweep of bench_sweep, unless it trained another number of epochs
    if not (ref / "results.json").is_file() or any(f["epochs"] != sweep_epochs for f in sweep_figures(ref).values()):
        shutil.rmtree(ref, ignore_errors=True)
        measured(snnbench(*sweep_args(ref, sweep_epochs, ["--serial"])))
    d = WORK / "kill-ray"
    shutil.rmtree(d, ignore_errors=True)
    proc = subprocess.Popen(snnbench(*sweep_args(d, sweep_epochs, ["--workers", "2"])), env=env1(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for((d, "*/seed*/*/snn/seed*/metrics.jsonl"), 1, proc)
    # only this sweep's own workers (descendants of its driver), busy in a trial
    victims = [v for v in _descendants(proc.pid) if _cmdline(v).startswith(b"ray::run_trial")]
    if not victims:
        raise SystemExit("found no Ray worker running a trial")
    os.kill(victims[0], signal.SIGKILL)
    res["ray_exit"] = proc.wait()
    res["ray_identical"] = same_figures(sweep_figures(ref), sweep_figures(d))
    res["ray_resumed_trials"] = sum("resuming after epoch" in p.read_text() for p in d.glob("*/seed*/log.txt"))
    res["load_after"] = uptime()
    return res


# ----------------------------------------------------------------------------- doc


def render(r: dict, commands: str) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
             f"torch {__import__('torch').__version__}; load = 1/5/15-min load average (`uptime`) before and "
             "after each measurement.", ""]
    if "ddp" in r:
        d = r["ddp"]
        lines += [f"**DDP**, {PRESET} SNN only (784-512-10, T=25, global batch 64), {d['epochs']} epochs, "
                  f"{d['seeds']} seeds, 1 thread per process:", "",
                  "| seed | processes | train samples/s | test acc. (%) | peak RSS of largest process (MiB) | wall (s) | load before -> after |",
                  "|---:|---:|---:|---:|---:|---:|---|"]
        for x in d["rows"]:
            lines.append(f"| {x['seed']} | {x['nproc']} | {x['samples_per_s']:.1f} | {100 * x['test_accuracy']:.2f} | "
                         f"{x['peak_rss_mib']:.0f} | {x['wall_s']:.0f} | {x['load_before']} -> {x['load_after']} |")
        lines += ["", f"Samples/s ratio 2 processes / 1 process: **{d['ratio']:.2f}** (target >= 1.7); mean test "
                  f"accuracy {d['acc_1']:.2f} % (1 process) vs {d['acc_2']:.2f} % (2 processes), difference "
                  f"{d['acc_2'] - d['acc_1']:+.2f} pp (target within 1 pp).", ""]
    if "sweep" in r:
        s = r["sweep"]
        lines += [f"**Sweep**, 2 x 2 grid (train.lr 1e-3/2e-3 x hidden 128/256) x 2 seeds, {s['epochs']} epochs, "
                  "1 thread per trial:", "",
                  "| mode | wall (s) | load before -> after |", "|---|---:|---|",
                  f"| serial (`--serial`) | {s['serial']['wall_s']:.0f} | {s['serial']['load_before']} -> {s['serial']['load_after']} |",
                  f"| Ray, 2 workers | {s['ray']['wall_s']:.0f} | {s['ray']['load_before']} -> {s['ray']['load_after']} |",
                  "", f"Ray / serial wall time: **{s['ratio']:.2f}** (target <= 0.6, Ray start-up included); per-trial "
                  f"figures (test accuracy, predictions, test loss, every epoch's loss and accuracy) bit-identical: "
                  f"**{'yes' if s['identical'] else 'NO'}**.", ""]
    if "kill" in r:
        k = r["kill"]
        lines += ["**kill -9**: "
                  f"DDP rank 1 killed after epoch 1 (torchrun stopped the run, exit {k['ddp_exit_after_kill']}, "
                  f"{k['ddp_epochs_before_resume']} epoch(s) checkpointed), `--resume --nproc 2`: figures identical to the "
                  f"uninterrupted run: **{'yes' if k['ddp_identical'] else 'NO'}** (test accuracy "
                  f"{100 * k['ddp_test_accuracy'][0]:.2f} / {100 * k['ddp_test_accuracy'][1]:.2f} %). "
                  f"A Ray worker killed in its first trial (Ray reruns the task, which resumes its run folder: "
                  f"{k['ray_resumed_trials']} trial(s) logged 'resuming after epoch'; sweep exit "
                  f"{k['ray_exit']}): per-trial figures identical to the serial sweep: "
                  f"**{'yes' if k['ray_identical'] else 'NO'}**. Load {k['load_before']} -> {k['load_after']}.", ""]
    lines += ["Re-run:", "", "```bash", commands, "```"]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_measure":
        _measure(sys.argv[sys.argv.index("--") + 1:])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["ddp", "sweep", "kill", "all"])
    p.add_argument("--epochs", type=int, default=12, help="epochs of every run (the preset's 12 by default)")
    p.add_argument("--sweep-epochs", type=int, default=2, help="epochs of every sweep trial")
    p.add_argument("--seeds", type=int, default=3, help="DDP seeds")
    p.add_argument("--write", action="store_true", help="write the figures into docs/scaling.md")
    a = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    parts = {"ddp": lambda: bench_ddp(a.epochs, a.seeds), "sweep": lambda: bench_sweep(a.sweep_epochs),
             "kill": lambda: bench_kill(a.epochs, a.sweep_epochs)}
    for name, fn in parts.items():
        if a.what not in (name, "all"):
            continue
        r = {name: fn()}  # each part's section is written as soon as it is measured
        print(json.dumps(r, default=str)[:2000])
        opts = {"ddp": f"--epochs {a.epochs} --seeds {a.seeds}", "sweep": f"--sweep-epochs {a.sweep_epochs}",
                "kill": f"--epochs {a.epochs} --sweep-epochs {a.sweep_epochs}"}[name]
        text = render(r, f"python benchmarks/scaling.py {name} {opts} --write")
        print(text)
        if a.write:
            sys.path.insert(0, str(Path(__file__).parent))
            from docsections import replace_section

            replace_section(DOC, f"scaling-{name}", text, title="Scaling out")


if __name__ == "__main__":
    main()
