"""NIR interchange with snnTorch and Norse: the same input, the same output spikes?

Trains (or reuses, ``--run-dir``) two small models with NIR's reset convention (hard reset
to 0): a 784-256-10 LIF network on mnist5k (Bernoulli input, T=25, spike-count readout)
and a recurrent 40-64(rec)-10 LIF network on FSDD log-mel features (direct input current,
spike-count readout). Then, on the test split:

1. snnbench -> NIR -> snnbench (round trip, expected bit-identical);
2. snnbench -> NIR -> snnTorch (``snntorch.import_nir.import_from_nir``) and -> Norse
   (``norse.torch.from_nir``), run step by step on the same input;
3. snnTorch -> NIR -> snnbench and Norse -> NIR -> snnbench: the trained weights copied
   into the peer's own modules, exported by the peer, imported here.

and prints the share of output spikes (all samples x steps x output neurons) that agree,
with the convention each path needs (see docs/interop.md). Needs the ``bench`` extra and
the FSDD folder (``SNNBENCH_DATA`` or ``--data-root``):

    SNNBENCH_DATA=/path/to/data python benchmarks/nir_interchange.py --threads 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from snnbench.experiments.config import validate_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite
from snnbench.experiments.trained import load
from snnbench.interop import nir as snn_nir

DT = 1e-4  # snnTorch's importer and exporter integrate with dt = 1e-4 s; the graph says so


def suite(data_root: str, epochs: int) -> dict:
    lif = {"beta": 0.9, "reset": "hard"}
    return {
        "name": "nir-interchange", "seeds": [0],
        "experiments": [
            {"name": "mnist5k", "data": {"name": "mnist5k"},
             "models": [{"name": "snn", "type": "snn_ff", "hidden": [256],
                         "kwargs": {"encoder": "bernoulli", "num_steps": 25, "readout": "spike_count",
                                    "neuron_kwargs": lif}}],
             "train": {"epochs": epochs, "batch_size": 128, "lr": 2e-3}},
            {"name": "fsdd", "data": {"name": "fsdd", "root": data_root},
             "models": [{"name": "snn_rec", "type": "snn_rec", "hidden": [64],
                         "kwargs": {"readout": "spike_count", "neuron_kwargs": lif}}],
             "train": {"epochs": epochs, "batch_size": 64, "lr": 5e-3, "trim_padding": True}},
        ],
    }


def test_inputs(model, limit: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Encoded test inputs ``[T, N, F]`` (the run's evaluation noise) and lengths."""
    test = model._splits.test
    x = test.x[:limit] if limit else test.x
    lengths = None if test.lengths is None else (test.lengths[:limit] if limit else test.lengths)
    gen = torch.Generator().manual_seed(0)
    seq, _ = model.network.encode(x, lengths, generator=gen)
    return seq.flatten(2), lengths


def agreement(a: torch.Tensor, b: torch.Tensor, lengths: torch.Tensor | None) -> tuple[float, int, int]:
    """Share of equal output spikes over the valid steps, and (differing, total)."""
    mask = torch.ones(a.shape[:2], dtype=torch.bool)
    if lengths is not None:
        mask = torch.arange(a.shape[0])[:, None] < lengths[None]
    m = mask[..., None].expand_as(a)
    diff = int(((a != b) & m).sum())
    total = int(m.sum())
    return 1 - diff / total, diff, total


def snntorch_run(graph, seq):
    """snnTorch's importer gives a GraphModule ``(x_t, state) -> (y_t, state)``; a recurrent
    layer's feedback lives in that state, so it is passed back every step."""
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    net = import_from_nir(copy.deepcopy(graph))
    snntorch.utils.reset(net)
    state = None
    out = []
    with torch.no_grad():
        for x in seq.unbind(0):
            y = net(x, state)
            if isinstance(y, tuple):
                y, state = y
            out.append(y[0] if isinstance(y, tuple) else y)
    return torch.stack(out)


