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
    python benchmarks/conv_speed.py --reps 3 --models conv --steps 4 --no-memory

SpikingJelly and snnTorch columns (every row: the conv shapes and VGG-11) appear when they
are importable: run it from a separate venv with ``pip install torch==<yours> spikingjelly
snntorch -e .``. Peak memory (``--mem-steps 8``) is measured per model in fresh processes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from snnbench._native import keep_freed_memory
from snnbench.models.blocks import Folded, Neurons, channels_last, conv_unit, make_pool
from snnbench.models.zoo import VGG11, SpikingVGG, _features

BATCH, CLASSES = 32, 10
ROOT = Path(__file__).resolve().parents[1]


class ConvNet(nn.Module):
    """3->64->128->256 3x3 convs, [BN over time], neurons (LIF or ReLU), max pool; fc."""

    def __init__(self, norm: str, spiking: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for out in (64, 128, 256):
            layers += [conv_unit(c, out, norm), Neurons("lif", {}, spiking, overwrite_input=True),
                       make_pool("max", 2)]
            c = out
        self.body = nn.Sequential(*layers)
        self.fc = Folded(nn.Linear(256 * 4 * 4, CLASSES))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(channels_last(x_seq)).flatten(2))


class VGGLayers(nn.Module):
    """Spiking VGG-11's layers over a time-first input; with ``spiking=False`` the same
    modules with ReLU (the twin's layers) on the same folded input."""

    def __init__(self, spiking: bool) -> None:
        super().__init__()
        snn = SpikingVGG((3, 32, 32), CLASSES, num_steps=4)
        self.net = snn if spiking else snn.twin()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _features(self.net, x_seq, None, False)


CONV = (64, "M", 128, "M", 256, "M")  # the conv stack: 32x32 -> 4x4x256


def _fc_in(cfg: tuple) -> int:
    chans = [c for c in cfg if c != "M"]
    side = 32 >> sum(1 for c in cfg if c == "M")
    return chans[-1] * side * side


def _layers(cfg: tuple, norm: str, conv, batch_norm, pool, activation) -> list[nn.Module]:
    """3x3 conv -> [batch norm] -> activation per channel entry of ``cfg``, a 2x2 pool per
    ``"M"``, from the given layer classes (a peer's, or plain torch's)."""
    mods: list[nn.Module] = []
    c = 3
    for out in cfg:
        if out == "M":
            mods.append(pool(2))
            continue
        mods.append(conv(c, out, 3, padding=1, bias=norm == "none"))
        if norm != "none":
            mods.append(batch_norm(out))
        mods.append(activation())
        c = out
    return mods


class JellyConvNet(nn.Module):
    """SpikingJelly multi-step: the same layers (``cfg``: channels and ``"M"`` 2x2 max
    pools; the conv stack or VGG-11), ``LIFNode(tau=10, decay_input=False, v_reset=None)``
    (soft reset, ``v = 0.9 v + x``, the same dynamics), ATan surrogate; the state is reset
    before each step (SpikingJelly keeps it on the module)."""

    def __init__(self, norm: str, cfg: tuple = CONV) -> None:
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        mods = _layers(cfg, norm, layer.Conv2d, layer.BatchNorm2d, layer.MaxPool2d,
                       lambda: neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None,
                                              surrogate_function=surrogate.ATan()))
        mods += [layer.Flatten(), layer.Linear(_fc_in(cfg), CLASSES)]
        self.net = nn.Sequential(*mods)
        functional.set_step_mode(self.net, "m")
        self._reset = functional.reset_net

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._reset(self.net)
        return self.net(x_seq)


