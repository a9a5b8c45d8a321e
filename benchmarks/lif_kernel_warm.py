"""The C LIF kernel alone against ReLU's own kernels, on warm buffers: the conv stack's
three LIF layer shapes (batch 32; 64x32x32, 128x16x16, 256x8x8 neurons) at T = 4 and 8,
float32, torch's thread count. No allocation is timed (every output buffer exists before
the clock starts), so the figures are the kernels' arithmetic and memory traffic only;
``benchmarks/lif_recompute_ab.py`` and ``conv_speed.py`` give whole training steps.

- ``lif fwd``: spikes and v_T; ``lif fwd, h over x``: also h_t written over the input
  (``overwrite_input``); ReLU's: ``clamp_min(x, 0, out=y)``.
- ``lif bwd, over h``: dL/dx written over the saved h (``overwrite_input``); ``lif bwd,
  recompute``: h recomputed from the saved input; ReLU's: ``threshold_backward`` into a
  given buffer.

The overwriting variants first restore their input with a copy; the copy's own median
time is subtracted.

    python benchmarks/lif_kernel_warm.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import torch

from snnbench._native import num_threads
from snnbench.neurons.kernels import c as c_kernels
from snnbench.neurons.kernels._contract import sg_consts
from snnbench.neurons.surrogate import ATan

SHAPES = ((64, 32), (128, 16), (256, 8))


def median_ms(fn, reps: int = 7) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def row(T: int, channels: int, side: int) -> dict[str, float]:
    torch.manual_seed(0)
    x0 = torch.randn(T, 32 * channels * side * side)
    N = x0.shape[1]
    x, s, y, gx = (torch.empty_like(x0) for _ in range(4))
    gs, vT = torch.randn_like(x0), torch.empty(N)
    zero, beta = torch.zeros(1), torch.tensor([0.9])
    fwd, bwd = c_kernels._fn("snn_lif_fwd", x0), c_kernels._fn("snn_lif_bwd", x0)
    kind, alpha, c0, c1 = sg_consts(ATan(2.0))
    nt = num_threads(T * N)
    p = lambda t: t.data_ptr()  # noqa: E731

    def lif_fwd(h_over_x: bool):
        src = x if h_over_x else x0
        fwd(p(src), p(zero), 1, p(vT), p(beta), 1, 1.0, 0.0, 0, int(h_over_x), p(s),
            p(src) if h_over_x else None, T, N, nt)

    def lif_bwd(over_h: bool):
        h, xin, out = (x, None, x) if over_h else (None, x0, gx)
        bwd(None if h is None else p(h), None if xin is None else p(xin), p(gs), None, None,
            p(zero), 1, p(beta), 1, 1.0, 0.0, 0, 0, kind, alpha, c0, c1, None, 0, p(out), None,
            T, N, nt)

    restore = lambda: x.copy_(x0)  # noqa: E731
    cases = {
        "lif fwd": lambda: lif_fwd(False),
        "lif fwd, h over x": lambda: (restore(), lif_fwd(True)),
        "relu fwd": lambda: torch.clamp_min(x0, 0, out=y),
        "lif bwd, over h": lambda: (restore(), lif_bwd(True)),
        "lif bwd, recompute": lambda: lif_bwd(False),
        "relu bwd": lambda: torch.ops.aten.threshold_backward.grad_input(gs, y, 0.0, grad_input=gx),
        "copy": restore,
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(5):  # interleaved rounds
        for k, fn in cases.items():
            times[k].append(median_ms(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in ("lif fwd, h over x", "lif bwd, over h"):
        med[k] -= med["copy"]
    del med["copy"]
    return med


def main() -> int:
    if not c_kernels.available():
        raise SystemExit("the compiled C kernels are not built (pip install -e .)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average at start "
          + "/".join(f"{v:.1f}" for v in os.getloadavg()))
    head = None
    for T in (4, 8):
        for channels, side in SHAPES:
            med = row(T, channels, side)
            if head is None:
                head = list(med)
                print("| T | neurons | " + " | ".join(f"{k} ms" for k in head) + " |")
                print("|---|---|" + "---|" * len(head))
            print(f"| {T} | {channels}x{side}x{side} | " + " | ".join(f"{med[k]:.2f}" for k in head)
                  + " |", flush=True)
    print("load average at end " + "/".join(f"{v:.1f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
