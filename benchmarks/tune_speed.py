"""Wall time of `snnbench tune digits --trials 8` with 1 and 2 Ray workers, side by side.

    python benchmarks/tune_speed.py                  # the full search (preset epochs)
    python benchmarks/tune_speed.py --epochs 5       # a shorter one

Targets (issue #22): the search finishes in under 15 minutes on 2 cores with a local Ray
instance, and the 2-worker run takes at most 0.6x the wall time of the 1-worker run. The
ratio is of the search phase's wall time (``search_wall_seconds`` in results.json: one Ray
Tune search runs the trials of both models on the workers; the final runs, one seed, train
sequentially either way). The machine
load (uptime) is printed before and after each run: on a shared machine the ratio means
little when other jobs hold the cores. For each run it also prints where the search window
went: seconds with no trial, one trial, two trials running, and the trials' own seconds
(what is left is Ray's start-up of the search and of its worker processes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def occupancy(folder: Path) -> dict[str, float]:
    """Where the search window went: seconds with 0, 1, 2, ... trials running (from each
    trial's result.json: its last report's timestamp and total time), and the trials' own
    seconds. Timestamps are whole seconds, so the split is good to about a second."""
    spans = []
    for f in folder.glob("tune/*/search/*/result.json"):
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        if rows:
            spans.append((rows[-1]["timestamp"] - rows[-1]["time_total_s"], rows[-1]["timestamp"]))
    windows = [json.loads(f.read_text())["search_window"] for f in folder.glob("tune/*/*.json")]
    start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    busy: dict[int, float] = {}
    step, t = 0.05, start
    while t < end:
        n = sum(1 for a, b in spans if a <= t < b)
        busy[n] = busy.get(n, 0.0) + step
        t += step
    return {"window_s": end - start, "trial_s": sum(b - a for a, b in spans),
            **{f"{n}_running_s": v for n, v in sorted(busy.items())}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, help="epochs per trial (default: the preset's)")
    args = ap.parse_args()
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            cmd = [sys.executable, "-m", "snnbench.cli", "tune", "digits", "--trials", str(args.trials), "--seeds", "1",
                   "--workers", str(workers), "--no-references", "--out", str(Path(tmp) / f"w{workers}")]
            if args.epochs:
                cmd += ["--epochs", str(args.epochs)]
            print("load before:", os.popen("uptime").read().strip(), flush=True)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            total = time.perf_counter() - start
            results = json.loads((Path(tmp) / f"w{workers}" / "results.json").read_text())
            walls[workers] = sum(results["search_wall_seconds"].values())
            print(f"{workers} worker(s): search {walls[workers]:.0f} s, whole command {total:.0f} s; load after:",
                  os.popen("uptime").read().strip(), flush=True)
            occ = occupancy(Path(tmp) / f"w{workers}")
            print("  search window:", ", ".join(f"{k} {v:.1f}" for k, v in occ.items()), flush=True)
    print(f"search, 2 workers / 1 worker: {walls[2] / walls[1]:.2f} (target <= 0.60)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
