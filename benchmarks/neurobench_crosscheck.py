"""Cross-check snnbench's efficiency metrics against NeuroBench on one small SNN.

Needs the optional peers: ``pip install neurobench snntorch`` (a separate venv works: the
script puts this checkout's ``src`` on the path). Builds a conv + linear snnTorch network
(Conv2d(1, 4, 3, padding=1) -> Leaky -> Linear(256, 10) -> Leaky) on 8x8 digits, runs
NeuroBench's Benchmark (Footprint, ConnectionSparsity, ParameterCount, SynapticOperations,
ActivationSparsity) and snnbench's counters on the very same spikes, twice: with
Bernoulli-spike input (ACs) and with the analog pixels as direct current (first layer MACs).
Prints both and exits 1 if any differs.

    python benchmarks/neurobench_crosscheck.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import snntorch as snn  # noqa: E402
import torch  # noqa: E402
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from snnbench.metrics import WorkloadAccumulator, static_metrics  # noqa: E402

T, N, BATCH = 10, 64, 16


def build_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[3].weight[:, ::3] = 0.0  # some pruned connections
    return net


class Adapter(nn.Module):
    """The snnTorch net under snnbench's model contract: time-first activity per synapse."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net
        self.record = True
        self.last_activity: dict = {}
        self.spiking_layers = ("conv", "fc")

    def synapse_layers(self):
        yield "conv", self.net[0]
        yield "fc", self.net[3]

    def forward(self, x):  # x [B, T, 1, 8, 8]
        snn.utils.reset(self.net)
        ins, s1s, ins2, s2s = [], [], [], []
        for t in range(x.shape[1]):
            xt = x[:, t]
            s1 = self.net[1](self.net[0](xt))
            h = self.net[2](s1)
            s2, _ = self.net[4](self.net[3](h))
            ins.append(xt), s1s.append(s1), ins2.append(h), s2s.append(s2)
        st = torch.stack
        self.last_activity = {
            "conv": {"input": st(ins), "spikes": st(s1s), "membrane": st(s1s)},
            "fc": {"input": st(ins2), "spikes": st(s2s), "membrane": st(s2s)},
        }
        return st(s2s).sum(0)


def data(spiking: bool) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    x = torch.tensor(d.images[:N] / 16.0, dtype=torch.float32).unsqueeze(1)  # [N, 1, 8, 8]
    seq = x.unsqueeze(1).expand(N, T, 1, 8, 8)
    if spiking:
        seq = torch.bernoulli(seq, generator=torch.Generator().manual_seed(0))
    return seq.contiguous(), torch.tensor(d.target[:N])


def main() -> int:
    ok = True
    for spiking in (True, False):
        x, y = data(spiking)
        net = build_net()
        nb = Benchmark(SNNTorchModel(net), DataLoader(TensorDataset(x, y), batch_size=BATCH), [],
                       [lambda spikes: spikes.sum(1).argmax(-1)],
                       [[Footprint, ConnectionSparsity, ParameterCount], [SynapticOperations, ActivationSparsity]])
        theirs = nb.run(quiet=True)
        model = Adapter(build_net()).eval()
        st = static_metrics(model)  # before running: snnTorch keeps batch-sized state in buffers
        acc = WorkloadAccumulator()
        with torch.no_grad():
            for i in range(0, N, BATCH):
                logits = model(x[i:i + BATCH])
                acc.update(model, logits, y[i:i + BATCH])
        res = acc.compute()
        ours = {
            "Footprint": st["footprint_bytes"],
            "ConnectionSparsity": round(st["connection_sparsity"], 4),
            "ParameterCount": st["parameter_count"],
            "SynapticOperations": {
                "Effective_MACs": res["synaptic_operations"]["effective_macs"],
                "Effective_ACs": res["synaptic_operations"]["effective_acs"],
                "Dense": res["synaptic_operations"]["dense"],
            },
            "ActivationSparsity": res["activation_sparsity"],
        }
        print(f"input: {'Bernoulli spikes' if spiking else 'analog current'}")
        for key, val in ours.items():
            print(f"  {key:<20} neurobench={theirs[key]}  snnbench={val}")
            if isinstance(val, dict):
                same = all(abs(float(val[k]) - float(theirs[key][k])) <= 1e-6 * max(1.0, abs(float(val[k])))
                           for k in val)
            else:
                same = abs(float(val) - float(theirs[key])) <= 1e-6 * max(1.0, abs(float(val)))
            ok &= same
            if not same:
                print("    ^ MISMATCH")
    print("all metrics agree" if ok else "metrics differ")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
