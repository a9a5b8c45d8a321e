"""Gradient averaging through shared memory for data-parallel processes on one host.

``gloo`` moves every gradient bucket through the loopback TCP stack: on a 2-core machine the
all-reduce of the 1.6 MB gradient of ``mnist5k-rate``'s SNN costs about 3 ms of a 26 ms step
(``benchmarks/ddp_anatomy.py``). Processes on one host can instead read each other's
gradients from memory they share. :func:`register_shared_memory_hook` installs a
``DistributedDataParallel`` communication hook (``DistributedDataParallel.register_comm_hook``,
the documented way to replace the all-reduce) that does, per bucket ``g_r`` of rank ``r``::

    slot[r] = g_r / N            # this rank's share, in a file mapped by every process
    barrier                      # every slot is written
    g = slot[0] + slot[1] + ... + slot[N-1]    # the same sum, in rank order, on every rank

the value of DDP's default hook (divide by N, then all-reduce a sum). Every rank adds the
same numbers in the same order, so the ranks stay bit-identical; with 2 processes the sum
is also bit-identical to gloo's (one addition, and float addition commutes).

One barrier per backward pass, not one per bucket: a bucket's share is written at its own
offset of the slots when DDP hands it over, and only the last bucket of the pass
(``GradBucket.is_last``) waits for the other processes and sums every bucket (DDP waits for
the buckets' futures only when the backward pass ends). Each barrier is a round trip and
a wait for the slowest process; DDP's small first bucket would otherwise add a second one
to every step. Two sets of slots alternate between passes: a rank that passed the barrier
of pass ``k`` knows every rank has finished reading pass ``k - 1``, so pass ``k + 1`` may
overwrite those slots without a second barrier.

The barrier is a counter per process in the same shared memory: each process stores the
number of its pass after writing its slots, then polls the others' counters (yielding the
CPU between polls) until all have reached it. gloo's barrier, a round trip through its
worker thread and the loopback TCP stack, cost about 2.5 ms of a 30 ms step on the 2-core
machine (``benchmarks/ddp_anatomy.py``). The counter needs stores to become visible in
program order, which x86-64 guarantees (total store order); on other processors gloo's
barrier is kept.
"""

from __future__ import annotations

import os
import platform
import socket
import tempfile
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["SharedMemoryReducer", "on_one_host", "register_shared_memory_hook"]

# x86-64 makes a process's stores visible to the others in program order: a counter written
# after the slots is seen after them, with no fence Python could not issue anyway
COUNTER_BARRIER = platform.machine().lower() in ("x86_64", "amd64")
BARRIER_TIMEOUT_S = 1800.0  # torch.distributed's default timeout
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def on_one_host(group: dist.ProcessGroup | None = None) -> bool:
    """True when every process of ``group`` runs on this host (same host name and boot)."""
    here = (socket.gethostname(), _boot_id())
    everyone: list = [None] * dist.get_world_size(group)
    dist.all_gather_object(everyone, here, group=group)
    return all(h == here for h in everyone)


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:  # not Linux: the host name alone
        return ""


def _shared_tensor(numel: int, dtype: torch.dtype, group: dist.ProcessGroup | None) -> torch.Tensor:
    """A zeroed tensor of ``numel`` elements that every process of ``group`` maps."""
    rank = dist.get_rank(group)
    path = None
    if rank == 0:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        fd, path = tempfile.mkstemp(prefix="snnbench-grad-", dir=folder)
        os.close(fd)
    box = [path]
    dist.broadcast_object_list(box, src=0, group=group)
    t = torch.from_file(box[0], shared=True, size=numel, dtype=dtype)
    dist.barrier(group)  # every process has mapped the file: it may go from the folder
    if rank == 0:
        os.unlink(box[0])
    return t