class SnnTorchConvNet(nn.Module):
    """snnTorch: the same layers (``cfg`` as above), ``Leaky(beta=0.9)`` (subtract reset),
    ATan surrogate, a loop over time steps calling every layer once per step."""

    def __init__(self, norm: str, cfg: tuple = CONV) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        c = 3
        self.cfg = cfg
        self.convs, self.norms, self.lifs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for out in cfg:
            if out == "M":
                continue
            self.convs.append(nn.Conv2d(c, out, 3, padding=1, bias=norm == "none"))
            self.norms.append(nn.BatchNorm2d(out) if norm != "none" else nn.Identity())
            self.lifs.append(snn.Leaky(beta=0.9, spike_grad=surrogate.atan()))
            c = out
        self.fc = nn.Linear(_fc_in(cfg), CLASSES)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        mems = [lif.init_leaky() for lif in self.lifs]
        outs = []
        for x in x_seq.unbind(0):
            h, i = x, 0
            for item in self.cfg:
                if item == "M":
                    h = F.max_pool2d(h, 2)
                    continue
                h, mems[i] = self.lifs[i](self.norms[i](self.convs[i](h)), mems[i])
                i += 1
            outs.append(self.fc(h.flatten(1)))
        return torch.stack(outs)


class ChannelsFirstBound(nn.Module):
    """The issue's bound written with plain torch layers: Conv2d -> [BatchNorm2d] -> ReLU
    (-> MaxPool2d) over the folded ``[T*B, C, H, W]`` input in PyTorch's default
    (channels-first) layout, then the classifier (``cfg`` as above; VGG-11's fc 512->10)."""

    def __init__(self, norm: str, cfg: tuple = CONV) -> None:
        super().__init__()
        self.body = nn.Sequential(*_layers(cfg, norm, nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.ReLU))
        self.fc = nn.Linear(_fc_in(cfg), CLASSES)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        t, b = x_seq.shape[:2]
        return self.fc(self.body(x_seq.flatten(0, 1)).flatten(1)).view(t, b, -1)


