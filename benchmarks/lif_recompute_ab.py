"""A/B of the C LIF's three ways to feed its backward, in whole conv training steps:
keeping ``h`` in the input current's buffer and writing the gradient over it
(``overwrite_input``, what the model builders set), saving the input and recomputing ``h``
in backward (the default with a built-in surrogate when the input may not be
overwritten), or saving ``h`` in a buffer of its own. The variants and the ReLU bound run
interleaved in one process (``benchmarks/conv_speed.py``'s models and step), so load and
allocator state hit them alike; the figure is the median step time.

    python benchmarks/lif_recompute_ab.py                      # conv, conv-bn, vgg11 at T=4 and 8
    python benchmarks/lif_recompute_ab.py --rows conv --steps 8 --reps 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conv_speed  # noqa: E402

from snnbench.neurons import LIF  # noqa: E402
from snnbench.neurons.kernels import c as c_kernels  # noqa: E402

RECOMPUTES = c_kernels.LIF.__dict__["recomputes"]  # the staticmethod, restored after each step
SAVE_H = staticmethod(lambda c: False)


def step_with(step, recompute: bool) -> None:
    """One training step with the kernel feeding its backward one way or the other."""
    c_kernels.LIF.recomputes = RECOMPUTES if recompute else SAVE_H
    try:
        step()
    finally:
        c_kernels.LIF.recomputes = RECOMPUTES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", nargs="+", default=["conv", "conv-bn", "vgg11"], choices=["conv", "conv-bn", "vgg11"])
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    if not c_kernels.available():
        raise SystemExit("the compiled C kernels are not built (pip install -e .)")
    print("load average at start:", "/".join(f"{x:.1f}" for x in os.getloadavg()))
    print("| row | T | overwrite ms | recompute h ms | save h ms | bound ms | overwrite / bound "
          "| recompute / bound | recompute / save h |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in args.rows:
        for T in args.steps:
            models = {}
            for name in ("overwrite", "recompute", "save_h"):
                torch.manual_seed(0)
                models[name] = conv_speed.build_row(row)
                for m in models[name]["snn"].modules():
                    if isinstance(m, LIF):
                        m.overwrite_input = name == "overwrite"
            fns = {"overwrite": (conv_speed.step_fn(models["overwrite"]["snn"], T), True),
                   "recompute": (conv_speed.step_fn(models["recompute"]["snn"], T), True),
                   "save_h": (conv_speed.step_fn(models["save_h"]["snn"], T), False),
                   "bound": (conv_speed.step_fn(models["overwrite"]["bound"], T), True)}
            for f, r in fns.values():  # warm-up
                step_with(f, r)
            times: dict[str, list[float]] = {k: [] for k in fns}
            for _ in range(args.reps):
                for k, (f, r) in fns.items():
                    t0 = time.perf_counter()
                    step_with(f, r)
                    times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            print(f"| {row} | {T} | {med['overwrite']:.0f} | {med['recompute']:.0f} | {med['save_h']:.0f} | "
                  f"{med['bound']:.0f} | {med['overwrite'] / med['bound']:.3f} | "
                  f"{med['recompute'] / med['bound']:.3f} | {med['recompute'] / med['save_h']:.3f} |",
                  flush=True)
    print("load average at end:", "/".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
