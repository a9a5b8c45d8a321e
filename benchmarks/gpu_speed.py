"""GPU speed and memory of the 784-H-10 LIF network of ``speed.py``: snnbench's triton
backend against its torch backend, the matmul-only bound, a plain torch loop, and (when
installed) SpikingJelly, snnTorch and Norse on the same CUDA device.

The models, weights, input (Bernoulli spikes) and loss are ``speed.py``'s; steps are
interleaved across models and timed from a synchronised start to a synchronised end, and
the figure is the median. Memory is the peak of ``torch.cuda.max_memory_allocated`` over
one training step, minus what was allocated before it (weights, optimiser state, input).

    python benchmarks/gpu_speed.py                       # writes docs/performance_gpu.md
    python benchmarks/gpu_speed.py --batches 128 --reps 10 --no-write

Needs a CUDA device; peers are imported from the running interpreter.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (same folder: the shared models and timing loop)

ROOT = Path(__file__).resolve().parents[1]
BOUND = "matmul-only bound"

MODELS = {
    BOUND: (speed.Bound, None),
    "snnbench fused (triton backend)": (lambda h: speed.SnnbenchFused(h, backend="triton"), None),
    "snnbench fused (torch backend)": (lambda h: speed.SnnbenchFused(h, backend="torch"), None),
    "plain torch LIF loop": (speed.TorchLoop, None),
    "SpikingJelly 2.0 multi-step": (speed.SpikingJellyNet, "spikingjelly"),
    "snnTorch 1.0": (speed.SnnTorchNet, "snntorch"),
    "Norse 1.1 LIFBoxCell loop": (speed.NorseNet, "norse"),
}


def smoke(models: dict) -> tuple[dict[str, object], dict[str, str]]:
    """Drop models whose tiny training step fails on the device (with the reason)."""
    ok, failed = {}, {}
    x, y = (t.to("cuda") for t in speed.make_data(3, 2))
    for name, ctor in models.items():
        try:
            m = speed.build(ctor, 16).to("cuda")
            speed.train_step(m, torch.optim.Adam(m.parameters()), x, y)
            ok[name] = ctor
        except Exception as e:
            failed[name] = f"{type(e).__name__}: {e}"[:160]
    return ok, failed


def peak_memory_mib(ctor, T: int, H: int, B: int) -> float:
    """Peak CUDA memory of one training step above what was allocated before it."""
    dev = torch.device("cuda")
    x, y = (t.to(dev) for t in speed.make_data(T, B))
    m = speed.build(ctor, H).to(dev)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    speed.train_step(m, opt, x, y)  # optimiser state exists from here on
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    speed.train_step(m, opt, x, y)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del m, opt, x, y
    torch.cuda.empty_cache()
    return peak / 2**20


def profile(models: dict, names: list[str], T: int, H: int, B: int, steps: int = 5) -> None:
    """Print the CUDA kernels of a few training steps of each named model (where the
    time goes beyond the matmuls)."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    x, y = (t.to("cuda") for t in speed.make_data(T, B))
    for name in names:
        if name not in models:
            continue
        m = speed.build(models[name], H).to("cuda")
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        for _ in range(3):
            speed.train_step(m, opt, x, y)
        torch.cuda.synchronize()
        with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                speed.train_step(m, opt, x, y)
            torch.cuda.synchronize()
        print(f"== profile of {name}, T={T}, H={H}, batch {B}, {steps} steps")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14,
                                        max_name_column_width=60))


