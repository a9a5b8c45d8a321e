"""Recurrent LIF layer: fused time loop against the reference loop, forward + backward.

    python benchmarks/recurrent_speed.py --threads 2 [--reps 9]

One process, the two implementations interleaved per repetition (same weights, same
input); prints the median ms of a forward + backward pass and the ratio reference / fused
for a few (T, B, F, H) shapes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--shapes", default="100:64:40:128,100:64:40:512,250:32:700:256",
                    help="T:B:F:H, comma separated")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from snnbench.neurons.lif import LIFParams
    from snnbench.neurons.recurrent import recurrent_lif

    p = LIFParams(beta=0.9)
    print(f"torch threads {torch.get_num_threads()}; median ms of forward + backward")
    print(f"{'T:B:F:H':>18} | {'reference':>9} {'fused':>9} {'ratio':>6}")
    for shape in a.shapes.split(","):
        T, B, F, H = (int(v) for v in shape.split(":"))
        g = torch.Generator().manual_seed(0)
        x = torch.randn(T, B, F, generator=g)
        w_in = (torch.randn(H, F, generator=g) * (2.0 / F**0.5)).requires_grad_()
        w_rec = (torch.randn(H, H, generator=g) * (0.5 / H**0.5)).requires_grad_()

        def step(fused: bool) -> None:
            s, _ = recurrent_lif(x, w_in, w_rec, None, p, fused=fused)
            torch.autograd.grad(s.sum(), (w_in, w_rec))

        times: dict[bool, list[float]] = {False: [], True: []}
        for r in range(a.reps + 2):
            for fused in (False, True):
                t0 = time.perf_counter()
                step(fused)
                if r >= 2:
                    times[fused].append(1e3 * (time.perf_counter() - t0))
        ref, fu = statistics.median(times[False]), statistics.median(times[True])
        print(f"{shape:>18} | {ref:9.1f} {fu:9.1f} {ref / fu:6.2f}", flush=True)


if __name__ == "__main__":
    main()