class ChannelsLast(nn.Module):
    """A peer's model run channels-last (weights and input), the layout snnbench uses:
    ``--peers-channels-last`` shows how much of a difference is the layout alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.model(channels_last(x_seq))


def _peers(norm: str, cfg: tuple = CONV, layout: str = "default") -> dict[str, nn.Module]:
    out: dict[str, nn.Module] = {}
    for name, cls in (("spikingjelly", JellyConvNet), ("snntorch", SnnTorchConvNet)):
        try:
            out[name] = cls(norm, cfg) if layout == "default" else ChannelsLast(cls(norm, cfg))
        except ImportError:
            pass  # peer not installed in this interpreter
    return out


def build_row(name: str, peers_layout: str = "default") -> dict[str, nn.Module]:
    """The models of one row: snnbench, its twin's layers (the bound, in snnbench's
    channels-last layout), the same layers channels-first and the installed peers."""
    if name == "vgg11":
        return {"snn": VGGLayers(True), "bound": VGGLayers(False), "bound_cf": ChannelsFirstBound("bn", VGG11),
                **_peers("bn", VGG11, peers_layout)}
    norm = "bn" if name == "conv-bn" else "none"
    return {"snn": ConvNet(norm, True), "bound": ConvNet(norm, False), "bound_cf": ChannelsFirstBound(norm),
            **_peers(norm, CONV, peers_layout)}


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mib() -> float:
    """Peak RSS of this process (VmHWM; getrusage's ru_maxrss would keep the parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(row: str, impl: str, steps: int) -> None:
    """In a fresh process: peak RSS of ``steps``-step training steps minus the RSS after
    the model, its Adam state and a 2-step warm-up step exist (one-off costs apart)."""
    torch.manual_seed(0)
    model = build_row(row)[impl]
    step_fn(model, 2)()
    base = _rss_mib()
    step = step_fn(model, steps)  # x, y and a second Adam state: small next to activations
    for _ in range(2):
        step()
    print(json.dumps({"base": base, "peak": _hwm_mib(), "delta": _hwm_mib() - base}))


def measure_memory(row: str, impls: list[str], steps: int, repeats: int, keep_freed: bool) -> dict[str, float]:
    """Per implementation the median over ``repeats`` fresh processes of the peak above base (MiB)."""
    out: dict[str, float] = {}
    for impl in impls:
        vals = []
        for _ in range(repeats):
            cmd = [sys.executable, __file__, "--memory-child", row, impl, str(steps)] + \
                (["--keep-freed-memory"] if keep_freed else [])
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            try:
                vals.append(json.loads(r.stdout.strip().splitlines()[-1])["delta"])
            except (IndexError, json.JSONDecodeError, KeyError):
                raise SystemExit(f"memory child {row}/{impl} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        out[impl] = statistics.median(vals)
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
    ap.add_argument("--mem-steps", type=int, default=8, help="T of the peak-memory table")
    ap.add_argument("--mem-repeats", type=int, default=3, help="fresh processes per memory figure")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", help="default: docs/performance_conv.md (docs/performance_conv_layout.md "
                                  "with --peers-channels-last)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="glibc keeps freed memory for reuse in every process (faster, higher peak memory; "
                         "writes docs/performance_conv_malloc.md)")
    ap.add_argument("--peers-channels-last", action="store_true",
                    help="run the peers channels-last too (how much of the difference is the layout alone)")
    ap.add_argument("--memory-child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        row, impl, steps = args.memory_child
        if args.keep_freed_memory:
            keep_freed_memory()
        memory_child(row, impl, int(steps))
        return
    # for every model of the process alike, as SNNBENCH_KEEP_FREED_MEMORY=1 does for the command
    malloc = "glibc keeping freed memory (snnbench._native.keep_freed_memory)" \
        if args.keep_freed_memory and keep_freed_memory() else "the C library's default allocator settings"
    if os.environ.get("THP_MEM_ALLOC_ENABLE", "0") not in ("", "0"):  # read by torch at its import
        malloc += ", with PyTorch's THP_MEM_ALLOC_ENABLE=1 (huge pages for tensors of 2 MiB and more)"
    torch.manual_seed(0)
    load0 = os.getloadavg()
    head = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{os.cpu_count()} logical CPUs, batch {BATCH}, median of {args.reps} steps after "
            f"one warm-up, {malloc}, load average (1/5/15 min) at start {load0[0]:.1f}/{load0[1]:.1f}/"
            f"{load0[2]:.1f}")
    print(head)
    peers = list(_peers("none"))
    names = {"spikingjelly": "SpikingJelly", "snntorch": "snnTorch"}
    for p in peers:
        from importlib.metadata import version

        names[p] = f"{names[p]} {version(p)}"
    if args.peers_channels_last:
        args.no_memory = True
        names = {p: f"{n} (channels-last)" for p, n in names.items()}
    out = Path(args.out or ROOT / "docs" / ("performance_conv_layout.md" if args.peers_channels_last
                                            else "performance_conv_malloc.md" if args.keep_freed_memory
                                            else "performance_conv.md"))
    lines = ["| model | T | snnbench ms | bound ms | snnbench / bound | snnbench / channels-first bound |"
             + "".join(f" {names[p]} / bound |" for p in peers)
             + "".join(f" snnbench / {names[p]} |" for p in peers),
             "|---|---|---|---|---|---|" + "---|" * (2 * len(peers))]
    print(*lines, sep="\n")
    for name in args.models:
        for steps in args.steps:
            r = measure(build_row(name, "channels_last" if args.peers_channels_last else "default"), steps, args.reps)
            extra = "".join(f" {r[p] / r['bound']:.2f} |" if p in r else " - |" for p in peers)
            extra += "".join(f" {r['snn'] / r[p]:.2f} |" if p in r else " - |" for p in peers)
            lines.append(f"| {name} | {steps} | {r['snn']:.0f} | {r['bound']:.0f} | "
                         f"{r['snn'] / r['bound']:.2f} | {r['snn'] / r['bound_cf']:.2f} |{extra}")
            print(lines[-1], flush=True)
    mem_lines: list[str] = []
    if not args.no_memory:
        impls = ["snn", "bound", *peers]  # the channels-first bound: speed only
        mem_lines = ["| model | T | snnbench MiB | bound MiB |"
                     + "".join(f" {names[p]} MiB |" for p in peers)
                     + "".join(f" snnbench / {names[p]} |" for p in peers),
                     "|---|---|---|---|" + "---|" * (2 * len(peers))]
        print(*mem_lines, sep="\n")
        for name in args.models:
            m = measure_memory(name, impls, args.mem_steps, args.mem_repeats, args.keep_freed_memory)
            mem_lines.append(
                f"| {name} | {args.mem_steps} | {m['snn']:.0f} | {m['bound']:.0f} |"
                + "".join(f" {m[p]:.0f} |" for p in peers)
                + "".join(f" {m['snn'] / m[p]:.2f} |" if m[p] > 0 else " - |" for p in peers))
            print(mem_lines[-1], flush=True)
    load1 = os.getloadavg()
    tail = f"load average at end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}"
    print(tail)
    if not args.no_write:
        cmd = "python benchmarks/conv_speed.py " + " ".join(sys.argv[1:])
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        mem_text = [] if not mem_lines else [
            "", "## Peak memory of one training step", "",
            f"Peak resident memory (VmHWM) above the process's memory once the model, its Adam state "
            f"and a 2-step warm-up step exist, for two training steps at T={args.mem_steps}, batch "
            f"{BATCH}; median of {args.mem_repeats} fresh processes per figure (one process per model, "
            "so peaks do not mix).", "", *mem_lines,
        ]
        out.write_text("\n".join([
            "# Convolutional SNN training step (CIFAR-10 shape)", "",
            f"Generated by `{cmd.strip()}` on {date}; do not edit the tables by hand.", "",
            f"- {head}; {tail}.",
            "- One training step (forward, backward, Adam), cross-entropy on the output summed "
            "over T, input `[T, 32, 3, 32, 32]` uniform random. The bound: the same layers with "
            "ReLU in place of the neurons, applied once to the folded `[T*B, ...]` input, in the "
            "layout snnbench's conv models use (channels-last: `snnbench.models.blocks.channels_last`); "
            "the channels-first bound: the same layers in plain torch modules in PyTorch's default "
            "layout, the layout the peers run in. Each row's models run interleaved in one process.",
            "- `conv`: 3->64->128->256 3x3 convs, each -> [batch norm over T and B] -> LIF "
            "(beta 0.9, soft reset, arctan surrogate) -> 2x2 max pool, fc 4096->10; "
            "`conv-bn` with batch norm. `vgg11`: spiking VGG-11 (`snnbench.models.SpikingVGG`, "
            "batch norm over time, fc 512->10) against its twin's layers. snnbench's neurons keep "
            "their membrane in the conv unit's output buffer (`overwrite_input`, as the model "
            "builders set it), as an in-place ReLU would; the bound's ReLU is not in place (an "
            "in-place ReLU after the conv was measured slower here). Peers (when installed) run "
            "the same layers: SpikingJelly multi-step `LIFNode(tau=10, decay_input=False, "
            "v_reset=None)` (the same dynamics) with its multi-step `BatchNorm2d`, snnTorch "
            "`Leaky(beta=0.9)` in its per-step loop.",
            "- Targets (issue 17): snnbench / bound <= 1.10 and snnbench faster than both peers "
            "(snnbench / peer < 1); peak memory at T=8 at most 0.8x SpikingJelly's.",
            "- Peers: " + ("run channels-last here (weights and input), the layout snnbench uses: "
                           "how much of the difference is the layout alone." if args.peers_channels_last
                           else "run as their users write them (channels-first); "
                           "`python benchmarks/conv_speed.py --peers-channels-last` runs them "
                           "channels-last too (`docs/performance_conv_layout.md`): most of snnbench's "
                           "lead is the layout."),
            "- The machine is shared: other processes ran during the measurement (see the load "
            "average); ratios of interleaved models are more stable than the absolute times.",
            "", *lines, *mem_text, "",
        ]))


if __name__ == "__main__":
    main()