def snntorch_rnn_wiring(model, seq):
    """What snnTorch 1.0's importer computes for a recurrent LIF layer: its RNN subgraph
    wires Input -> W_rec -> LIF, so the feed-forward current passes through the recurrent
    weights too, ``h_t = beta v_{t-1} + W_rec (s_{t-1} + W_in x_t + b_in)``. Written here
    with snnbench's own LIF step, to show that this wiring is the whole difference."""
    from snnbench.neurons.lif import _core_step

    net = model.network
    h = seq
    with torch.no_grad():
        for rec in net.recs:
            p = rec.params()
            cur = torch.nn.functional.linear(h, rec.fc_in.weight, rec.fc_in.bias)
            v = torch.zeros_like(cur[0])
            ref = torch.zeros(cur.shape[1:], dtype=torch.int32)
            s = torch.zeros_like(cur[0])
            out = []
            for c in cur.unbind(0):
                x = torch.nn.functional.linear(s + c, rec.fc_rec.weight)
                s, _, v, ref = _core_step(x, v, ref, p.beta, p.threshold, p.reset, float(p.v_reset), 0,
                                          p.surrogate, False)
                out.append(s)
            h = torch.stack(out)
        return net.out_neurons(torch.nn.functional.linear(h, net.out.weight, net.out.bias))[0]


def fold_r(graph):
    """Norse's importer ignores ``r`` (it assumes r = 1): move r into the Affine/Linear
    synapses that feed each LIF (weights x r, bias x r; r = 1), an equivalent graph for a LIF
    with v_leak = 0."""
    import nir

    g = copy.deepcopy(graph)
    for name, node in g.nodes.items():
        if isinstance(node, nir.LIF):
            r = np.asarray(node.r, dtype=np.float64)
            for a, b in g.edges:
                if b == name and isinstance(g.nodes[a], nir.Affine):
                    aff = g.nodes[a]
                    g.nodes[a] = nir.Affine(weight=(aff.weight * r[:, None]).astype(np.float32),
                                            bias=(aff.bias * r).astype(np.float32))
                elif b == name and isinstance(g.nodes[a], nir.Linear):  # a recurrent synapse
                    g.nodes[a] = nir.Linear(weight=(g.nodes[a].weight * r[:, None]).astype(np.float32))
            node.r = np.ones_like(r)
    return g


def norse_run(graph, seq):
    import norse.torch as norse

    net = norse.from_nir(fold_r(graph), dt=DT, ignore_warnings=True)
    state = None
    out = []
    with torch.no_grad():
        for x in seq.unbind(0):
            y, state = net(x, state)
            out.append(y)
    return torch.stack(out)


def snntorch_export(model):
    """The trained weights in snnTorch's own modules, exported by snnTorch."""
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    net = model.network
    layers = []
    for fc in [*net.fcs, net.out]:
        lin = torch.nn.Linear(fc.in_features, fc.out_features)
        lin.load_state_dict(fc.state_dict())
        # per-neuron beta and threshold: snnTorch 1.0 writes scalar ones as 0-d arrays, which
        # nir 1.0.8's type inference rejects (shape [] against the layer's [n])
        n = fc.out_features
        layers += [lin, snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), reset_mechanism="zero",
                                  init_hidden=True, reset_delay=False, output=fc is net.out)]
    tnet = torch.nn.Sequential(*layers)
    graph = export_to_nir(tnet, torch.zeros(net.fcs[0].in_features))  # NIR shapes carry no batch
    return tnet, graph


