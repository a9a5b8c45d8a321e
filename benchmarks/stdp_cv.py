"""Choose Diehl & Cook settings by cross-validation on the training split only.

The 1,000 test images of mnist5k are never touched here. The 4,000 training images are cut
into ``--folds`` stratified folds (per class, rows ``k, k + folds, ...`` of that class go to
fold ``k``); each setting trains on the other folds and is scored on the held-out one, after
every epoch, with the same assignment-and-vote as the test runs. Each fold uses its own
seed, so a setting's mean over folds averages data and simulation noise together.

    python benchmarks/stdp_cv.py run --settings preset theta_plus=0.1 --folds 5 --jobs 2
    python benchmarks/stdp_cv.py table

Records are appended to ``docs/stdp_cv.jsonl`` (a finished (setting, fold) pair is skipped
when run again); ``table`` prints the mean and standard error per setting and epoch, and
``benchmarks/stdp_results.py render`` puts the tables into docs/stdp_results.md.
A setting is ``preset`` or comma-separated ``key=value`` overrides of
``diehl_cook_preset(n)`` (``--neurons``), e.g. ``theta_plus=0.1,nu_post=0.02``. Records
store the setting as typed, so a ``preset`` record means the preset of the code that ran it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE.parent / "docs" / "stdp_cv.jsonl"
sys.path.insert(0, str(HERE))

from snnbench.experiments.runner import mean_std  # noqa: E402


#: ``pair`` in a setting: the pair-rule potentiation at nu_post 0.01, which the 100-neuron
#: preset used before it took the triplet form (records made then carry this prefix).
PAIR = {"tau_post2": None, "nu_post": 0.01}


def parse_setting(text: str) -> dict:
    """``"a=1,b=x"`` -> {"a": 1, "b": "x"} (numbers, true/false, none parsed); ``preset`` -> {};
    the word ``pair`` stands for :data:`PAIR`."""
    if text == "preset":
        return {}
    out = {}
    for part in text.split(","):
        if part == "pair":
            out |= PAIR
            continue
        key, _, raw = part.partition("=")
        if not _:
            raise SystemExit(f"setting {text!r}: expected key=value pairs, got {part!r}")
        low = raw.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
        elif low == "none":
            out[key] = None
        else:
            try:
                out[key] = int(raw)
            except ValueError:
                try:
                    out[key] = float(raw)
                except ValueError:
                    out[key] = raw
    return out


def folds_of(y, n_folds: int) -> list:
    """Fold index per training row, stratified by class."""
    import numpy as np

    fold = np.empty(len(y), np.int64)
    for c in np.unique(y):
        rows = np.where(y == c)[0]
        fold[rows] = np.arange(len(rows)) % n_folds
    return fold


def run_one(setting: str, fold: int, n_folds: int, neurons: int, epochs: int) -> dict:
    from stdp_speed import load_mnist5k

    from snnbench.experiments.diehl_cook_config import DiehlCookConfig, diehl_cook_preset
    from snnbench.experiments.stdp_runner import run_diehl_cook

    xtr, ytr, _, _ = load_mnist5k()  # the test part is not used
    f = folds_of(ytr, n_folds)
    kw = diehl_cook_preset(neurons) | {"epochs": epochs, "seed": fold} | parse_setting(setting)
    cfg = DiehlCookConfig(**kw)
    m = run_diehl_cook(cfg, xtr[f != fold], ytr[f != fold], xtr[f == fold], ytr[f == fold],
                       progress=False, num_classes=10)
    return {"setting": setting, "fold": fold, "folds": n_folds, "neurons": neurons,
            "epochs": epochs, "val_accuracy_per_epoch": m["test_accuracy_per_epoch"],
            "val_accuracy_per_epoch_by_vote": m["test_accuracy_per_epoch_by_vote"],
            "silent_neurons": m["silent_neurons"], "seconds": m["seconds"]}


def _done() -> set:
    if not RECORDS.exists():
        return set()
    recs = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    return {(r["setting"], r["fold"], r["folds"], r["neurons"], r["epochs"]) for r in recs}


def cmd_run(a: argparse.Namespace) -> None:
    RECORDS.parent.mkdir(parents=True, exist_ok=True)
    done = _done()
    todo = [(s, k) for s in a.settings for k in range(a.folds)
            if (s, k, a.folds, a.neurons, a.epochs) not in done]
    # One process per job, one numba thread each: results do not depend on the job count.
    env = os.environ | {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    running: list[subprocess.Popen] = []
    for s, k in todo:
        while len(running) >= a.jobs:
            running[0].wait()
            running = [p for p in running if p.poll() is None]
        cmd = [sys.executable, __file__, "one", s, str(k), str(a.folds), str(a.neurons), str(a.epochs)]
        running.append(subprocess.Popen(cmd, env=env))
    for p in running:
        p.wait()


def cmd_one(a: argparse.Namespace) -> None:
    rec = run_one(a.setting, a.fold, a.folds, a.neurons, a.epochs)
    with open(RECORDS, "a") as fh:  # one short line per append: safe across processes
        fh.write(json.dumps(rec) + "\n")
    print(f"{a.setting} fold {a.fold}: {[round(100 * v, 1) for v in rec['val_accuracy_per_epoch']]}",
          flush=True)


def _mean_se(v: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n); nan for one value)."""
    m, sd = mean_std(v)
    return m, (sd / math.sqrt(len(v)) if len(v) > 1 else float("nan"))


