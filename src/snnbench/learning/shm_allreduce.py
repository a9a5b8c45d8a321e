"""Gradient averaging through shared memory for data-parallel processes on one host.

``gloo`` moves every gradient bucket through the loopback TCP stack: on a 2-core machine the
all-reduce of the 1.6 MB gradient of ``mnist5k-rate``'s SNN costs about 3 ms of a 26 ms step
(``benchmarks/ddp_anatomy.py``). Processes on one host can instead read each other's
gradients from memory they share. :func:`register_shared_memory_hook` installs a
``DistributedDataParallel`` communication hook (``DistributedDataParallel.register_comm_hook``,
the documented way to replace the all-reduce) that does, per bucket ``g_r`` of rank ``r``::

    slot[r] = g_r / N            # this rank's share, in a file mapped by every process
    barrier                      # gloo: every slot is written (and the memory is synced)
    g = slot[0] + slot[1] + ... + slot[N-1]    # the same sum, in rank order, on every rank

the value of DDP's default hook (divide by N, then all-reduce a sum). Every rank adds the
same numbers in the same order, so the ranks stay bit-identical; with 2 processes the sum
is also bit-identical to gloo's (one addition, and float addition commutes). Two sets of
slots alternate between successive buckets: a rank that passed the barrier of bucket
``k`` knows every rank has finished reading bucket ``k - 1``, so bucket ``k + 1`` may
overwrite those slots without a second barrier.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["SharedMemoryReducer", "on_one_host", "register_shared_memory_hook"]


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
        return state

    def average(self, grad: torch.Tensor) -> torch.Tensor:
        """``grad`` replaced in place by the mean of every process's ``grad``."""
        n = grad.numel()
        slots = self.slots[grad.dtype][self.calls % 2, :, :n]
        self.calls += 1
        torch.div(grad, self.size, out=slots[self.rank])
        dist.barrier(self.group)
        torch.sum(slots, dim=0, out=grad)
        return grad


def _hook(state, bucket):  # no annotations: DDP compares them with its classes, not strings
    """Comm hook (``SharedMemoryReducer``, ``dist.GradBucket`` -> ``Future[Tensor]``)."""
    fut = torch.futures.Future()
    fut.set_result(state.average(bucket.buffer()))
    return fut


def register_shared_memory_hook(ddp_model: torch.nn.parallel.DistributedDataParallel,
                                group: dist.ProcessGroup | None = None) -> SharedMemoryReducer:
    """Average ``ddp_model``'s gradients through shared memory instead of gloo's
    all-reduce. Every process of ``group`` must be on this host (:func:`on_one_host`) and
    keep its gradients on the CPU. Collective."""
    state = SharedMemoryReducer.for_model(ddp_model.module, group)
    ddp_model.register_comm_hook(state, _hook)
    return state