def kernel_sweep(T: int, H: int, B: int, reps: int = 20) -> None:
    """Forward + backward of one LIF layer alone, per block size of the triton kernels,
    next to SpikingJelly's LIF node and a copy of the same bytes (the memory floor)."""
    from snnbench.neurons.kernels import triton as fused_triton
    from snnbench.neurons.fused import lif_multistep_fused

    x = torch.randn(T, B, H, device="cuda").requires_grad_()
    g = torch.randn(T, B, H, device="cuda")

    def timed(fn) -> float:
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        t0 = torch.cuda.Event(enable_timing=True)
        t1 = torch.cuda.Event(enable_timing=True)
        t0.record()
        for _ in range(reps):
            fn()
        t1.record()
        torch.cuda.synchronize()
        return t0.elapsed_time(t1) / reps

    def ours():
        s, _ = lif_multistep_fused(x, None, speed.BETA, speed.THR, backend="triton")
        s.backward(g)

    default = fused_triton.BLOCK
    for blk in (128, 256, 512, 1024):
        fused_triton.BLOCK = blk
        print(f"LIF fwd+bwd T={T} B={B} H={H}: triton BLOCK {blk}: {timed(ours):.3f} ms")
    fused_triton.BLOCK = default
    # bytes moved by fwd + bwd: read x, write s, h; read h, gs, write gx = 6 arrays
    print(f"  copy of 3 arrays (memory floor of fwd+bwd): "
          f"{timed(lambda: (x.detach().clone(), g.clone(), g.clone())):.3f} ms")
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate

        node = neuron.LIFNode(tau=1.0 / (1.0 - speed.BETA), decay_input=False,
                              v_threshold=speed.THR, v_reset=None,
                              surrogate_function=surrogate.ATan(), step_mode="m").cuda()

        def sj():
            functional.reset_net(node)
            node(x).backward(g)

        print(f"  SpikingJelly LIFNode fwd+bwd: {timed(sj):.3f} ms")
    except Exception as e:
        print(f"  SpikingJelly not measured: {type(e).__name__}: {e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="25:800,100:800,25:2000,100:2000")
    ap.add_argument("--batches", default="128,1024", help="training batch sizes")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--mem-shape", default="100:800:128", help="T:H:B of the memory column")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance_gpu.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--profile", default=None, metavar="T:H:B",
                    help="only profile the triton model and SpikingJelly at this shape")
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_speed.py needs a CUDA device", file=sys.stderr)
        return 2
    models, missing = speed.available(models=MODELS)
    models, failed = smoke(models)
    missing.update(failed)
    if a.profile:
        T, H, B = (int(v) for v in a.profile.split(":"))
        kernel_sweep(T, H, B)
        profile(models, ["snnbench fused (triton backend)", "SpikingJelly 2.0 multi-step"], T, H, B)
        return 0
    configs = [tuple(int(v) for v in c.split(":")) for c in a.configs.split(",")]
    batches = [int(b) for b in a.batches.split(",")]
    sections: list[str] = []
    for train in (True, False):
        for B in batches:
            res = {}
            for T, H in configs:
                col = f"T={T}, H={H}"
                r = speed.time_models(models, T, H, B, a.reps, a.warmup, train, device="cuda")
                res[col] = r["wall"]
                print(f"[{'train' if train else 'infer'} B={B} {col}] " + ", ".join(
                    f"{n}: {ms:.2f} ms" for n, (ms, _) in r["wall"].items()), flush=True)
            kind = "Training step (forward, backward, Adam)" if train else "Inference (no grad)"
            sections += [f"### {kind}, batch {B}: median ms ± half IQR (ratio to the bound)", ""]
            sections += speed.table(res, list(res), BOUND) + [""]
            best_peer = [n for n in res[next(iter(res))] if MODELS[n][1]]
            if best_peer:
                line = []
                for col, r in res.items():
                    peer = min(best_peer, key=lambda n: r[n][0])
                    line.append(f"{col}: {r[peer][0] / r['snnbench fused (triton backend)'][0]:.2f}x "
                                f"vs {peer}")
                sections += ["snnbench (triton) speed-up over the fastest peer: " + "; ".join(line), ""]
    T, H, B = (int(v) for v in a.mem_shape.split(":"))
    mem = {n: peak_memory_mib(c, T, H, B) for n, c in models.items()}
    print("memory MiB:", {n: round(v, 1) for n, v in mem.items()}, flush=True)
    props = torch.cuda.get_device_properties(0)
    lines = [
        "# GPU performance (generated by `benchmarks/gpu_speed.py`)",
        "",
        f"Measured {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {props.name} "
        f"({props.multi_processor_count} SMs), torch {torch.__version__}, "
        f"triton {_version('triton')}. Network and input as in `docs/performance.md` "
        f"(784-H-10 LIF, beta {speed.BETA}, soft reset, arctan surrogate, Bernoulli input "
        f"p = {speed.DENSITY}), float32, {a.reps} interleaved reps after {a.warmup} warm-up "
        "steps. Re-run: `python benchmarks/gpu_speed.py` on a CUDA machine.",
        "",
    ]
    if missing:
        lines += ["Not measured (import or a first step failed): " + "; ".join(f"{n} ({e})" for n, e in missing.items()), ""]
    lines += sections
    lines += [f"### Peak CUDA memory of a training step at T={T}, H={H}, batch {B} (MiB above "
              "weights, optimiser state and input)", "", "| model | MiB | vs snnTorch |",
              "|---|---|---|"]
    ref = mem.get("snnTorch 1.0")
    for n, v in mem.items():
        lines.append(f"| {n} | {v:.1f} | {v / ref:.2f} |" if ref else f"| {n} | {v:.1f} | - |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        Path(a.out).write_text(text)
    return 0


def _version(pkg: str) -> str:
    try:
        return __import__(pkg).__version__
    except Exception:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
