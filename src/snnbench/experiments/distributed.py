"""Several processes on one run folder: process group set-up from torchrun's environment,
the ``--nproc N`` launcher (torchrun's own API) and the rank-0-reads-then-broadcasts
helpers the runner uses, so that only rank 0 touches the run folder.

Launch (one machine, N processes)::

    torchrun --standalone --nproc_per_node N -m snnbench run PRESET [--set ...] [--out DIR]
    snnbench run PRESET --nproc N                 # the same, started for you

Several machines: the same command on each with ``--nnodes M --node_rank i
--rdzv-backend c10d --rdzv-endpoint HOST:PORT`` (see docs/scaling.md). The backend is
``nccl`` when the suite runs on CUDA, else ``gloo``. Checkpoints hold the unwrapped
model and the optimizer state, identical on every process, so a run resumes under any
number of processes (``snnbench run --resume DIR --nproc M``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist

from ..learning.distributed import World, broadcast_object
from .checkpoint import load_checkpoint
from .config import ConfigError

T = TypeVar("T")

__all__ = ["World", "init_from_env", "launch", "load_checkpoint_everywhere", "on_writer", "shutdown"]


def launched_by_torchrun() -> bool:
    """True in a process that torchrun (or ``--nproc``) started with ``WORLD_SIZE`` > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str) -> World:
    """Join the process group torchrun describes in the environment (``env://``); a world
    of one when not started by torchrun. ``device`` is the suite's device setting."""
    if not launched_by_torchrun():
        return World()
    if not dist.is_initialized():
        use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if use_cuda:
            if not torch.cuda.is_available():
                raise ConfigError("device='cuda' but no CUDA device is available; use device=cpu or auto")
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return World.current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def on_writer(fn: Callable[[], T], world: World) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every process; an error on rank 0
    is raised on every process (so no process waits for a broadcast that never comes)."""
    if world.size == 1:
        return fn()
    value: Any = None
    error: str | None = None
    if world.is_writer:
        try:
            value = fn()
        except (ConfigError, ValueError, FileNotFoundError) as err:
            error = str(err)
    value, error = broadcast_object((value, error), world)
    if error is not None:
        raise ConfigError(error)
    return value


def load_checkpoint_everywhere(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any | None, world: World
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None] | None:
    """:func:`load_checkpoint` on rank 0 (None when there is no checkpoint yet); the other
    processes receive the restored model, optimizer and scheduler state from it, so the
    run folder need not be visible to them (several machines)."""
    if world.size == 1:
        return load_checkpoint(path, model, optimizer, scheduler) if path.is_file() else None

    def read() -> Any:
        if not path.is_file():
            return None
        meta, best = load_checkpoint(path, model, optimizer, scheduler)
        return (meta, best, {k: v.cpu() for k, v in model.state_dict().items()}, optimizer.state_dict(),
                scheduler.state_dict() if scheduler is not None else None)

    state = on_writer(read, world)
    if state is None:
        return None
    meta, best, model_state, optim_state, sched_state = state
    if not world.is_writer:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optim_state)
        if scheduler is not None and sched_state is not None:
            scheduler.load_state_dict(sched_state)
    return meta, best


def launch(nproc: int, argv: list[str]) -> int:
    """Start ``python -m snnbench ARGV`` in ``nproc`` processes on this machine through
    torchrun's API (``torch.distributed.run``, standalone rendezvous); torchrun sets one
    thread per process unless ``OMP_NUM_THREADS`` is set. Returns the exit status."""
    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(["--standalone", f"--nproc_per_node={nproc}", "-m", "snnbench", *argv])
    try:
        run(args)
    except ChildFailedError as err:
        print(f"snnbench: a training process failed ({err.name}); continue with 'snnbench run --resume RUN_DIR'")
        return 1
    return 0


def strip_nproc(argv: list[str]) -> list[str]:
    """The command line without ``--nproc N`` / ``--nproc=N`` (what every process runs)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out
