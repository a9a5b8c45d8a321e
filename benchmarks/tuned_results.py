"""Regenerate the tuned section of docs/results.md: `snnbench tune` on every shipped task.

    python benchmarks/tuned_results.py                          # every task, cheapest first
    python benchmarks/tuned_results.py --tasks digits basicmotions --workers 2
    python benchmarks/tuned_results.py --address auto           # on a running Ray cluster
    python benchmarks/tuned_results.py --doc-only               # rewrite the doc from the folders
    python benchmarks/tuned_results.py --out runs/tuned-results-rerun   # a second search (no doc) ...
    python benchmarks/tuned_results.py --compare runs/tuned-results-rerun  # ... set beside the first

Each task's tune folder is runs/tuned-results/<task>; a finished task (results.json) is not
re-run, an interrupted one is resumed (Ray Tune restores its search). FSDD needs the data
folder: --data-root DIR (or $SNNBENCH_DATA), and so does WISDM. The section between the markers in
docs/results.md is replaced; the hand-tuned table below it stays for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
BEGIN, END = "<!-- tuned-results:begin (written by benchmarks/tuned_results.py) -->", "<!-- tuned-results:end -->"
VARIANCE = "tuning-variance"  # the --compare section (docsections markers)
DEFAULT_OUT = ROOT / "runs" / "tuned-results"
# cheapest first, so that an interrupted regeneration has the small tasks done
TASKS = ["digits", "iris", "basicmotions", "japanesevowels", "wisdm", "fsdd", "mnist5k-conv", "mnist5k-rate",
         "mnist5k-latency", "fsdd-spikes", "gunpoint"]
NEEDS_DATA = {"fsdd", "fsdd-spikes", "wisdm"}


def load() -> str:
    return os.popen("uptime").read().strip()


def run_task(task: str, out: Path, args: argparse.Namespace) -> dict:
    folder = out / task
    if (folder / "results.json").is_file():
        return json.loads((folder / "timing.json").read_text()) if (folder / "timing.json").is_file() else {}
    cmd = [sys.executable, "-m", "snnbench.cli", "tune"]
    if (folder / "config.yaml").is_file():
        cmd += ["--resume", str(folder)]
    else:
        cmd += [task, "--seeds", str(args.seeds), "--out", str(folder)]
        if args.trials is not None:  # default: the preset's tune.trials
            cmd += ["--trials", str(args.trials)]
        if task in NEEDS_DATA and args.data_root:
            cmd += ["--set", f"data.root={args.data_root}"]
    cmd += ["--workers", str(args.workers)] + (["--address", args.address] if args.address else [])
    before, start = load(), time.perf_counter()
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    timing = {"wall_seconds": time.perf_counter() - start, "load_before": before, "load_after": load(),
              "workers": args.workers, "trials": args.trials, "seeds": args.seeds}
    (folder / "timing.json").write_text(json.dumps(timing, indent=1))
    return timing


def render(out: Path, tasks: list[str]) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from snnbench.experiments.tune import format_tuned

    parts = [BEGIN, "## Tuned: the same search budget for every model, chosen on validation",
             "",
             "Regenerate with `python benchmarks/tuned_results.py` (tune folders under `runs/tuned-results/`; "
             "on a Ray cluster add `--address auto`). Each model of a task got the same budget: the preset's "
             "Optuna trials (TPE after half of them at random) and epochs per trial, and ASHA stopping (rungs at a "
             "quarter and three quarters of a trial's epochs), over its family's space "
             "(`src/snnbench/experiments/search_space.py`); choices on a stratified 20 % validation split of train "
             "(BasicMotions, GunPoint, Iris: 4-fold CV of train); the chosen settings then trained with 3 seeds and tested "
             "once. Verdict: paired t-test over seeds and a paired bootstrap 95 % interval over test samples, both "
             "must agree. Reference rows are not parameter-matched; their fit time is one thread.",
             f"Machine: {platform.machine()}, Python {platform.python_version()}, 2 cores shared with other jobs "
             f"(loads below), generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    missing = []
    for task in tasks:
        folder = out / task
        if not (folder / "results.json").is_file():
            missing.append(task)
            continue
        summary = json.loads((folder / "results.json").read_text())
        timing = json.loads((folder / "timing.json").read_text()) if (folder / "timing.json").is_file() else {}
        head = f"### {task}"
        if timing:
            head += (f" ({timing['wall_seconds'] / 60:.0f} min with {timing['workers']} worker(s); "
                     f"load before: {timing['load_before'].split('load average:')[-1].strip()})")
        parts += [head, "", format_tuned(summary), ""]
    if missing:
        parts += [f"Not regenerated yet (run the command above): {', '.join(missing)}.", ""]
    parts.append(END)
    return "\n".join(parts)


def render_comparison(first: Path, second: Path, tasks: list[str]) -> str:
    """Markdown: per model of every task finished in both folders, the test accuracy and the
    chosen validation accuracy of each search, and each verdict of both."""
    rows, verdicts, same = [], [], 0
    for task in tasks:
        a, b = (d / task / "results.json" for d in (first, second))
        if not (a.is_file() and b.is_file()):
            continue
        ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
        for key, t in ra["tuning"].items():  # the section says "the same budgets": check it
            if key in rb["tuning"] and rb["tuning"][key]["budget"] != t["budget"]:
                raise SystemExit(f"{key}: the two searches had different budgets "
                                 f"({t['budget']} vs {rb['tuning'][key]['budget']}); compare like with like")
        acc_b = {r["model"]: r for r in rb["rows"]}
        for r in ra["rows"]:
            o = acc_b.get(r["model"])
            if o is None:
                continue
            va = ra["tuning"][f"{task}/{r['model']}"]["chosen"]["val_accuracy"]
            vb = rb["tuning"][f"{task}/{r['model']}"]["chosen"]["val_accuracy"]
            rows.append(f"| {task} | {r['model']} | {r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f} ({100 * va:.1f}) | "
                        f"{o['accuracy_mean']:.1f} +- {o['accuracy_std']:.1f} ({100 * vb:.1f}) | "
                        f"{o['accuracy_mean'] - r['accuracy_mean']:+.1f} |")
        vb_by = {(v["snn"], v["baseline"]): v for v in rb["verdicts"]}
        for v in ra["verdicts"]:
            w = vb_by.get((v["snn"], v["baseline"]))
            if w is None:
                continue
            same += v["verdict"] == w["verdict"]
            verdicts.append(f"| {task} | {v['snn']} vs {v['baseline']} | {v['verdict']} ({v['difference']:+.1f} pp) | "
                            f"{w['verdict']} ({w['difference']:+.1f} pp) |")
    if not rows:
        raise SystemExit(f"no task is finished in both {first} and {second}")
    return "\n".join([
        "### Tuning variance: the same search run twice",
        "",
        f"Generated by `python benchmarks/tuned_results.py --out {first.relative_to(ROOT) if first.is_relative_to(ROOT) else first} "
        f"--compare {second.relative_to(ROOT) if second.is_relative_to(ROOT) else second}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: two tune folders of the same presets with the same "
        "budgets, sampler seeds, stopping rules, validation splits and final seeds. A sampler that sees its trials' "
        "results in another order (another worker count, another interleaving of the models' trials) may choose other "
        "settings; the three seeds of the final runs measure training noise only, this table the noise of the choice.",
        "",
        "| task | model | first search: test acc. (%) (chosen, validation %) | second search | second - first (pp) |",
        "|---|---|---|---|---:|",
        *rows,
        "",
        f"Verdicts: the same in {same} of {len(verdicts)} comparisons.",
        "",
        "| task | comparison | first search | second search |",
        "|---|---|---|---|",
        *verdicts,
    ])


def write_doc(section: str) -> None:
    text = DOC.read_text()
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:  # first time: above the hand-tuned table, which stays below for comparison
        anchor = "<!-- surrogate-results:begin"
        text = text.replace(anchor, section + "\n\n### Hand-tuned (before `snnbench tune`), kept for comparison\n\n" + anchor, 1)
    DOC.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    ap.add_argument("--trials", type=int, help="trials per model (default: the preset's tune.trials)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--address", help="Ray cluster address")
    ap.add_argument("--data-root", default=os.environ.get("SNNBENCH_DATA"),
                    help="folder with fsdd/ and wisdm_v1.1_transformed/ (FSDD and WISDM tasks)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--doc-only", action="store_true")
    ap.add_argument("--compare", metavar="DIR",
                    help="a second search's tune folders (same tasks): write the tuning-variance section only")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if args.compare:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from docsections import replace_section

        replace_section(DOC, VARIANCE, render_comparison(out, Path(args.compare).resolve(), TASKS))
        return 0
    # the doc's tuned section is written from the default folder only: a second search into
    # another folder (--out) must not replace it, it is set beside it with --compare
    doc = out == DEFAULT_OUT
    if not args.doc_only:
        for task in args.tasks:
            if task in NEEDS_DATA and not args.data_root:
                print(f"skipping {task}: give --data-root (the folder holding fsdd/, wisdm_v1.1_transformed/)", flush=True)
                continue
            run_task(task, out, args)
            if doc:
                write_doc(render(out, TASKS))
    if doc:
        write_doc(render(out, TASKS))
    else:
        print(f"{DOC.relative_to(ROOT)} is written from {DEFAULT_OUT.relative_to(ROOT)} only; set {out} beside it "
              f"with: python benchmarks/tuned_results.py --compare {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