@dataclass
class SharedMemoryReducer:
    """State of the hook: per gradient dtype, slots ``[2, N, capacity]`` in shared memory."""

    group: dist.ProcessGroup | None
    rank: int
    size: int
    slots: dict[torch.dtype, torch.Tensor] = field(default_factory=dict)
    calls: int = 0
    # buckets written since the last barrier: (gradient, its offset in the slots, its future)
    staged: list[tuple[torch.Tensor, int, torch.futures.Future | None]] = field(default_factory=list)
    used: dict[torch.dtype, int] = field(default_factory=dict)
    passes: torch.Tensor | None = None  # [N] int64 in shared memory: each process's barrier count

    @classmethod
    def for_model(cls, model: torch.nn.Module, group: dist.ProcessGroup | None = None) -> SharedMemoryReducer:
        """Slots big enough for any bucket of ``model``'s trainable parameters (a bucket
        never holds more than all of one dtype's parameters). Collective: every process
        calls it with the same model."""
        state = cls(group, dist.get_rank(group), dist.get_world_size(group))
        numel: dict[torch.dtype, int] = {}
        for p in model.parameters():
            if p.requires_grad:
                numel[p.dtype] = numel.get(p.dtype, 0) + p.numel()
        for dtype in sorted(numel, key=str):  # the same order on every process
            flat = _shared_tensor(2 * state.size * numel[dtype], dtype, group)
            state.slots[dtype] = flat.view(2, state.size, numel[dtype])
        if COUNTER_BARRIER:
            state.passes = _shared_tensor(state.size, torch.int64, group)
        return state

    def barrier(self) -> None:
        """Wait until every process has reached this barrier (its ``calls``-th)."""
        if self.passes is None:
            dist.barrier(self.group)
            return
        target = self.calls + 1
        self.passes[self.rank] = target  # after this process's slots (see the module doc)
        deadline = time.monotonic() + BARRIER_TIMEOUT_S
        while min(self.passes.tolist()) < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rank {self.rank}: the other processes did not reach gradient exchange "
                                   f"{target} within {BARRIER_TIMEOUT_S:.0f} s; one of them stopped or hangs")
            _yield()  # a core for a process that has not arrived yet

    def stage(self, grad: torch.Tensor, fut: torch.futures.Future | None = None) -> None:
        """Write this process's share ``grad / N`` into its slot, after the gradients
        staged since the last :meth:`exchange`; ``fut`` gets the mean then."""
        n, off = grad.numel(), self.used.get(grad.dtype, 0)
        slots = self.slots[grad.dtype]
        if off + n > slots.shape[-1]:
            raise RuntimeError(f"shared-memory gradient slots hold {slots.shape[-1]} {grad.dtype} values; "
                               f"{off + n} were staged before one exchange (more than the model's parameters)")
        torch.div(grad, self.size, out=slots[self.calls % 2, self.rank, off:off + n])
        self.used[grad.dtype] = off + n
        self.staged.append((grad, off, fut))

    def exchange(self) -> None:
        """One barrier, then every staged gradient replaced in place by the mean over the
        processes (the same sum in rank order on every rank); their futures are completed."""
        self.barrier()
        for grad, off, fut in self.staged:
            torch.sum(self.slots[grad.dtype][self.calls % 2, :, off:off + grad.numel()], dim=0, out=grad)
            if fut is not None:
                fut.set_result(grad)
        self.staged.clear()
        self.used.clear()
        self.calls += 1

    def average(self, grad: torch.Tensor) -> torch.Tensor:
        """``grad`` replaced in place by the mean of every process's ``grad``."""
        self.stage(grad)
        self.exchange()
        return grad


def _hook(state, bucket):  # no annotations: DDP compares them with its classes, not strings
    """Comm hook (``SharedMemoryReducer``, ``dist.GradBucket`` -> ``Future[Tensor]``): the
    bucket's future completes at the backward pass's last bucket (see the module doc)."""
    fut = torch.futures.Future()
    state.stage(bucket.buffer(), fut)
    if bucket.is_last():
        state.exchange()
    return fut


def register_shared_memory_hook(ddp_model: torch.nn.parallel.DistributedDataParallel,
                                group: dist.ProcessGroup | None = None) -> SharedMemoryReducer:
    """Average ``ddp_model``'s gradients through shared memory instead of gloo's
    all-reduce. Every process of ``group`` must be on this host (:func:`on_one_host`) and
    keep its gradients on the CPU. Collective."""
    state = SharedMemoryReducer.for_model(ddp_model.module, group)
    ddp_model.register_comm_hook(state, _hook)
    return state
