"""What recording costs: inference over the mnist5k test split with and without
``snnbench.record`` (spikes of every layer, and membrane too), in one process.

The model is the ``mnist5k-rate`` preset's shape with a spiking output (784-512-10 LIF,
Bernoulli input, T=25, spike-count readout; weights as initialised: the work per step is the
same dense product whatever the weights). Runs alternate plain / recorded so that drift in
the machine's load hits both; the median of ``--repeats`` passes is reported, as wall time
and as this process's CPU time (less sensitive to other jobs on a shared machine).

    python benchmarks/record_overhead.py --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from snnbench.data import load_dataset
from snnbench.data.batching import iterate_batches
from snnbench.models import FeedForwardSNN
from snnbench.models.recording import record


def one_pass(model, split, batch_size: int, mode: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one pass over ``split``."""
    gen = torch.Generator().manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        if mode == "plain":
            for x, _, _ in iterate_batches(split, batch_size):
                model(x, generator=gen)
        else:
            with record(model, spikes=True, membrane=(mode == "spikes+membrane")) as rec:
                for x, _, _ in iterate_batches(split, batch_size):
                    model(x, generator=gen)
            total = sum(rec[n].spikes.numel() for n in rec if rec[n].spikes is not None)
            assert total > 0
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--hidden", type=int, nargs="+", default=[512])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist5k", seed=0)
    torch.manual_seed(0)
    model = FeedForwardSNN((1, 28, 28), args.hidden, 10, encoder="bernoulli", num_steps=25,
                           readout="spike_count").eval()
    modes = ("plain", "spikes", "spikes+membrane")
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    one_pass(model, data.test, args.batch_size, "plain")  # warm-up
    for _ in range(args.repeats):
        for m in modes:
            wall, used = one_pass(model, data.test, args.batch_size, m)
            times[m].append(wall)
            cpu[m].append(used)
    load = os.getloadavg()
    base = statistics.median(times["plain"])
    cbase = statistics.median(cpu["plain"])
    print(f"mnist5k test split ({len(data.test)} samples), 784-{'-'.join(map(str, args.hidden))}-10 LIF, T=25, "
          f"batch {args.batch_size}, {args.threads} threads, median of {args.repeats}; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    for m in modes:
        med = statistics.median(times[m])
        cmed = statistics.median(cpu[m])
        print(f"  {m:<16} wall {1e3 * med:8.1f} ms  x{med / base:.3f} (min {1e3 * min(times[m]):.1f})   "
              f"CPU {1e3 * cmed:8.1f} ms  x{cmed / cbase:.3f}")


if __name__ == "__main__":
    main()
