"""The neuron kernels alone (LIF, adaptive LIF, current-based LIF; backend "auto"): forward +
backward, and inference forward.

    python benchmarks/neuron_kernels.py --threads 2 [--T 100 --B 128 --H 800] [--reps 9]

One process, the kernels interleaved per repetition on the same input current; prints the
median ms. The backward is taken with respect to the input current only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--B", type=int, default=128)
    ap.add_argument("--H", type=int, default=800)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        import numba

        torch.set_num_threads(a.threads)
        numba.set_num_threads(a.threads)
    from snnbench.neurons import CubaLIFParams, cuba_lif
    from snnbench.neurons.fused import alif_multistep_fused, lif_multistep_fused

    g = torch.Generator().manual_seed(0)
    x = torch.randn(a.T, a.B, a.H, generator=g) * 0.5
    gout = torch.randn(a.T, a.B, a.H, generator=g)
    xg = x.clone().requires_grad_()

    def lif_train():
        s, _ = lif_multistep_fused(xg)
        torch.autograd.grad(s, xg, gout)

    def alif_train():
        s, _, _ = alif_multistep_fused(xg, theta_plus=0.1)
        torch.autograd.grad(s, xg, gout)

    def lif_infer():
        with torch.no_grad():
            lif_multistep_fused(x)

    def alif_infer():
        with torch.no_grad():
            alif_multistep_fused(x, theta_plus=0.1)

    cuba_p = CubaLIFParams(alpha=0.8, beta=0.9)

    def cuba_train():
        s, _ = cuba_lif(xg, None, cuba_p)
        torch.autograd.grad(s, xg, gout)

    def cuba_infer():
        with torch.no_grad():
            cuba_lif(x, None, cuba_p)

    cases = {"LIF forward + backward": lif_train, "adaptive LIF forward + backward": alif_train,
             "current-based LIF forward + backward": cuba_train,
             "LIF forward, no grad": lif_infer, "adaptive LIF forward, no grad": alif_infer,
             "current-based LIF forward, no grad": cuba_infer}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(a.reps + 2):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            if r >= 2:
                times[name].append(1e3 * (time.perf_counter() - t0))
    print(f"T={a.T}, B={a.B}, H={a.H}, torch threads {torch.get_num_threads()}: median ms")
    for name, v in times.items():
        print(f"  {name:38s} {statistics.median(v):8.1f}")


if __name__ == "__main__":
    main()
