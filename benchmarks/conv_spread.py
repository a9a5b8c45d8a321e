"""How snnbench / bound of one conv training step spreads across processes, and why:
each fresh process builds ``benchmarks/conv_speed.py``'s row, runs the SNN and the bound
interleaved (median of ``--reps`` steps, as ``conv_speed.py`` does) and counts the minor
page faults of each step (``getrusage``): the pages a step's buffers touched for the first
time, which the C library's allocator decides by where it places them.

    python benchmarks/conv_spread.py                          # conv, T=4, 8 processes
    python benchmarks/conv_spread.py --row conv-bn --steps 8 --processes 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conv_speed  # noqa: E402


def child(row: str, steps: int, reps: int) -> None:
    torch.manual_seed(0)
    models = conv_speed.build_row(row)
    fns = {k: conv_speed.step_fn(models[k], steps) for k in ("snn", "bound")}
    for f in fns.values():  # warm-up
        f()
    ms: dict[str, list[float]] = {k: [] for k in fns}
    faults: dict[str, list[int]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            f()
            ms[k].append((time.perf_counter() - t0) * 1e3)
            faults[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    print(json.dumps({k: [statistics.median(ms[k]), statistics.median(faults[k])] for k in fns}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--row", default="conv", choices=["conv", "conv-bn", "vgg11"])
    ap.add_argument("--steps", type=int, default=4, help="T")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.row, args.steps, args.reps)
        return 0
    print(f"{args.row}, T={args.steps}, batch {conv_speed.BATCH}, median of {args.reps} steps per "
          f"process; load average at start " + "/".join(f"{v:.1f}" for v in os.getloadavg()))
    print("| process | snnbench ms | bound ms | snnbench / bound | snnbench page faults / step "
          "| bound page faults / step |")
    print("|---|---|---|---|---|---|")
    ratios = []
    for i in range(args.processes):
        out = subprocess.run([sys.executable, __file__, "--child", "--row", args.row, "--steps",
                              str(args.steps), "--reps", str(args.reps)],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        (snn_ms, snn_f), (b_ms, b_f) = r["snn"], r["bound"]
        ratios.append(snn_ms / b_ms)
        print(f"| {i + 1} | {snn_ms:.0f} | {b_ms:.0f} | {ratios[-1]:.3f} | {snn_f:.0f} | {b_f:.0f} |",
              flush=True)
    print(f"snnbench / bound over {len(ratios)} processes: {min(ratios):.3f}-{max(ratios):.3f}, "
          f"median {statistics.median(ratios):.3f}; load average at end "
          + "/".join(f"{v:.1f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
