"""Speed of one training step (forward, backward, Adam) of convolutional SNNs built from
``snnbench.models.blocks`` against the bound: the same layers with ReLU applied once to
the folded ``[T*B, ...]`` input (no neuron dynamics).

Shapes (CIFAR-10, batch 32, T = 4 and 8):

- ``conv``: 3->64->128->256 3x3 convs, each -> [batch norm over time] -> LIF -> 2x2 max
  pool, then fc 4096->10; with and without batch norm;
- ``vgg11``: spiking VGG-11 (:class:`snnbench.models.SpikingVGG`, batch norm over time).

Each row's SNN and bound run interleaved in this one process (load from other processes
hits both alike); the figure is the median step time and the ratio SNN / bound. The load
average is printed with the table: on a shared machine, say so with the numbers.

    python benchmarks/conv_speed.py                 # all rows, 5 reps
    python benchmarks/conv_speed.py --reps 3 --models conv --steps 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from snnbench.models.blocks import Folded, Neurons, conv_unit, make_pool
from snnbench.models.zoo import SpikingVGG, _features

BATCH, CLASSES = 32, 10


class ConvNet(nn.Module):
    """3->64->128->256 3x3 convs, [BN over time], neurons (LIF or ReLU), max pool; fc."""

    def __init__(self, norm: str, spiking: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for out in (64, 128, 256):
            layers += [conv_unit(c, out, norm), Neurons("lif", {}, spiking), make_pool("max", 2)]
            c = out
        self.body = nn.Sequential(*layers)
        self.fc = Folded(nn.Linear(256 * 4 * 4, CLASSES))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x_seq).flatten(2))


class VGGLayers(nn.Module):
    """Spiking VGG-11's layers over a time-first input; with ``spiking=False`` the same
    modules with ReLU (the twin's layers) on the same folded input."""

    def __init__(self, spiking: bool) -> None:
        super().__init__()
        snn = SpikingVGG((3, 32, 32), CLASSES, num_steps=4)
        self.net = snn if spiking else snn.twin()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _features(self.net, x_seq, None, False)


def step_fn(model: nn.Module, steps: int):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(steps, BATCH, 3, 32, 32, generator=gen)
    y = torch.randint(0, CLASSES, (BATCH,), generator=gen)

    def step() -> None:
        out = model(x)
        loss = F.cross_entropy(out.sum(0), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure(pairs: dict[str, nn.Module], steps: int, reps: int) -> dict[str, float]:
    fns = {k: step_fn(m, steps) for k, m in pairs.items()}
    for f in fns.values():  # warm-up (allocator, kernels)
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():  # interleaved: the same load for both
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--models", nargs="+", default=["conv", "conv-bn", "vgg11"],
                    choices=["conv", "conv-bn", "vgg11"])
    args = ap.parse_args()
    torch.manual_seed(0)
    load0 = os.getloadavg()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {BATCH}, "
          f"load average at start {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}")
    print("| model | T | SNN ms | bound ms | SNN / bound |")
    print("|---|---|---|---|---|")
    for name in args.models:
        for steps in args.steps:
            if name == "vgg11":
                pair = {"snn": VGGLayers(True), "bound": VGGLayers(False)}
            else:
                norm = "bn" if name == "conv-bn" else "none"
                pair = {"snn": ConvNet(norm, True), "bound": ConvNet(norm, False)}
            r = measure(pair, steps, args.reps)
            print(f"| {name} | {steps} | {r['snn']:.0f} | {r['bound']:.0f} | "
                  f"{r['snn'] / r['bound']:.2f} |", flush=True)
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}")


if __name__ == "__main__":
    main()
