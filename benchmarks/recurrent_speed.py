"""Recurrent LIF layer: fused time loop against the reference loop, forward + backward.

    python benchmarks/recurrent_speed.py --threads 2 [--reps 9]

One process, the two implementations interleaved per repetition (same weights, same
input); prints the median ms of a forward + backward pass and the ratio reference / fused
for a few (T, B, F, H) shapes. Then the peak memory of one forward + backward at
T=500, B=64, F=40, H=512, each implementation in a fresh process (peak RSS minus the RSS
after a 2-step warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch


def memory_child(fused: bool) -> None:
    from speed import _hwm_mib, _rss_mib  # the same /proc readers as benchmarks/speed.py

    from snnbench.neurons.lif import LIFParams
    from snnbench.neurons.recurrent import recurrent_lif

    T, B, F, H = 500, 64, 40, 512
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, F, generator=g)
    w_in = (torch.randn(H, F, generator=g) * 0.3).requires_grad_()
    w_rec = (torch.randn(H, H, generator=g) * 0.02).requires_grad_()
    p = LIFParams(beta=0.9)
    recurrent_lif(x[:2], w_in, w_rec, None, p, fused=fused)[0].sum().backward()
    base = _rss_mib()
    s, _ = recurrent_lif(x, w_in, w_rec, None, p, fused=fused)
    s.sum().backward()
    print(json.dumps({"peak_over_warmup": _hwm_mib() - base,
                      "buffer": T * B * H * 4 / 2**20}))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2] == "fused")
        return
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
    print("peak memory, T=500, B=64, F=40, H=512, MiB over warm-up:")
    for kind in ("reference", "fused"):
        r = subprocess.run([sys.executable, __file__, "--memory-child", kind],
                           capture_output=True, text=True, check=True)
        m = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  {kind:9s} {m['peak_over_warmup']:6.0f} (one [T, B, H] float32 buffer: {m['buffer']:.0f})")


if __name__ == "__main__":
    main()
