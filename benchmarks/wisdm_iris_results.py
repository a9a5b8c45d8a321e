"""Regenerate the WISDM and Iris section of docs/results.md: the ``wisdm`` and ``iris``
presets (population-coded LIF SNN vs a parameter-matched MLP), 3 seeds each, run from the
command line exactly as a user would.

    python benchmarks/wisdm_iris_results.py --data-root DIR   # DIR holds wisdm_v1.1_transformed/
    python benchmarks/wisdm_iris_results.py --doc-only         # rewrite the doc from runs/

WISDM is read from ``--data-root`` (or ``$SNNBENCH_DATA``): the folder holding
``wisdm_v1.1_transformed/WISDM_ar_v1.1_transformed.arff``; iris ships with scikit-learn.
Each task runs as ``snnbench run <preset> --seeds 3 --out runs/wisdm-iris-results/<preset>``
(one torch thread); a task whose run folder holds a finished ``results.json`` is not re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docsections import replace_section  # noqa: E402

from snnbench.experiments.runner import mean_std  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
SECTION = "wisdm-iris-results"
TASKS = ("wisdm", "iris")
COMMAND = "python benchmarks/wisdm_iris_results.py --data-root DIR"


def run_task(name: str, runs: Path, seeds: int, threads: int, data_root: str | None) -> float:
    out = runs / name
    if (out / "results.json").is_file():
        return 0.0
    if (out / "config.yaml").is_file():
        cmd = [sys.executable, "-m", "snnbench.cli", "run", "--resume", str(out)]
    else:
        cmd = [sys.executable, "-m", "snnbench.cli", "run", name, "--seeds", str(seeds), "--out", str(out)]
        if name == "wisdm":
            if not data_root:
                raise SystemExit("wisdm needs its data: pass --data-root DIR (the folder holding "
                                 "wisdm_v1.1_transformed/) or set SNNBENCH_DATA")
            cmd += ["--set", f"data.root={data_root}"]
    cmd += ["--no-progress", "--no-report"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out.parent.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(runs / f"{name}.log", "w") as logf:
        rc = subprocess.call(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit(f"{name}: snnbench run failed (exit {rc}); see {runs / (name + '.log')}")
    (runs / f"{name}.load").write_text(f"{load0:.1f} / {os.getloadavg()[0]:.1f}\n")  # 1-min load before / after
    return time.perf_counter() - t0


def _seed_rows(run: Path, exp: str, model: str) -> list[dict]:
    rows = []
    for seed_dir in sorted((run / exp / model).glob("seed*")):
        final = json.loads((seed_dir / "final.json").read_text())
        hist = [json.loads(line) for line in (seed_dir / "metrics.jsonl").read_text().splitlines() if line]
        rows.append({"test": 100 * final["test_accuracy"], "val": 100 * hist[-1].get("val_accuracy", float("nan")),
                     "train": 100 * hist[-1].get("train_accuracy", float("nan")),
                     "params": final["params"], "seconds": final["train_seconds"]})
    return rows


def _preset(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "src" / "snnbench" / "experiments" / "presets" / f"{name}.yaml").read_text())


def render(runs: Path) -> str:
    lines = [
        "## WISDM and Iris: the `wisdm` and `iris` presets",
        "",
        f"Regenerate with `{COMMAND}` (DIR holds `wisdm_v1.1_transformed/`; `--doc-only` rewrites this "
        "section from the run folders under `runs/wisdm-iris-results/`). Each row: `snnbench run <preset> "
        "--seeds 3`, seeds 0..2, test accuracy at the last epoch, mean +- sample std; validation is the "
        "stratified 10 % of train the runner carves (train/val accuracy at the last epoch are shown so that "
        "any later change is judged on validation, never on test).",
        "",
    ]
    for name in TASKS:
        cfg = _preset(name)
        exp = cfg["experiments"][0]
        snn = exp["models"][0]
        t = exp["train"]
        lines.append(
            f"- `{name}`: {cfg['description']} SNN {snn['type']} hidden {snn['hidden']}, "
            f"T={snn['kwargs']['num_steps']}; {t['epochs']} epochs, batch {t['batch_size']}, Adam lr {t['lr']:g}, "
            f"{t.get('schedule', 'cosine')} schedule, for both models."
        )
    lines += [
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, one torch thread, 2 cores shared "
        f"with other jobs (1-minute load average before / after each task in the first column); generated "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| task | model | params | test acc. (%) | per seed | train acc. (%) | val acc. (%) | train time (s) | SNN - MLP (pp) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name in TASKS:
        run = runs / name
        if not (run / "results.json").is_file():
            lines.append(f"| {name} | (not run) | | | | | | | |")
            continue
        res = {m: _seed_rows(run, name, m) for m in ("snn", "mlp")}
        means = {m: mean_std([r["test"] for r in rs]) for m, rs in res.items()}
        gap = means["snn"][0] - means["mlp"][0]
        load = runs / f"{name}.load"
        label = f"{name} (load {load.read_text().strip()})" if load.is_file() else name
        for m, rs in res.items():
            acc_m, acc_s = means[m]
            per = ", ".join(f"{r['test']:.1f}" for r in rs)
            tr_m, _ = mean_std([r["train"] for r in rs])
            va_m, va_s = mean_std([r["val"] for r in rs])
            tail = f" {gap:+.1f} |" if m == "snn" else " |"
            lines.append(
                f"| {label if m == 'snn' else ''} | {m} | {rs[0]['params']:,} | {acc_m:.1f} +- {acc_s:.1f} | {per} | "
                f"{tr_m:.1f} | {va_m:.1f} +- {va_s:.1f} | {statistics.fmean(r['seconds'] for r in rs):.1f} |{tail}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "wisdm-iris-results")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--data-root", default=os.environ.get("SNNBENCH_DATA"),
                   help="folder holding wisdm_v1.1_transformed/ (default: $SNNBENCH_DATA)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--doc-only", action="store_true", help="only rewrite docs/results.md from the run folders")
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)
    if not args.doc_only:
        for name in args.tasks:
            secs = run_task(name, args.runs, args.seeds, args.threads, args.data_root)
            print(f"{name}: {secs:.0f} s (load {os.getloadavg()[0]:.1f})")
    replace_section(args.doc, SECTION, render(args.runs))
    print(f"wrote the {SECTION} section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
