"""Regenerate the tabular section of docs/results.md: the ``tabular`` preset (population-
coded LIF SNN and its parameter-matched MLP) on scikit-learn's wine, breast_cancer and
iris, run from the command line exactly as a user would, 3 seeds each.

    python benchmarks/tabular_results.py                 # run what is missing, rewrite the doc
    python benchmarks/tabular_results.py --doc-only      # rewrite the doc from runs/

Each set runs as ``snnbench run tabular --set data.name=sklearn:<set> --seeds 3 --out
runs/tabular-results/<set>`` (one torch thread). A set whose run folder holds a finished
``results.json`` is not re-run. The preset's settings were chosen on the validation split
(10 % of train, stratified); the table shows the last-epoch validation accuracy beside the
test accuracy for that reason.
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
SECTION = "tabular-results"
SETS = ("wine", "breast_cancer", "iris")
COMMAND = "python benchmarks/tabular_results.py"


def run_set(name: str, runs: Path, seeds: int, threads: int) -> float:
    out = runs / name
    if (out / "results.json").is_file():
        return 0.0
    cmd = [sys.executable, "-m", "snnbench.cli", "run", "tabular", "--set", f"data.name=sklearn:{name}",
           "--seeds", str(seeds), "--no-progress", "--no-report"]
    cmd += ["--resume", str(out)] if (out / "config.yaml").is_file() else ["--out", str(out)]
    if "--resume" in cmd:
        cmd = [c for c in cmd if c not in ("--set", f"data.name=sklearn:{name}", "--seeds", str(seeds))]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(runs / f"{name}.log", "w") as logf:
        rc = subprocess.call(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit(f"{name}: snnbench run failed (exit {rc}); see {runs / (name + '.log')}")
    (runs / f"{name}.load").write_text(f"{os.getloadavg()[0]:.1f}\n")  # 1-min load at the end of the run
    return time.perf_counter() - t0


def _seed_rows(run: Path, model: str) -> list[dict]:
    rows = []
    for seed_dir in sorted((run / "tabular" / model).glob("seed*")):
        final = json.loads((seed_dir / "final.json").read_text())
        hist = [json.loads(line) for line in (seed_dir / "metrics.jsonl").read_text().splitlines() if line]
        rows.append({"test": 100 * final["test_accuracy"], "val": 100 * hist[-1].get("val_accuracy", float("nan")),
                     "params": final["params"], "seconds": final["train_seconds"]})
    return rows


def render(runs: Path) -> str:
    preset = (ROOT / "src" / "snnbench" / "experiments" / "presets" / "tabular.yaml").read_text()
    import yaml

    cfg = yaml.safe_load(preset)
    exp = cfg["experiments"][0]
    snn = exp["models"][0]
    t = exp["train"]
    lines = [
        "## Tabular data: the `tabular` preset on scikit-learn sets",
        "",
        f"Regenerate with `{COMMAND}` (from the repository root). Each row: "
        f"`snnbench run tabular --set data.name=sklearn:<set> --seeds 3`, i.e. seeds 0..2, test accuracy at "
        "the last epoch, mean +- sample std. Canonical splits: stratified 30 % test, `random_state=0` "
        "(wine 124 / 54, breast_cancer 398 / 171, iris 105 / 45); 10 % of train is validation. Features are "
        "min-max scaled with training statistics. "
        f"SNN: {snn['type']} hidden {snn['hidden']}, Gaussian population code "
        f"({snn['kwargs']['encoder_kwargs']['n_neurons']} fields per feature, as currents), "
        f"T={snn['kwargs']['num_steps']}, {snn['kwargs']['readout']} readout; MLP matched to its parameter count; "
        f"both {t['epochs']} epochs, batch {t['batch_size']}, Adam lr {t['lr']:g}, cosine schedule. "
        "One test sample is 1.9 pp of wine, 0.6 pp of breast_cancer and 2.2 pp of iris.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, one torch thread, 2 shared cores; "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "The preset was written once and has not been tuned: these are its first numbers. The validation "
        "column (10 % of train, 11-40 samples) is there so that any later change is judged on it, not on test. "
        "Train times are per seed, one torch thread; the 1-minute load average at the end of each set's runs is "
        "given because other jobs shared the 2 cores.",
        "",
        "| set | model | params | test acc. (%) | per seed | val acc. (%) | train time (s) | SNN - MLP (pp) | within 2 pp |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for name in SETS:
        run = runs / name
        if not (run / "results.json").is_file():
            lines.append(f"| {name} | (not run) | | | | | | | |")
            continue
        res = {m: _seed_rows(run, m) for m in ("snn", "mlp")}
        means = {m: mean_std([r["test"] for r in rs]) for m, rs in res.items()}
        gap = means["snn"][0] - means["mlp"][0]
        for m, rs in res.items():
            acc_m, acc_s = means[m]
            val_m, val_s = mean_std([r["val"] for r in rs])
            per = ", ".join(f"{r['test']:.1f}" for r in rs)
            tail = f" {gap:+.1f} | {'yes' if gap >= -2.0 else 'no'} |" if m == "snn" else " | |"
            load = runs / f"{name}.load"
            label = f"{name} (load {load.read_text().strip()})" if load.is_file() else name
            lines.append(
                f"| {label if m == 'snn' else ''} | {m} | {rs[0]['params']:,} | {acc_m:.1f} +- {acc_s:.1f} | {per} | "
                f"{val_m:.1f} +- {val_s:.1f} | {statistics.fmean(r['seconds'] for r in rs):.1f} |{tail}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "tabular-results")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--doc-only", action="store_true", help="only rewrite docs/results.md from the run folders")
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)
    if not args.doc_only:
        for name in args.sets:
            secs = run_set(name, args.runs, args.seeds, args.threads)
            print(f"{name}: {secs:.0f} s (load {os.getloadavg()[0]:.1f})")
    replace_section(args.doc, SECTION, render(args.runs))
    print(f"wrote the {SECTION} section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
