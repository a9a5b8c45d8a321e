"""Speed and memory of a 784-H-10 LIF network: snnbench's fused neurons against the
matmul-only bound, a plain torch loop, and (when installed) snnTorch, SpikingJelly, Norse.

Every model of one comparison runs in this one process, interleaved step by step so that
load from other processes hits all of them alike; the figure is the median step time.
Peak memory is measured in a fresh subprocess per model so that peaks do not mix.

    python benchmarks/speed.py                    # full table, writes docs/performance.md
    python benchmarks/speed.py --quick            # few reps, prints only
    python benchmarks/speed.py --configs 25:800 --reps 20 --no-write

Peers are imported from the running interpreter: install them next to snnbench, e.g.
``pip install -e '.[bench]' snntorch spikingjelly norse`` in a separate venv.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
NIN, NOUT = 784, 10
BETA, THR = 0.9, 1.0
DENSITY = 0.2  # input spike probability per step (--density)
LOAD_AT_START = float("nan")

# --------------------------------------------------------------------------------------
# Models. Each takes the time-first input [T, B, 784] and returns [T, B, 10] (output
# spikes or, for the bound, logits); the loss is cross-entropy on the sum over time.
# --------------------------------------------------------------------------------------


class Bound(nn.Module):
    """The matmul-only bound: the two Linear layers once over the folded [T*B, 784]
    input with a ReLU in between, no neuron dynamics."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(NIN, hidden), nn.Linear(hidden, NOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = self.fc2(torch.relu(self.fc1(x.reshape(T * B, -1))))
        return y.view(T, B, -1)


