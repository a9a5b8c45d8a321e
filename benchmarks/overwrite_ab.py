"""A/B of ``overwrite_input`` in whole training steps of the fully connected builders'
SNN (``FeedForwardSNN``, 784 -> H LIF -> 10, rate-coded input, membrane readout): the
model as built (hidden neurons keep their membrane in the synapse's output buffer) against
the same model with every such layer switched off (the input saved and ``h`` recomputed
in backward). Both run interleaved in one process; the figure is the median step time.

    python benchmarks/overwrite_ab.py                        # T=25 and 100, H=800, batch 128
    python benchmarks/overwrite_ab.py --configs 25:2000 --reps 9
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from snnbench.models.snn import FeedForwardSNN
from snnbench.neurons import LIF


def step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator()

    def step() -> None:
        gen.manual_seed(0)  # the same encoder draws for both variants
        loss = F.cross_entropy(model(x, generator=gen), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="25:800,100:800", help="T:H pairs")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    print("load average at start:", "/".join(f"{v:.1f}" for v in os.getloadavg()))
    print("| T | H | overwrite ms | no overwrite ms | overwrite / no overwrite |")
    print("|---|---|---|---|---|")
    for cfg in args.configs.split(","):
        T, H = (int(v) for v in cfg.split(":"))
        torch.manual_seed(0)
        on = FeedForwardSNN((784,), [H], 10, encoder="poisson", num_steps=T)
        off = copy.deepcopy(on)
        for m in off.modules():
            if isinstance(m, LIF):
                m.overwrite_input = False
        x = torch.rand(args.batch, 784, generator=torch.Generator().manual_seed(1))
        y = torch.randint(0, 10, (args.batch,), generator=torch.Generator().manual_seed(2))
        fns = {"on": step_fn(on, x, y), "off": step_fn(off, x, y)}
        for f in fns.values():  # warm-up
            f()
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.reps):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"| {T} | {H} | {med['on']:.1f} | {med['off']:.1f} | {med['on'] / med['off']:.3f} |",
              flush=True)
    print("load average at end:", "/".join(f"{v:.1f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
