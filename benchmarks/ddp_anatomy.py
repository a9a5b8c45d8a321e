"""Where a data-parallel training step's time goes on this machine (docs/scaling.md).

The model and batch of the DDP figure (``mnist5k-rate``'s SNN, 784-512-10, Bernoulli code,
T = 25, global batch 64, Adam), one torch thread per process, random inputs, timed over
``--steps`` steps after ``--warmup``. Modes, each in fresh processes:

- ``single``: one process, batch 64 (the 1-process run);
- ``pair``: two independent processes, batch 32 each, no communication (what perfect
  scaling would give: the compute of a 2-process step);
- ``ddp``: two processes under ``DistributedDataParallel`` (gloo), batch 32 each, DDP's
  defaults (gloo's all-reduce);
- ``ddp-overlap``: as ``ddp`` with 1 MB gradient buckets (the all-reduce starts during the
  backward pass) and gradients as bucket views;
- ``ddp-static``: as ``ddp`` with ``static_graph=True`` and gradients as bucket views;
- ``ddp-fp16`` / ``ddp-bf16``: as ``ddp`` with the gradients sent in half precision;
- ``ddp-shm``: as ``ddp`` with the gradients averaged through shared memory
  (:mod:`snnbench.learning.shm_allreduce`, what the trainer uses on one host);
  ``ddp-shm-view``: the same with gradients as bucket views (no copy back);
- ``allreduce``: the all-reduce of a gradient-sized buffer alone (its cost per step).

    python benchmarks/ddp_anatomy.py --steps 60

Prints ms per step (median over steps of the slowest rank) per mode, and the samples/s
ratio of each mode to ``single``. Say the machine load with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _build(seed: int) -> torch.nn.Module:
    from snnbench.data import load_dataset
    from snnbench.models.builder import build_model

    torch.manual_seed(seed)
    info = load_dataset("mnist5k", val_fraction=0.1, seed=0).info
    spec = {"type": "snn_ff", "hidden": [512], "encoder": "bernoulli", "num_steps": 25,
            "readout": "mean_membrane"}
    return build_model(spec, info)


def _worker(rank: int, world: int, mode: str, batch: int, steps: int, warmup: int, init_file: str,
            out: str) -> None:
    torch.set_num_threads(1)
    if mode.startswith("ddp") or mode == "allreduce":
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    model = _build(0)
    if mode == "ddp":
        model = torch.nn.parallel.DistributedDataParallel(model)
    elif mode == "ddp-overlap":
        model = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=1, gradient_as_bucket_view=True)
    elif mode == "ddp-static":
        model = torch.nn.parallel.DistributedDataParallel(model, static_graph=True, gradient_as_bucket_view=True)
    elif mode in ("ddp-shm", "ddp-shm-view"):
        from snnbench.learning.shm_allreduce import register_shared_memory_hook

        model = torch.nn.parallel.DistributedDataParallel(model, gradient_as_bucket_view=mode == "ddp-shm-view")
        register_shared_memory_hook(model)
    elif mode in ("ddp-fp16", "ddp-bf16"):
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

        model = torch.nn.parallel.DistributedDataParallel(model)
        model.register_comm_hook(None, default_hooks.fp16_compress_hook if mode == "ddp-fp16"
                                 else default_hooks.bf16_compress_hook)
    elif mode == "allreduce":  # the gradient's all-reduce alone, no model step
        n = sum(p.numel() for p in model.parameters())
        buf = torch.zeros(n)
        times = []
        for k in range(warmup + steps):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(buf)
            if k >= warmup:
                times.append(time.perf_counter() - t0)
        with open(f"{out}.{rank}", "w") as f:
            json.dump(times, f)
        dist.destroy_process_group()
        return
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(rank)
    x = torch.rand(batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    gen = torch.Generator().manual_seed(100 + rank)
    times = []
    for k in range(warmup + steps):
        if mode.startswith("ddp"):
            dist.barrier()  # every step starts together: the time is the step's, not the skew's
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x, generator=gen), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    with open(f"{out}.{rank}", "w") as f:
        json.dump(times, f)
    if mode.startswith("ddp"):
        dist.destroy_process_group()


def run_mode(mode: str, steps: int, warmup: int) -> float:
    world = 1 if mode == "single" else 2
    batch = 64 // world
    with tempfile.TemporaryDirectory() as tmp:
        init_file, out = os.path.join(tmp, "init"), os.path.join(tmp, "times")
        mp.start_processes(_worker, args=(world, mode, batch, steps, warmup, init_file, out), nprocs=world,
                           join=True, start_method="spawn")
        per_rank = [json.load(open(f"{out}.{r}")) for r in range(world)]
    # a DDP step ends when the slowest rank's does
    return statistics.median(max(ts) for ts in zip(*per_rank)) * 1e3


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--modes", nargs="+", default=["single", "pair", "allreduce", "ddp", "ddp-shm",
                                                    "ddp-overlap", "ddp-static", "ddp-fp16"])
    ap.add_argument("--rounds", type=int, default=2, help="the modes are interleaved this many times")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    res: dict[str, list[float]] = {m: [] for m in a.modes}
    load = [" ".join(open("/proc/loadavg").read().split()[:3])]
    for _ in range(a.rounds):
        for m in a.modes:
            res[m].append(run_mode(m, a.steps, a.warmup))
    load.append(" ".join(open("/proc/loadavg").read().split()[:3]))
    base = statistics.median(res["single"]) if "single" in res else None
    for m, v in res.items():
        ms = statistics.median(v)
        # samples per step: 64 in every mode (two processes of 32 in the 2-process modes)
        ratio = f", {base / ms:.2f}x the samples/s of single" if base else ""
        print(f"{m:12s} {ms:6.1f} ms/step (rounds: {', '.join(f'{x:.1f}' for x in v)}){ratio}")
    print(f"load before/after: {load[0]} / {load[1]}")
    return {m: statistics.median(v) for m, v in res.items()}


if __name__ == "__main__":
    main(sys.argv[1:])
