"""Regenerate the surrogate-gradient section of docs/results.md: every task preset (SNN and
its parameter-matched baseline, same data, epochs and learning rate) over 3 seeds.

    python benchmarks/surrogate_results.py                       # all tasks, 2 at a time
    python benchmarks/surrogate_results.py --tasks digits gunpoint --jobs 1
    python benchmarks/surrogate_results.py --doc-only            # rewrite the doc from runs/
    SNNBENCH_DATA=../shared/data python benchmarks/surrogate_results.py --tasks fsdd

The fsdd task reads the FSDD recordings from the data folder, which is named explicitly
(``$SNNBENCH_DATA`` or ``--data-root``; ``snnbench data fetch fsdd --allow-unverified``
fills the default one); without it the task fails with the loader's message.

Each task runs as ``snnbench run <preset> --seeds N --out <runs>/<preset>`` in its own
process (one torch thread each, so two tasks share a 2-core machine without contention).
A task whose run folder already holds a finished ``results.json`` is not re-run; an
interrupted one is resumed from its checkpoints. The section written into docs/results.md
lies between the markers below and is replaced as a whole; the rest of the file is kept.
The learning rates and sizes in the presets were picked on the validation split (the
``val_accuracy`` column of each run's ``metrics.jsonl``), never on test.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from snnbench.experiments.runner import mean_std

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
BEGIN = "<!-- surrogate-results:begin (written by benchmarks/surrogate_results.py) -->"
END = "<!-- surrogate-results:end -->"
TASKS = (
    "digits", "mnist5k-rate", "mnist5k-latency", "mnist5k-conv",
    "basicmotions", "japanesevowels", "gunpoint", "fsdd",
)

# Peer anchors of issue #3 / design.md section 4: snnTorch 1.0 SNNs and matched ANNs on the
# same canonical splits, 3 seeds, test accuracy at the last epoch (measured by the lead).
ANCHORS: dict[str, dict[str, str]] = {
    "digits": {"snn": "97.3 +- 0.2 (Poisson, 64-256-10, T=25)", "ann": "MLP 97.3 +- 0.2"},
    "mnist5k-rate": {"snn": "90.4 +- 0.4 spike count / 94.3 membrane (784-512-10, T=25)",
                     "ann": "MLP 94.8 +- 0.2"},
    "mnist5k-latency": {"snn": "- (no latency anchor)", "ann": "MLP 94.8 +- 0.2"},
    "mnist5k-conv": {"snn": "- (no conv anchor)", "ann": "CNN 97.2 +- 0.2"},
    "basicmotions": {"snn": "100 +- 0 feed-forward; recurrent 80.8 +- 17", "ann": "GRU 98.3 +- 1.4"},
    "japanesevowels": {"snn": "95.8 +- 0.6", "ann": "GRU 95.4 +- 1.1"},
    "gunpoint": {"snn": "66 +- 3.5 (1-NN: 91.3, the bar)", "ann": "GRU 65 +- 26"},
    "fsdd": {"snn": "96.6 +- 1.3 feed-forward; recurrent 82.4 +- 7", "ann": "GRU 97.8 +- 1.5"},
}
# The number an SNN must reach to be "at least as accurate as the anchor" (the bar). Latency
# coding has no anchor of its own: it is held to the rate-coded membrane-readout anchor.
# The conv SNN's bar is the CNN anchor it should approach; GunPoint's is 1-NN's 91%.
ANCHOR_BAR: dict[str, float] = {
    "digits": 97.3, "mnist5k-rate": 94.3, "mnist5k-latency": 94.3, "mnist5k-conv": 97.2,
    "basicmotions": 100.0, "japanesevowels": 95.8, "gunpoint": 91.0, "fsdd": 96.6,
}


def run_task(task: str, runs: Path, seeds: int, threads: int) -> tuple[str, int, float]:
    """Train one preset into ``runs/task`` in a child process; (task, return code, seconds)."""
    out = runs / task
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if (out / "results.json").is_file():
        return task, 0, 0.0
    if (out / "config.yaml").is_file():
        cmd = [sys.executable, "-m", "snnbench.cli", "run", "--resume", str(out), "--no-progress"]
    else:
        cmd = [sys.executable, "-m", "snnbench.cli", "run", task, "--seeds", str(seeds),
               "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    with open(runs / f"{task}.log", "w") as logf:
        rc = subprocess.call(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT)
    return task, rc, time.perf_counter() - start


def collect(task: str, runs: Path) -> dict[str, Any] | None:
    """Per model of a finished task run: accuracies per seed, params, time, spike rate."""
    import yaml

    run = runs / task
    if not (run / "results.json").is_file():
        return None
    config = yaml.safe_load((run / "config.yaml").read_text())
    exp = config["experiments"][0]
    models = []
    for m in exp["models"]:
        finals = sorted((run / exp["name"] / m["name"]).glob("seed*/final.json"))
        rs = [json.loads(p.read_text()) for p in finals]
        if not rs:
            continue
        acc = [100 * r["test_accuracy"] for r in rs]
        rates = [r["mean_spike_rate"] for r in rs if r["mean_spike_rate"] is not None]
        models.append({
            "name": m["name"], "type": m["type"], "params": rs[0]["params"],
            "acc": acc, "acc_mean": mean_std(acc)[0], "acc_std": mean_std(acc)[1],
            "seconds": statistics.fmean(r["train_seconds"] for r in rs),
            "rate": statistics.fmean(rates) if rates else None,
            "epochs": rs[0]["epochs_run"], "is_snn": m["type"].startswith("snn"),
        })
    return {"task": task, "dataset": exp["data"]["name"], "train": exp["train"],
            "description": config.get("description", ""), "models": models}


def verdict(res: dict[str, Any]) -> str:
    """SNN minus best baseline, and SNN against the anchor bar, in percentage points."""
    snn = next((m for m in res["models"] if m["is_snn"]), None)
    anns = [m for m in res["models"] if not m["is_snn"]]
    if snn is None or not anns:
        return "-"
    ann = max(anns, key=lambda m: m["acc_mean"])
    gap = snn["acc_mean"] - ann["acc_mean"]
    bar = ANCHOR_BAR[res["task"]]
    within = "yes" if gap >= -1.0 else "no"
    beats = "yes" if snn["acc_mean"] >= bar - 1e-9 else "no"
    return (f"{gap:+.1f} pp vs {ann['name']} (within 1 pp: {within}); SNN {snn['acc_mean']:.2f} vs "
            f"anchor bar {bar:g} ({snn['acc_mean'] - bar:+.2f} pp): {beats}")


def render(results: list[dict[str, Any]], seeds: int, command: str) -> str:
    lines = [
        BEGIN,
        "## Surrogate-gradient track: SNN vs parameter-matched ANN",
        "",
        f"Regenerate with `{command}` (from the repository root; about 45 min on 2 busy cores).",
        f"Each row: {seeds} seeds (0..{seeds - 1}), test accuracy of the model at the last epoch, "
        "mean +- sample std; the SNN and its baseline share data, epochs, batch size, "
        "optimizer (Adam, cosine schedule) and learning rate. Learning rates and sizes were "
        "picked on the validation split carved from train (10%, stratified, seeded), never "
        "on test. Baselines are sized by `match` to the SNN's trainable-parameter count "
        "(within 5%). Train time is the mean wall time of the training passes per seed "
        "(one torch thread, two runs sharing a loaded 2-core machine: compare within a "
        "row group only). Spike rate: spikes per hidden neuron per step on the test set.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| task | model | params | test acc. (%) | per seed | epochs | train time (s) "
        "| spike rate | snnTorch anchor | ANN anchor |",
        "|---|---|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for res in results:
        anchor = ANCHORS[res["task"]]
        for i, m in enumerate(res["models"]):
            rate = "-" if m["rate"] is None else f"{m['rate']:.3f}"
            seeds_txt = ", ".join(f"{a:.1f}" for a in m["acc"])
            lines.append(
                f"| {res['task'] if i == 0 else ''} | {m['name']} ({m['type']}) | {m['params']:,} | "
                f"{m['acc_mean']:.1f} +- {m['acc_std']:.1f} | {seeds_txt} | {m['epochs']} | "
                f"{m['seconds']:.0f} | {rate} | {anchor['snn'] if i == 0 else ''} | "
                f"{anchor['ann'] if i == 0 else ''} |"
            )
    lines += ["", "Against the targets (SNN within 1 pp of its matched ANN; SNN at least the "
              "snnTorch anchor, GunPoint >= 91, the conv SNN near the CNN's 97.2):", ""]
    for res in results:
        t = res["train"]
        lines.append(f"- **{res['task']}** ({res['dataset']}; lr {t['lr']:g}, batch {t['batch_size']}, "
                     f"{t['epochs']} epochs): {verdict(res)}. {res['description']}")
    lines += ["", "Preset files: `src/snnbench/experiments/presets/<task>.yaml`; run one with "
              "`snnbench run <task> --seeds 3`.", END]
    return "\n".join(lines) + "\n"


def write_doc(section: str, doc: Path) -> None:
    """Replace the marked section of ``doc`` (or create the file with it)."""
    if doc.is_file():
        text = doc.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            text = head + section.rstrip("\n") + tail
        else:
            text = text.rstrip("\n") + "\n\n" + section
    else:
        text = "# snnbench results\n\n" + section
    tmp = doc.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(doc)  # atomic: a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--runs", type=Path, default=None,
                   help="folder holding one run folder per task (default runs/surrogate-results, "
                        "with a -s<N> suffix when --seeds is not 3, so runs of different seed "
                        "counts never mix)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2, help="tasks trained at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per task")
    p.add_argument("--doc", type=Path, default=DOC)
    p.add_argument("--doc-only", action="store_true", help="only rewrite the doc from --runs")
    p.add_argument("--data-root", type=Path, default=None,
                   help="data folder for file-based sets (fsdd), passed to the runs as SNNBENCH_DATA")
    args = p.parse_args(argv)
    if args.data_root is not None:
        os.environ["SNNBENCH_DATA"] = str(args.data_root.resolve())  # run_task passes os.environ on
    if args.seeds < 1 or args.jobs < 1 or args.threads < 1:
        raise SystemExit(f"--seeds, --jobs and --threads must be >= 1, got {args.seeds}, {args.jobs}, {args.threads}")
    if args.runs is None:
        args.runs = ROOT / "runs" / ("surrogate-results" + ("" if args.seeds == 3 else f"-s{args.seeds}"))
    args.runs.mkdir(parents=True, exist_ok=True)
    if not args.doc_only:
        with futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            jobs = [pool.submit(run_task, t, args.runs, args.seeds, args.threads) for t in args.tasks]
            for job in futures.as_completed(jobs):
                task, rc, sec = job.result()
                status = "ok" if rc == 0 else f"FAILED (rc {rc}, see {args.runs / (task + '.log')})"
                print(f"{task:16s} {status} {sec:7.0f} s", flush=True)
    results = [r for t in TASKS if t in args.tasks and (r := collect(t, args.runs)) is not None]
    missing = sorted(set(args.tasks) - {r["task"] for r in results})
    if missing:
        print(f"no finished run for {missing}; the doc lists only the finished tasks", file=sys.stderr)
    command = "python benchmarks/surrogate_results.py"
    if args.seeds != 3:
        command += f" --seeds {args.seeds}"
    write_doc(render(results, args.seeds, command), args.doc)
    print(f"wrote {args.doc}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