def norse_export(model):
    import norse.torch as norse

    net = model.network
    mods = []
    tau_inv = (1 - 0.9) / DT  # Norse's Euler step: v += dt * tau_mem_inv * (-v + i)
    for fc in [*net.fcs, net.out]:
        lin = torch.nn.Linear(fc.in_features, fc.out_features)
        with torch.no_grad():  # Norse scales the input by dt * tau_mem_inv = 1 - beta: undo it
            lin.weight.copy_(fc.weight / (1 - 0.9))
            lin.bias.copy_(fc.bias / (1 - 0.9))
        mods += [lin, norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(tau_inv)), dt=DT)]
    nnet = norse.SequentialState(*mods)
    graph = norse.to_nir(nnet, torch.zeros(1, net.fcs[0].in_features), dt=DT)
    return nnet, graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--run-dir", default="runs/nir-interchange")
    ap.add_argument("--data-root", default=os.environ.get("SNNBENCH_DATA"))
    ap.add_argument("--limit", type=int, default=None, help="test samples per model (default: all)")
    ap.add_argument("--json", default=None, help="append the results to this JSON-lines file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.data_root:
        raise SystemExit("pass --data-root or SNNBENCH_DATA: the folder that holds fsdd/")
    root = str(Path(args.data_root) / "fsdd") if (Path(args.data_root) / "fsdd").is_dir() else args.data_root
    run = Path(args.run_dir)
    if not (run / "results.json").is_file():
        s = validate_suite(suite(root, args.epochs))
        if not (run / "config.yaml").is_file():
            prepare_run_dir(s, run)
        t0 = time.time()
        run_suite(s, run, progress=False)
        print(f"trained in {time.time() - t0:.0f} s -> {run}")
    rows = []
    for exp, mname in (("mnist5k", "snn"), ("fsdd", "snn_rec")):
        model = load(run, experiment=exp, model=mname)
        acc = json.loads((run / exp / mname / "seed0" / "final.json").read_text())["test_accuracy"]
        seq, lengths = test_inputs(model, args.limit)
        with torch.no_grad():
            ours = model.network.run(seq.reshape(seq.shape[0], seq.shape[1], *model.network.encoded_shape))
        graph = snn_nir.export(model, dt=DT)
        results = {"round trip (snnbench)": lambda: snn_nir.load(graph)(seq),
                   "snnTorch import": lambda: snntorch_run(graph, seq),
                   "Norse import (r folded into weights)": lambda: norse_run(graph, seq)}
        if exp == "mnist5k":
            def from_snntorch():
                _, g = snntorch_export(model)
                return snn_nir.load(g, dt=DT)(seq)

            def from_norse():
                _, g = norse_export(model)
                # Norse 1.1 writes tau = dt / tau_mem_inv: dt**2 recovers its own step
                return snn_nir.load(g, dt=DT ** 2)(seq)

            results["snnTorch export -> snnbench"] = from_snntorch
            results["Norse export -> snnbench"] = from_norse
        else:
            th = {}

            def snntorch_vs_wiring():
                th["out"] = snntorch_run(graph, seq)
                return th["out"]

            results["snnTorch import"] = snntorch_vs_wiring
            results["snnTorch import vs W_rec(s + x) wiring"] = lambda: (th["out"], snntorch_rnn_wiring(model, seq))
        print(f"\n{exp} / {mname}: test accuracy {100 * acc:.1f} %, {seq.shape[1]} test samples, T={seq.shape[0]}, "
              f"{int(ours.sum())} output spikes")
        for name, fn in results.items():
            try:
                with torch.no_grad():
                    out = fn()
                ref = ours
                if isinstance(out, tuple):  # (output, the reference it is compared with)
                    out, ref = out
                share, diff, total = agreement(out.reshape(ours.shape), ref.reshape(ours.shape), lengths)
                line = f"  {name:<40} {100 * share:9.4f} % identical ({diff} of {total} differ)"
                rows.append({"model": f"{exp}/{mname}", "path": name, "identical": share, "differ": diff,
                             "total": total})
            except Exception as err:  # a peer that cannot run the graph: say why, go on
                line = f"  {name:<40} failed: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
                rows.append({"model": f"{exp}/{mname}", "path": name, "error": f"{type(err).__name__}: {err}"[:300]})
            print(line, flush=True)
    load_avg = os.getloadavg()
    print(f"\nload average {load_avg[0]:.1f} / {load_avg[1]:.1f} / {load_avg[2]:.1f}")
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