class SnnbenchFused(nn.Module):
    """snnbench: each Linear once over all steps, the fused LIF kernel over time."""

    def __init__(self, hidden: int, backend: str = "auto") -> None:
        super().__init__()
        from snnbench.neurons import LIF

        self.fc1, self.fc2 = nn.Linear(NIN, hidden), nn.Linear(hidden, NOUT)
        # check_finite=False: the input is checked once, not again by every layer;
        # overwrite_input: each Linear's fresh output is read by nothing else (as the model
        # builders set it; the numba and torch backends ignore it)
        kw = dict(beta=BETA, threshold=THR, reset="soft", surrogate="atan", backend=backend,
                  check_finite=False, overwrite_input=True)
        self.lif1, self.lif2 = LIF(**kw), LIF(**kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1, _ = self.lif1(self.fc1(x))
        s2, _ = self.lif2(self.fc2(s1))
        return s2


class SnnbenchEvent(SnnbenchFused):
    """snnbench fused neurons with event-driven synapses (``EventLinear``): the 784->H layer
    does the work of the nonzero input spikes only; the H->10 layer is too narrow to gain
    and runs the dense product (``MIN_OUT_FEATURES``)."""

    def __init__(self, hidden: int) -> None:
        super().__init__(hidden)
        from snnbench.synapses.event_linear import EventLinear

        self.fc1, self.fc2 = EventLinear(NIN, hidden), EventLinear(hidden, NOUT)


def _atan_spike():
    from snnbench.neurons.surrogate import ATan

    return ATan(2.0)


class TorchLoop(nn.Module):
    """Plain PyTorch: one Linear per layer over all T, then a LIF loop over unbind(0)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(NIN, hidden), nn.Linear(hidden, NOUT)
        self.spike = _atan_spike()

    def _lif(self, cur: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(cur[0])
        out = []
        for xt in cur.unbind(0):
            h = BETA * v + xt
            s = self.spike(h - THR)
            v = h - THR * s
            out.append(s)
        return torch.stack(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._lif(self.fc2(self._lif(self.fc1(x))))


class SnnTorchNet(nn.Module):
    """snnTorch 1.0, as its tutorials write it: Linear and Leaky per time step."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        self.fc1, self.fc2 = nn.Linear(NIN, hidden), nn.Linear(hidden, NOUT)
        sg = surrogate.atan()
        self.lif1 = snn.Leaky(beta=BETA, threshold=THR, spike_grad=sg, reset_mechanism="subtract")
        self.lif2 = snn.Leaky(beta=BETA, threshold=THR, spike_grad=sg, reset_mechanism="subtract")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for xt in x.unbind(0):
            s1, m1 = self.lif1(self.fc1(xt), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


class SpikingJellyNet(nn.Module):
    """SpikingJelly 2.0 multi-step mode (torch backend; its cupy backend is GPU only).
    LIFNode with decay_input=False, v_reset=None: H = (1 - 1/tau) V + X, soft reset."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        tau = 1.0 / (1.0 - BETA)
        kw = dict(tau=tau, decay_input=False, v_threshold=THR, v_reset=None,
                  surrogate_function=surrogate.ATan(), step_mode="m")
        self.net = nn.Sequential(
            layer.Linear(NIN, hidden, step_mode="m"), neuron.LIFNode(**kw),
            layer.Linear(hidden, NOUT, step_mode="m"), neuron.LIFNode(**kw),
        )
        self._reset = functional.reset_net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._reset(self.net)  # SpikingJelly keeps state between calls
        return self.net(x)


class NorseNet(nn.Module):
    """Norse 1.1 LIFBoxCell (no synaptic current) in a loop, subtractive reset;
    dt * tau_mem_inv = 0.1 gives v <- 0.9 v + 0.1 i."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        import norse.torch as norse
        from norse.torch.functional.reset import reset_subtract

        self.fc1, self.fc2 = nn.Linear(NIN, hidden), nn.Linear(hidden, NOUT)
        p = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(THR),
                                   reset_method=reset_subtract)
        self.lif1, self.lif2 = norse.LIFBoxCell(p), norse.LIFBoxCell(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1_state = s2_state = None
        out = []
        for xt in x.unbind(0):
            s1, s1_state = self.lif1(self.fc1(xt), s1_state)
            s2, s2_state = self.lif2(self.fc2(s1), s2_state)
            out.append(s2)
        return torch.stack(out)


MODELS = {
    "matmul-only bound": (Bound, None),
    "snnbench fused (auto: c kernels)": (SnnbenchFused, None),
    "snnbench fused (numba backend)": (lambda h: SnnbenchFused(h, backend="numba"), None),
    "snnbench fused + event synapses": (SnnbenchEvent, None),
    "snnbench fused (torch backend)": (lambda h: SnnbenchFused(h, backend="torch"), None),
    "plain torch LIF loop": (TorchLoop, None),
    "SpikingJelly 2.0 multi-step": (SpikingJellyNet, "spikingjelly"),
    "snnTorch 1.0": (SnnTorchNet, "snntorch"),
    "Norse 1.1 LIFBoxCell loop": (NorseNet, "norse"),
}


def available(skip_peers: bool = False, models: dict | None = None
              ) -> tuple[dict[str, object], dict[str, str]]:
    """Models (of ``models``, default MODELS) whose package imports; the reason for each
    one that does not."""
    ok, missing = {}, {}
    for name, (ctor, pkg) in (MODELS if models is None else models).items():
        if pkg is not None:
            if skip_peers:
                continue
            try:
                __import__(pkg)
            except Exception as e:  # a peer can fail in many ways at import
                missing[name] = f"{type(e).__name__}: {e}"[:160]
                continue
        ok[name] = ctor
    return ok, missing


def make_data(T: int, B: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, NIN, generator=g) < DENSITY).float()  # rate-coded input spikes
    y = torch.randint(0, NOUT, (B,), generator=g)
    return x, y


def build(ctor, hidden: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    m = ctor(hidden)
    # Same weights everywhere (scaled so the hidden layer spikes at a realistic rate).
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (3.0 / p.shape[1] ** 0.5))
    return m


def train_step(m, opt, x, y) -> None:
    opt.zero_grad(set_to_none=True)
    out = m(x)
    loss = nn.functional.cross_entropy(out.sum(0), y)
    loss.backward()
    opt.step()


def time_models(models: dict, T: int, H: int, B: int, reps: int, warmup: int, train: bool,
                device: str = "cpu"):
    """Median ms per step of each model, measured interleaved in this process (on a CUDA
    device each step is timed from a synchronised start to a synchronised end)."""
    dev = torch.device(device)
    x, y = (t.to(dev) for t in make_data(T, B))
    built = {}
    for name, ctor in models.items():
        m = build(ctor, H).to(dev)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3) if train else None
        built[name] = (m, opt)
    times: dict[str, list[float]] = {n: [] for n in built}
    cpu: dict[str, list[float]] = {n: [] for n in built}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def one(m, opt):
        if train:
            train_step(m, opt, x, y)
        else:
            with torch.no_grad():
                m(x)
        sync()

    for _ in range(warmup):
        for m, opt in built.values():
            one(m, opt)
    for _ in range(reps):
        for name, (m, opt) in built.items():
            sync()
            c0, t0 = time.process_time(), time.perf_counter()
            one(m, opt)
            times[name].append((time.perf_counter() - t0) * 1e3)
            cpu[name].append((time.process_time() - c0) * 1e3)
    summary = {"wall": {n: (statistics.median(v), _iqr(v)) for n, v in times.items()}}
    # Process CPU time: with one thread it is the work done, whatever share of the
    # cores other jobs take (with more threads it also counts spin-waiting).
    summary["cpu"] = {n: (statistics.median(v), _iqr(v)) for n, v in cpu.items()}
    return summary


