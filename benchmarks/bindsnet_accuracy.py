"""BindsNET's Diehl & Cook accuracy on the canonical mnist5k split, measured here.

Runs BindsNET 0.3.4's ``DiehlAndCook2015`` as its ``examples/mnist/eth_mnist.py`` does
(exc 22.5, inh 120, norm 78.4, theta_plus 0.05, dt 1 ms, batch 1, Poisson input at
intensity 128 for 250 steps, learning on), on the same 4,000 / 1,000 split as
``benchmarks/stdp_results.py``: each epoch shows the training images once in a shuffled
order; labels are assigned from that epoch's training presentations (BindsNET's
``assign_labels``), and the test images are shown with learning off and classified by
``all_activity`` (mean count of each class's neurons). A sample that makes no assigned
neuron fire counts as wrong.

Needs the BindsNET environment of ``benchmarks/bindsnet_compare.py`` (``BINDSNET_PYTHON``,
default ``bindsnet-venv/bin/python`` beside the checkout). At ~10 presentations per second one seed of
2 epochs (8,000 training and 2,000 test presentations) takes about 17 minutes here:

    python benchmarks/bindsnet_accuracy.py --seeds 0 1 2 --epochs 2 --jobs 2

Each finished seed appends one line to ``docs/bindsnet_accuracy.jsonl`` (seeds already
there are skipped); ``benchmarks/stdp_results.py render`` puts them beside snnbench's runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE.parent / "docs" / "bindsnet_accuracy.jsonl"


def peer(seed: int, epochs: int, n_neurons: int, steps: int, limit: int | None = None) -> dict:
    """Runs inside the BindsNET environment: per-epoch test accuracy of one seed."""
    import types

    import torch

    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    from bindsnet.encoding import poisson
    from bindsnet.evaluation import all_activity, assign_labels
    from bindsnet.models import DiehlAndCook2015
    from bindsnet.network.monitors import Monitor

    sys.path.insert(0, str(HERE))
    from stdp_speed import load_mnist5k

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = (torch.as_tensor(a) for a in load_mnist5k())
    if limit:  # smoke test on about `limit` images of each part
        xtr, ytr = xtr[:: len(xtr) // limit], ytr[:: len(ytr) // limit]
        xte, yte = xte[:: len(xte) // limit], yte[:: len(yte) // limit]
    xtr = xtr.float().reshape(-1, 1, 28, 28)
    xte = xte.float().reshape(-1, 1, 28, 28)
    ytr, yte = ytr.long(), yte.long()
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n_neurons, exc=22.5, inh=120.0, dt=1.0,
                           norm=78.4, theta_plus=0.05, inpt_shape=(1, 28, 28))
    mon = Monitor(net.layers["Ae"], state_vars=["s"], time=steps)
    net.add_monitor(mon, name="Ae_spikes")

    def show(x: torch.Tensor) -> torch.Tensor:
        net.run(inputs={"X": poisson(datum=x * 128.0, time=steps, dt=1.0).unsqueeze(1)}, time=steps)
        s = mon.get("s").squeeze(1).sum(0).clone()  # [n_neurons] spike counts
        net.reset_state_variables()
        return s

    acc, train_rate = [], []
    for _ in range(epochs):
        net.train(True)
        order = torch.randperm(len(xtr))
        counts = torch.zeros(len(xtr), n_neurons)
        t0 = time.perf_counter()
        for i in order.tolist():
            counts[i] = show(xtr[i])
        train_rate.append(len(xtr) / (time.perf_counter() - t0))
        assignments, _, _ = assign_labels(counts.unsqueeze(1), ytr, 10)
        net.train(False)
        test_counts = torch.stack([show(x) for x in xte])
        pred = all_activity(test_counts.unsqueeze(1), assignments, 10)
        acc.append(float((pred == yte).float().mean()))
    return {"seed": seed, "epochs": epochs, "n_neurons": n_neurons, "steps": steps,
            "test_accuracy_per_epoch": acc, "train_samples_per_s": train_rate,
            "silent_neurons": int((assignments < 0).sum()), "torch": torch.__version__}


def _done() -> set:
    if not RECORDS.exists():
        return set()
    recs = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    return {(r["seed"], r["epochs"], r["n_neurons"], r["steps"]) for r in recs}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=None, help="peer only: smoke test on ~N images, not recorded")
    a = ap.parse_args(argv)
    if a.peer and a.limit:
        print(json.dumps(peer(a.seeds[0], a.epochs, a.neurons, a.steps, a.limit)), flush=True)
        return
    if a.peer:
        rec = peer(a.seeds[0], a.epochs, a.neurons, a.steps) | {"when": time.strftime("%Y-%m-%d %H:%M")}
        with open(RECORDS, "a") as fh:  # one short line per append: safe across processes
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)
        return
    py = os.environ.get("BINDSNET_PYTHON", str(Path(__file__).resolve().parents[2] / "bindsnet-venv" / "bin" / "python"))
    if not Path(py).exists():
        raise SystemExit(f"BindsNET environment not found at {py}: set BINDSNET_PYTHON "
                         "(see benchmarks/bindsnet_compare.py for how to make one)")
    done = _done()
    todo = [s for s in a.seeds if (s, a.epochs, a.neurons, a.steps) not in done]
    running: list[subprocess.Popen] = []
    for s in todo:
        while len(running) >= a.jobs:
            running[0].wait()
            running = [p for p in running if p.poll() is None]
        running.append(subprocess.Popen([py, __file__, "--peer", "--seeds", str(s), "--epochs",
                                         str(a.epochs), "--neurons", str(a.neurons), "--steps",
                                         str(a.steps)]))
    for p in running:
        p.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
