"""Speed of the learnable-delay layer against a plain convolution (and DCLS when installed).

One training-style call = forward + backward of ``sum(output)`` at the issue's shape:
batch 64, 700 inputs, 256 outputs, T = 100 steps, max delay 25 (kernel 25 lags).

- ``DelayedLinear``: snnbench's layer, time-first ``[T, B, 700]`` in, ``[T, B, 256]`` out;
  its cost includes building the Gaussian kernel and the layout changes.
- ``nn.Conv1d(700, 256, 25)``: the same convolution on an already padded batch-first input
  ``[B, 700, T + 24]`` (its best case: no kernel construction, no permutes).
- ``Dcls1d`` (``pip install dcls``, Gaussian version, one kernel element per connection,
  dilated kernel size 25), on the same padded input, when the package imports.

All methods run in one process, interleaved round-robin so that load from other processes
hits them alike; the table gives the median and the ratio to the plain convolution.

Run (all three, the venv that has dcls):
    python benchmarks/delay_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from snnbench.synapses.delays import DelayedLinear, delay_kernel


def _make_methods(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    g = torch.Generator().manual_seed(0)
    t_len, batch, n_in, n_out, k = args.T, args.batch, args.n_in, args.n_out, args.max_delay
    x_tf = (torch.rand(t_len, batch, n_in, generator=g) < 0.1).float()
    x_pad = F.pad(x_tf.permute(1, 2, 0), (k - 1, 0)).contiguous()
    if args.input_grad:
        x_tf.requires_grad_()
        x_pad.requires_grad_()

    layer = DelayedLinear(n_in, n_out, k, generator=g)
    conv = torch.nn.Conv1d(n_in, n_out, k, bias=False)
    with torch.no_grad():
        # Same numbers through both paths: the plain conv gets the delay layer's kernel
        # (time-reversed for cross-correlation), so the outputs must agree.
        conv.weight.copy_(delay_kernel(layer.weight, layer.positions, float(layer.sigma), k).flip(-1))
        y_layer, _ = layer(x_tf)
        y_conv = conv(x_pad).permute(2, 0, 1)
        err = float((y_layer - y_conv).abs().max())
        if err > 1e-4:
            raise RuntimeError(f"delay layer and Conv1d disagree (max abs diff {err:.3g})")

    def run_layer() -> None:
        y, _ = layer(x_tf)
        y.sum().backward()

    def run_conv() -> None:
        conv(x_pad).sum().backward()

    methods = {"DelayedLinear (snnbench)": run_layer, "nn.Conv1d (plain)": run_conv}
    try:
        from DCLS.construct.modules import Dcls1d  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        dcls = Dcls1d(n_in, n_out, kernel_count=1, dilated_kernel_size=k, bias=False, version="gauss")

        def run_dcls() -> None:
            dcls(x_pad).sum().backward()

        methods["Dcls1d (dcls package)"] = run_dcls
    # Drop the grads between calls like optimizer.zero_grad(set_to_none=True) does.
    params = [*layer.parameters(), *conv.parameters()] + (
        [*dcls.parameters()] if "Dcls1d (dcls package)" in methods else []
    )
    inputs = [x_tf, x_pad]

    def reset() -> None:
        for p in params + inputs:
            p.grad = None

    return {name: (lambda f=f: (reset(), f())) for name, f in methods.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n-in", type=int, default=700)
    ap.add_argument("--n-out", type=int, default=256)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--max-delay", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-input-grad", dest="input_grad", action="store_false",
                    help="do not back-propagate to the input (a first layer)")
    ap.add_argument("--json", type=str, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    methods = _make_methods(args)
    times: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(args.warmup + args.repeats):
        for name, f in methods.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            dt, dc = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
            if i >= args.warmup:
                times[name].append(dt)
                cpu[name].append(dc)
    base = statistics.median(times["nn.Conv1d (plain)"])
    base_cpu = statistics.median(cpu["nn.Conv1d (plain)"])
    print(
        f"forward+backward, batch {args.batch}, {args.n_in} -> {args.n_out}, T={args.T}, "
        f"max delay {args.max_delay}, input grad {args.input_grad}, "
        f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}"
    )
    # CPU time (all threads of this process) is the steadier measure when other processes
    # share the cores: waiting for a core does not count.
    print(f"{'method':28s} {'median ms':>10s} {'min ms':>8s} {'ratio':>6s} {'CPU ms':>8s} {'CPU ratio':>9s}")
    result = {"config": vars(args), "torch": torch.__version__, "methods": {}}
    for name, ts in times.items():
        med, med_cpu = statistics.median(ts), statistics.median(cpu[name])
        print(f"{name:28s} {med:10.1f} {min(ts):8.1f} {med / base:6.2f} {med_cpu:8.1f} "
              f"{med_cpu / base_cpu:9.2f}")
        result["methods"][name] = {"median_ms": med, "min_ms": min(ts), "max_ms": max(ts),
                                   "ratio_to_conv": med / base, "median_cpu_ms": med_cpu,
                                   "cpu_ratio_to_conv": med_cpu / base_cpu}
    if "Dcls1d (dcls package)" not in times:
        print("Dcls1d: dcls not importable here; quoted from the issue (not measured here): "
              "Dcls1d 1,220 ms vs plain Conv1d 492 ms (2.48x)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
