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

    python benchmarks/conv_speed.py                 # all rows, 5 reps, writes docs/performance_conv.md
    python benchmarks/conv_speed.py --reps 3 --models conv --steps 4

SpikingJelly and snnTorch rows (the ``conv`` shapes) appear when they are importable: run
it from a separate venv with ``pip install torch==<yours> spikingjelly snntorch -e .``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from snnbench.models.blocks import Folded, Neurons, conv_unit, make_pool
from snnbench.models.zoo import SpikingVGG, _features

BATCH, CLASSES = 32, 10
ROOT = Path(__file__).resolve().parents[1]


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


class JellyConvNet(nn.Module):
    """SpikingJelly multi-step: the same layers, ``LIFNode(tau=10, decay_input=False,
    v_reset=None)`` (soft reset, ``v = 0.9 v + x``, the same dynamics), ATan surrogate;
    the state is reset after each step (SpikingJelly keeps it on the module)."""

    def __init__(self, norm: str) -> None:
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        mods: list[nn.Module] = []
        c = 3
        for out in (64, 128, 256):
            mods.append(layer.Conv2d(c, out, 3, padding=1, bias=norm == "none"))
            if norm != "none":
                mods.append(layer.BatchNorm2d(out))
            mods += [neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None,
                                    surrogate_function=surrogate.ATan()), layer.MaxPool2d(2)]
            c = out
        mods += [layer.Flatten(), layer.Linear(256 * 4 * 4, CLASSES)]
        self.net = nn.Sequential(*mods)
        functional.set_step_mode(self.net, "m")
        self._reset = functional.reset_net

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._reset(self.net)
        return self.net(x_seq)


class SnnTorchConvNet(nn.Module):
    """snnTorch: the same layers, ``Leaky(beta=0.9)`` (subtract reset), ATan surrogate,
    a loop over time steps calling every layer once per step."""

    def __init__(self, norm: str) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        c = 3
        self.convs, self.norms, self.lifs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for out in (64, 128, 256):
            self.convs.append(nn.Conv2d(c, out, 3, padding=1, bias=norm == "none"))
            self.norms.append(nn.BatchNorm2d(out) if norm != "none" else nn.Identity())
            self.lifs.append(snn.Leaky(beta=0.9, spike_grad=surrogate.atan()))
            c = out
        self.fc = nn.Linear(256 * 4 * 4, CLASSES)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        mems = [lif.init_leaky() for lif in self.lifs]
        outs = []
        for x in x_seq.unbind(0):
            h = x
            for i, (conv, bn, lif) in enumerate(zip(self.convs, self.norms, self.lifs)):
                h, mems[i] = lif(bn(conv(h)), mems[i])
                h = F.max_pool2d(h, 2)
            outs.append(self.fc(h.flatten(1)))
        return torch.stack(outs)


def _peers(norm: str) -> dict[str, nn.Module]:
    out: dict[str, nn.Module] = {}
    for name, cls in (("spikingjelly", JellyConvNet), ("snntorch", SnnTorchConvNet)):
        try:
            out[name] = cls(norm)
        except ImportError:
            pass  # peer not installed in this interpreter
    return out


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
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance_conv.md"))
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    torch.manual_seed(0)
    load0 = os.getloadavg()
    head = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{os.cpu_count()} logical CPUs, batch {BATCH}, median of {args.reps} steps after "
            f"one warm-up, load average (1/5/15 min) at start {load0[0]:.1f}/{load0[1]:.1f}/"
            f"{load0[2]:.1f}")
    print(head)
    peers = list(_peers("none")) if "conv" in args.models or "conv-bn" in args.models else []
    names = {"spikingjelly": "SpikingJelly", "snntorch": "snnTorch"}
    for p in peers:
        from importlib.metadata import version

        names[p] = f"{names[p]} {version(p)}"
    lines = ["| model | T | snnbench ms | bound ms | snnbench / bound |"
             + "".join(f" {names[p]} / bound |" for p in peers),
             "|---|---|---|---|---|" + "---|" * len(peers)]
    print(*lines, sep="\n")
    for name in args.models:
        for steps in args.steps:
            if name == "vgg11":
                pair = {"snn": VGGLayers(True), "bound": VGGLayers(False)}
            else:
                norm = "bn" if name == "conv-bn" else "none"
                pair = {"snn": ConvNet(norm, True), "bound": ConvNet(norm, False), **_peers(norm)}
            r = measure(pair, steps, args.reps)
            extra = "".join(
                f" {r[p] / r['bound']:.2f} |" if p in r else " - |" for p in peers)
            lines.append(f"| {name} | {steps} | {r['snn']:.0f} | {r['bound']:.0f} | "
                         f"{r['snn'] / r['bound']:.2f} |{extra}")
            print(lines[-1], flush=True)
    load1 = os.getloadavg()
    tail = f"load average at end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}"
    print(tail)
    if not args.no_write:
        cmd = "python benchmarks/conv_speed.py " + " ".join(sys.argv[1:])
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        Path(args.out).write_text("\n".join([
            "# Convolutional SNN training step (CIFAR-10 shape)", "",
            f"Generated by `{cmd.strip()}` on {date}; do not edit the table by hand.", "",
            f"- {head}; {tail}.",
            "- One training step (forward, backward, Adam), cross-entropy on the output summed "
            "over T, input `[T, 32, 3, 32, 32]` uniform random. The bound: the same layers with "
            "ReLU in place of the neurons, applied once to the folded `[T*B, ...]` input. "
            "Each row's models run interleaved in one process.",
            "- `conv`: 3->64->128->256 3x3 convs, each -> [batch norm over T and B] -> LIF "
            "(beta 0.9, soft reset, arctan surrogate) -> 2x2 max pool, fc 4096->10; "
            "`conv-bn` with batch norm. `vgg11`: spiking VGG-11 (`snnbench.models.SpikingVGG`, "
            "batch norm over time) against its twin's layers. Peers (when installed) run the "
            "`conv` shapes: SpikingJelly multi-step `LIFNode(tau=10, decay_input=False, "
            "v_reset=None)` (the same dynamics), snnTorch `Leaky(beta=0.9)` in its per-step loop.",
            "- The machine is shared: other processes ran during the measurement (see the load "
            "average); ratios of interleaved models are more stable than the absolute times.",
            "", *lines, "",
        ]))


if __name__ == "__main__":
    main()
