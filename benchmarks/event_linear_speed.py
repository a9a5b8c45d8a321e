"""Event-driven linear synapse against the dense product, over input density.

    python benchmarks/event_linear_speed.py --threads 2 [--T 25] [--H 800] [--reps 9]

One process, the two implementations interleaved per repetition; for each density of a
Bernoulli spike input ``[T*B, 784]`` it prints the median ms of the forward pass and of
forward + backward (weight and bias gradients; the input needs none, as for the first
layer of a network) and the ratio dense / event (> 1: events faster). The crossover sets
``snnbench.synapses.event_linear.DEFAULT_MAX_DENSITY``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, default=25)
    ap.add_argument("--B", type=int, default=128)
    ap.add_argument("--K", type=int, default=784)
    ap.add_argument("--H", type=int, default=800)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--densities", default="0.02,0.05,0.1,0.15,0.2,0.3,0.4,0.5")
    a = ap.parse_args()
    if a.threads:
        import numba

        torch.set_num_threads(a.threads)
        numba.set_num_threads(a.threads)
    from snnbench.synapses.event_linear import event_linear

    g = torch.Generator().manual_seed(0)
    W = torch.randn(a.H, a.K, generator=g).mul_(0.03).requires_grad_()
    b = torch.zeros(a.H, requires_grad=True)
    N = a.T * a.B
    print(f"[{N}, {a.K}] x [{a.K}, {a.H}], torch threads {torch.get_num_threads()}; median ms")
    print(f"{'density':>8} | {'fwd dense':>9} {'fwd event':>9} {'ratio':>6} | "
          f"{'f+b dense':>9} {'f+b event':>9} {'ratio':>6}")

    def fwd(fn, x):
        with torch.no_grad():
            fn(x)

    def fwdbwd(fn, x):
        y = fn(x)
        gr = torch.autograd.grad(y.sum(), (W, b))
        return gr

    dense = lambda x: F.linear(x, W, b)  # noqa: E731
    event = lambda x: event_linear(x, W, b, max_density=1.0)  # noqa: E731
    for p in [float(v) for v in a.densities.split(",")]:
        x = (torch.rand(N, a.K, generator=g) < p).float()
        times: dict[str, list[float]] = {k: [] for k in ("fd", "fe", "bd", "be")}
        for r in range(a.reps + 2):
            for key, fn, step in (("fd", dense, fwd), ("fe", event, fwd),
                                  ("bd", dense, fwdbwd), ("be", event, fwdbwd)):
                t0 = time.perf_counter()
                step(fn, x)
                if r >= 2:  # two warm-up rounds (numba compile, allocator)
                    times[key].append(1e3 * (time.perf_counter() - t0))
        m = {k: statistics.median(v) for k, v in times.items()}
        print(f"{p:8.2f} | {m['fd']:9.2f} {m['fe']:9.2f} {m['fd'] / m['fe']:6.2f} | "
              f"{m['bd']:9.2f} {m['be']:9.2f} {m['bd'] / m['be']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
