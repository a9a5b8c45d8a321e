"""End to end: the mnist5k-rate preset's SNN trained with dense and with event synapses.

    python benchmarks/event_synapses_e2e.py [--epochs 12] [--seeds 0] [--threads 2]

Same preset, seed and data; the only difference is ``event_synapses: true`` in the second
model's kwargs (its 784->512 layer then skips the zero input spikes; 512->10 stays dense).
Prints training seconds, the speed-up and test accuracy of both (accuracies may differ by
a little: the event product sums in another order, which can flip a spike at threshold).
Run folders go to ``runs/event-synapses-e2e`` (deleted and rerun each time).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        import numba

        torch.set_num_threads(a.threads)
        numba.set_num_threads(a.threads)
    from snnbench.experiments.config import load_raw, validate_suite
    from snnbench.experiments.runner import run_suite

    raw = load_raw("mnist5k-rate")
    exp = raw["experiments"][0]
    snn = next(m for m in exp["models"] if m["name"] == "snn")
    ev = {**snn, "name": "snn_event", "kwargs": {**snn["kwargs"], "event_synapses": True}}
    exp["models"] = [snn, ev]
    exp["train"]["epochs"] = a.epochs
    raw["seeds"] = a.seeds
    raw["name"] = "event-synapses-e2e"
    out = ROOT / "runs" / "event-synapses-e2e"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results = []
    run_suite(validate_suite(raw), out, progress=False, on_result=results.append)
    by: dict[str, list] = {}
    for r in results:
        by.setdefault(r.model, []).append(r)
    print(f"mnist5k-rate, {a.epochs} epochs, seeds {a.seeds}, torch threads {torch.get_num_threads()}")
    for name, rs in by.items():
        secs = sum(r.train_seconds for r in rs)
        acc = [round(100 * r.test_accuracy, 1) for r in rs]
        print(f"  {name:10s} train {secs:7.1f} s  test accuracy {acc}")
    if {"snn", "snn_event"} <= set(by):
        sp = sum(r.train_seconds for r in by["snn"]) / sum(r.train_seconds for r in by["snn_event"])
        print(f"  event synapses: {sp:.2f}x faster training")


if __name__ == "__main__":
    main()