def _iqr(v: list[float]) -> float:
    q = statistics.quantiles(v, n=4) if len(v) >= 4 else [min(v), 0, max(v)]
    return q[2] - q[0]


def _hwm_mib() -> float:
    """Peak RSS of this process image. VmHWM, not getrusage's ru_maxrss: the latter keeps
    the parent's RSS across fork + exec, which would hide the child's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(name: str, T: int, H: int, B: int) -> None:
    """Run in a fresh process: peak RSS minus RSS after imports and model build."""
    models, _ = available()
    ctor = models[name]
    x, y = make_data(T, B)
    m = build(ctor, H)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    base_import = _rss_mib()
    # One warm-up step on a 2-step sequence: lazy one-off costs (numba mapping LLVM and
    # its cached kernels at the first call, peers' caches, Adam state) are reported apart
    # from the per-step memory.
    train_step(m, opt, *make_data(2, B))
    base = _rss_mib()
    for _ in range(3):
        train_step(m, opt, x, y)
    peak = _hwm_mib()
    print(json.dumps({"base_import": base_import, "base": base, "peak": peak,
                      "delta": peak - base, "delta_import": peak - base_import}))


def measure_memory(names, T: int, H: int, B: int, repeats: int = 3) -> dict[str, dict]:
    """Per model the median over ``repeats`` fresh processes of each figure (one process can
    be an outlier: snnTorch once peaked 100 MiB below its usual ~310 over import)."""
    out = {}
    for name in names:
        runs = []
        for _ in range(repeats):
            cmd = [sys.executable, __file__, "--memory-child", name, "--mem-shape", f"{T}:{H}:{B}",
                   "--threads", str(torch.get_num_threads()), "--density", str(DENSITY)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            try:
                runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
            except (IndexError, json.JSONDecodeError):
                out[name] = {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:160]}
                break
        else:
            out[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            out[name]["runs"] = len(runs)
    return out


def profile_components(T: int, H: int, B: int, reps: int) -> dict[str, tuple[float, float]]:
    """Median ms (wall, CPU) of the pieces of one training step: where the time goes."""
    from snnbench.neurons.fused import lif_multistep_fused
    from snnbench.synapses.event_linear import EventLinear

    x, _ = make_data(T, B)
    g = torch.Generator().manual_seed(1)
    fc1 = nn.Linear(NIN, H)
    cur = (torch.randn(T, B, H, generator=g) * 0.5).requires_grad_()
    gout = torch.randn(T, B, H, generator=g)
    xf = x.reshape(T * B, NIN)

    def fc1_fwd():
        with torch.no_grad():
            fc1(xf)

    def fc1_fwd_bwd():
        fc1(xf).backward(gout.view(T * B, H))

    ev1 = EventLinear(NIN, H)

    def ev_fwd():
        with torch.no_grad():
            ev1(xf)

    def ev_fwd_bwd():
        ev1(xf).backward(gout.view(T * B, H))

    def relu_fwd_bwd():
        torch.relu(cur).backward(gout)

    def lif_fwd_save():
        lif_multistep_fused(cur)

    def lif_fwd_bwd():
        s, _ = lif_multistep_fused(cur)
        s.backward(gout)

    def lif_infer():
        with torch.no_grad():
            lif_multistep_fused(cur)

    out = {}
    for name, fn in [("Linear 784->H forward", fc1_fwd),
                     ("Linear 784->H forward + backward", fc1_fwd_bwd),
                     ("EventLinear 784->H forward", ev_fwd),
                     ("EventLinear 784->H forward + backward", ev_fwd_bwd),
                     ("ReLU forward + backward (the bound's nonlinearity)", relu_fwd_bwd),
                     ("fused LIF forward, no grad", lif_infer),
                     ("fused LIF forward, saving h", lif_fwd_save),
                     ("fused LIF forward + backward", lif_fwd_bwd)]:
        fn()
        ts, cs = [], []
        for _ in range(reps):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
            cs.append((time.process_time() - c0) * 1e3)
        out[name] = (statistics.median(ts), statistics.median(cs))
    return out


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(n)
    except ImportError:
        pass


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    try:
        import numba

        nb = f"numba {numba.__version__} ({numba.get_num_threads()} threads)"
    except ImportError:
        nb = "numba not installed"
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {nb}, numpy {numpy.__version__}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def table(res: dict, cols: list[str], bound: str) -> list[str]:
    """Markdown rows: median ms (ratio to the bound) per column."""
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    names = list(next(iter(res.values())).keys())
    for n in names:
        cells = []
        for c in cols:
            ms, iqr = res[c][n]
            cells.append(f"{ms:.1f} ± {iqr / 2:.1f} ({ms / res[c][bound][0]:.2f})")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    global DENSITY, LOAD_AT_START
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="25:800,100:800,25:2000,100:2000",
                    help="training configs T:H, comma separated")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--infer-batch", type=int, default=256)
    ap.add_argument("--infer-T", type=int, default=25)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--passes", type=int, default=1,
                    help="repeat the whole timing this often; the table shows the median pass")
    ap.add_argument("--quick", action="store_true", help="5 reps, T=25/H=800 only, no file")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and numba threads (default: torch's default)")
    ap.add_argument("--density", type=float, default=DENSITY,
                    help="input spike probability per step (Bernoulli)")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--mem-shape", default="100:800:128", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    DENSITY = a.density
    LOAD_AT_START = os.getloadavg()[0]
    if a.threads:
        set_threads(a.threads)

    if a.memory_child:
        T, H, B = (int(v) for v in a.mem_shape.split(":"))
        memory_child(a.memory_child, T, H, B)
        return 0
    if a.quick:
        a.configs, a.reps, a.no_write, a.no_memory, a.no_profile = "25:800", 5, True, True, True

    models, missing = available(a.no_peers)
    bound = "matmul-only bound"
    configs = [tuple(int(v) for v in c.split(":")) for c in a.configs.split(",")]
    print(machine())
    for n, why in missing.items():
        print(f"skipped {n}: {why}")

    def passes(fn):
        """Median over passes of each model's per-pass median, for both clocks."""
        runs = [fn() for _ in range(a.passes)]
        return {k: {n: (statistics.median(r[k][n][0] for r in runs),
                        statistics.median(r[k][n][1] for r in runs)) for n in runs[0][k]}
                for k in ("wall", "cpu")}

    train_res, infer_res = {"wall": {}, "cpu": {}}, {"wall": {}, "cpu": {}}
    for T, H in configs:
        col = f"T={T}, H={H}"
        r = passes(lambda: time_models(models, T, H, a.batch, a.reps, a.warmup, True))
        print(f"\ntraining step, {col}, batch {a.batch}: median ms (ratio to bound), "
              "wall clock | CPU time")
        for k in r:
            train_res[k][col] = r[k]
        for n in r["wall"]:
            w, c = r["wall"][n][0], r["cpu"][n][0]
            print(f"  {n:34s} {w:8.1f} ms ({w / r['wall'][bound][0]:.2f}) | "
                  f"{c:8.1f} ms ({c / r['cpu'][bound][0]:.2f})", flush=True)
    infer_cols = sorted({H for _, H in configs})
    for H in infer_cols:
        col = f"T={a.infer_T}, H={H}"
        r = passes(
            lambda: time_models(models, a.infer_T, H, a.infer_batch, a.reps, a.warmup, False))
        for k in r:
            infer_res[k][col] = r[k]
        print(f"\ninference, {col}, batch {a.infer_batch}: median ms (ratio to bound), "
              "wall clock | CPU time")
        for n in r["wall"]:
            w, c = r["wall"][n][0], r["cpu"][n][0]
            print(f"  {n:34s} {w:8.1f} ms ({w / r['wall'][bound][0]:.2f}) | "
                  f"{c:8.1f} ms ({c / r['cpu'][bound][0]:.2f})", flush=True)

    mem = {}
    if not a.no_memory:
        mem = measure_memory(list(models), 100, 800, a.batch)
        print("\npeak RSS minus RSS after import / after warm-up, training T=100 H=800 (MiB)")
        for n, r in mem.items():
            print(f"  {n:34s} {r.get('delta_import', float('nan')):8.0f} over import "
                  f"{r.get('delta', float('nan')):8.0f} over warm-up  {r.get('error', '')}")

    prof = {}
    if not a.no_profile:
        for T0, H0 in sorted({configs[0], (100, 800)}):
            rows = profile_components(T0, H0, a.batch, max(a.reps, 9))
            print(f"\nwhere the time goes, T={T0}, H={H0}, batch {a.batch} (median ms)")
            for n, (w, c) in rows.items():
                print(f"  {n:52s} {w:8.2f} wall {c:8.2f} CPU")
            prof[(T0, H0)] = rows

    if not a.no_write:
        write_doc(Path(a.out), a, models, missing, train_res, infer_res, mem, bound, prof)
        print(f"\nwrote {a.out}")
    return 0