def table_lines(neurons: int, baseline: str = "preset", folds: int | None = None) -> list[str]:
    """Markdown table: mean ± standard error over folds per epoch, and the last-epoch
    difference to ``baseline`` paired by fold (same fold, same seed: most of the
    fold-to-fold spread cancels). Best last-epoch mean first."""
    if not RECORDS.exists():
        return []
    recs = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if r["neurons"] == neurons and folds in (None, r["folds"])]
    keys: dict[tuple, dict[int, list]] = {}
    for r in recs:
        keys.setdefault((r["setting"], r["folds"], r["epochs"]), {})[r["fold"]] = r["val_accuracy_per_epoch"]
    rows = []
    for (s, nf, ep), by_fold in keys.items():
        stats = [_mean_se([100 * v for v in col]) for col in zip(*by_fold.values())]
        base = keys.get((baseline, nf, ep), {})
        common = sorted(set(base) & set(by_fold))
        diff = _mean_se([100 * (by_fold[k][-1] - base[k][-1]) for k in common]) if common else None
        rows.append((stats[-1][0], s, len(by_fold), nf, stats, diff))
    out = [f"| setting ({neurons} neurons) | folds run | val. acc. per epoch, mean ± s.e. over folds (%) "
           f"| last epoch minus {baseline}, paired (pp) |", "|---|---|---|---|"]
    for _, s, n, nf, stats, diff in sorted(rows, reverse=True):
        d = "" if diff is None or s == baseline else f"{diff[0]:+.1f} ± {diff[1]:.1f}"
        out.append(f"| {s} | {n}/{nf} | " + " / ".join(f"{m:.1f} ± {se:.1f}" for m, se in stats) + f" | {d} |")
    return out


def cmd_table(a: argparse.Namespace) -> None:
    print("\n".join(table_lines(a.neurons, a.baseline, a.folds)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--settings", nargs="+", default=["preset"])
    r.add_argument("--folds", type=int, default=5)
    r.add_argument("--neurons", type=int, default=100)
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--jobs", type=int, default=2)
    o = sub.add_parser("one")
    o.add_argument("setting")
    for k in ("fold", "folds", "neurons", "epochs"):
        o.add_argument(k, type=int)
    t = sub.add_parser("table")
    t.add_argument("--neurons", type=int, default=100)
    t.add_argument("--baseline", default="preset", help="setting the paired differences refer to")
    t.add_argument("--folds", type=int, default=None, help="only runs with this many folds")
    a = ap.parse_args()
    {"run": cmd_run, "one": cmd_one, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