MINE = ("snnbench fused (auto: c kernels)", "snnbench fused + event synapses")


def _peer_lines(res: dict, bound: str) -> list[str]:
    """Speed-up of each snnbench configuration over every model that is not snnbench."""
    cols = list(res)
    lines = []
    for me in MINE:
        if me not in next(iter(res.values())):
            continue
        lines += [f"| {me} is faster than | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 1) + "|"]
        for n in next(iter(res.values())):
            if n.startswith("snnbench") or n == bound:
                continue
            lines.append(f"| {n} | " + " | ".join(
                f"{res[c][n][0] / res[c][me][0]:.2f}x" for c in cols) + " |")
        lines.append("")
    return lines[:-1]


def _speed_sections(a, train_res, infer_res, bound, me) -> list[str]:
    L = []
    for k, label in (("wall", "wall clock"), ("cpu", "process CPU time")):
        L += [f"## Training step (forward, backward, Adam), batch {a.batch}: {label}", "",
              "Median ms ± half the inter-quartile range (ratio to the matmul-only bound).", "",
              *table(train_res[k], list(train_res[k]), bound), "",
              *_peer_lines(train_res[k], bound), ""]
    for k, label in (("wall", "wall clock"), ("cpu", "process CPU time")):
        res = infer_res[k]
        L += [f"## Inference (no grad), batch {a.infer_batch}: {label}", "",
              "Median ms (ratio to the bound); samples/s of the fused model: "
              + ", ".join(f"{c}: {a.infer_batch / res[c][me][0] * 1e3:,.0f}/s "
                          f"(bound {a.infer_batch / res[c][bound][0] * 1e3:,.0f}/s)"
                          for c in res) + ".", "",
              *table(res, list(res), bound), ""]
    return L


def write_doc(path: Path, a, models, missing, train_res, infer_res, mem, bound, prof) -> None:
    me = MINE[0]
    today = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    L = [
        "# Performance",
        "",
        "Generated by `benchmarks/speed.py`; do not edit the tables by hand, rerun the script.",
        "",
        f"- date: {today}",
        f"- machine: {machine()}",
        f"- command: `{cmd.strip()}` (run from a venv with the peers installed beside snnbench)",
        f"- network: 784-H-10, LIF both layers (beta {BETA}, threshold {THR}, soft reset, "
        "arctan surrogate), cross-entropy on output spike counts, Adam; input: Bernoulli "
        f"(p = {DENSITY}) spikes. The matmul-only bound is the same two Linear layers applied "
        "once to the folded `[T*B, 784]` input with a ReLU, no neuron dynamics: the bound of "
        "any implementation that multiplies densely. The event-synapse row skips the zero "
        "inputs and so can run below it (see below). snnbench's LIF layers keep their "
        "membrane in the Linear output's buffer (`overwrite_input`, as its model builders set "
        "it; the C kernels only).",
        f"- timing: models interleaved step by step in one process; {a.warmup} warm-up steps, "
        f"median of {a.reps} steps (± half the inter-quartile range), median over "
        f"{a.passes} pass(es); torch and numba threads: {torch.get_num_threads()}; load "
        f"average (1 min) when the run started: {LOAD_AT_START:.2f}. Each table is given "
        "twice: wall clock, and process CPU time (which also counts threads spin-waiting).",
        "",
        *_speed_sections(a, train_res, infer_res, bound, me),
    ]
    if mem:
        L += ["## Memory, training T=100, H=800, batch 128", "",
              "Each model in its own process, three training steps; median of three such "
              "processes. Peak RSS minus the RSS "
              "(a) after imports and model build, (b) after one warm-up step on a 2-step "
              "sequence (which excludes one-off lazy costs: numba initialises LLVM and maps its "
              "cached kernels at the first call, 60-140 MiB).", "",
              "| model | (a) MiB over import | (b) MiB over warm-up | RSS after import |",
              "|---|---|---|---|"]
        for n, r in mem.items():
            if "delta" in r:
                L.append(f"| {n} | {r['delta_import']:.0f} | {r['delta']:.0f} | "
                         f"{r['base_import']:.0f} |")
            else:
                L.append(f"| {n} | error: {r['error']} | | |")
        L.append("")
    if prof:
        keys = list(prof)
        L += [f"## Where the time goes (batch {a.batch}, median ms, wall / CPU)", "",
              "| piece | " + " | ".join(f"T={T0}, H={H0}" for T0, H0 in keys) + " |",
              "|---" * (len(keys) + 1) + "|"]
        for n in prof[keys[0]]:
            L.append(f"| {n} | " + " | ".join(f"{prof[k][n][0]:.1f} / {prof[k][n][1]:.1f}"
                                               for k in keys) + " |")
        L.append("")
    if missing:
        L += ["## Peers not measured", ""] + [f"- {n}: {why}" for n, why in missing.items()] + [""]
    L += ["## Targets", "", "Wall clock / CPU time, for each snnbench configuration.", ""]
    peers = [n for n, (_, pkg) in MODELS.items() if pkg is not None and n in models]
    for me in (n for n in MINE if n in models):
        L += [f"**{me}**", ""]
        for what, res, goal in (("training", train_res, 1.15), ("inference", infer_res, 1.05)):
            for c in res["wall"]:
                rw = res["wall"][c][me][0] / res["wall"][c][bound][0]
                rc = res["cpu"][c][me][0] / res["cpu"][c][bound][0]
                verdict = "met" if max(rw, rc) <= goal else (
                    "met on one clock" if min(rw, rc) <= goal else "missed")
                L.append(f"- {what} {c}: {rw:.2f} / {rc:.2f} of the bound (target <= {goal}): "
                         f"{verdict}")
        if peers:
            for c in train_res["cpu"]:
                best = {k: min(train_res[k][c][n][0] for n in peers) for k in ("wall", "cpu")}
                sw = best["wall"] / train_res["wall"][c][me][0]
                sc = best["cpu"] / train_res["cpu"][c][me][0]
                L.append(f"- training {c}: {sw:.2f}x / {sc:.2f}x faster than the best peer "
                         f"(target >= 1.35): {'met' if min(sw, sc) >= 1.35 else 'missed'}")
        if mem and "delta" in mem.get(me, {}) and "delta" in mem.get("snnTorch 1.0", {}):
            for key, what in (("delta_import", "over import"), ("delta", "over warm-up")):
                q = mem[me][key] / mem["snnTorch 1.0"][key]
                L.append(f"- memory T=100, H=800, {what}: {q:.2f} of snnTorch's (target <= 0.5): "
                         f"{'met' if q <= 0.5 else 'missed'}")
        L.append("")
    L += ["", *kept_notes(path)]
    path.write_text("\n".join(L) + "\n")


NOTES_HEADING = "## How the fused kernel works"


def kept_notes(path: Path) -> list[str]:
    """The hand-written part of an existing doc (from :data:`NOTES_HEADING` to the end),
    kept as it is: the script owns the tables above it, the notes below are edited by hand
    as the kernels change."""
    if not path.exists():
        return []
    text = path.read_text()
    at = text.find(NOTES_HEADING)
    return [text[at:].rstrip("\n")] if at >= 0 else []


if __name__ == "__main__":
    raise SystemExit(main())
