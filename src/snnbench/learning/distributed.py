"""Data parallelism for the surrogate-gradient trainer (``torch.distributed``): which
samples each process trains on, how its loss is scaled, and the sums reduced over
processes.

The rule that makes N processes compute the 1-process gradient
-------------------------------------------------------------
The *global* batch size ``B`` (``train.batch_size``) stays fixed and every process trains
on ``b = B / N`` samples of each global batch:

* every process draws the permutation of epoch ``e`` that the 1-process run draws
  (``batch_order(n, generator=epoch_generator(seed, e, 0))``), so global batch ``k`` is
  positions ``[kB, (k+1)B)`` of it in every world size;
* process ``r`` takes the positions ``r, r + N, r + 2N, ...`` of the permutation
  (:class:`EpochShardSampler`, a :class:`torch.utils.data.DistributedSampler` without
  padding), ``b`` at a time; since ``N`` divides ``B`` its ``k``-th chunk is its share of
  global batch ``k``, and the shares of all processes make up that batch exactly;
* process ``r`` minimises ``L_r = (N / B_k) * sum_{i in share_r} CE_i`` (``B_k`` the size of
  global batch ``k``, smaller only for the last one) and DDP *averages* the gradients::

      (1/N) sum_r dL_r/dw = (1/B_k) sum_{i in batch k} dCE_i/dw = d(mean CE over batch k)/dw

  which is the 1-process gradient, up to float summation order. Every process then takes
  the same optimizer step, so parameters, Adam moments and the schedule (one step per
  global batch) stay equal across processes and equal those of the 1-process run.

The last global batch can hold fewer than ``N`` samples; a process with no share then
runs one sample of the batch with weight 0 so that every process joins every gradient
all-reduce (the contribution is exactly 0). Stochastic encoders draw their noise from a
per-process generator, so with them the N-process run is a different, equally likely draw
of the input spikes; with deterministic encoders (``direct``, latency) the runs agree up
to float rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from ..data.batching import batch_order, num_batches
from ..data.splits import ArraySplit


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes (``size == 1``: alone)."""

    rank: int = 0
    size: int = 1

    @classmethod
    def current(cls) -> World:
        """The initialised ``torch.distributed`` process group, or a world of one."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes files (run folder, logs, report)."""
        return self.rank == 0


def check_batch_size(batch_size: int, world: World, name: str = "train.batch_size") -> int:
    """Per-process batch ``B / N``; ``B`` must be a multiple of ``N``."""
    if batch_size < world.size or batch_size % world.size:
        raise ValueError(
            f"{name}={batch_size} must be a multiple of the number of processes ({world.size}): each "
            f"process trains on {name} / processes samples of every batch; pick e.g. "
            f"{max(world.size, batch_size // world.size * world.size)}"
        )
    return batch_size // world.size


def process_generator(base: torch.Generator, world: World) -> torch.Generator:
    """A generator of this process derived from ``base`` (the 1-process generator, unchanged
    for rank 0 of a world of one): distinct streams per rank, reproducible per rank."""
    if world.size == 1:
        return base
    g = torch.Generator()
    g.manual_seed((base.initial_seed() * 1_000_033 + 7919 * (world.rank + 1)) % (2**63 - 1))
    return g


class EpochShardSampler(DistributedSampler):
    """This process's indices of one epoch: the strided positions ``rank::num_replicas`` of
    the 1-process run's permutation (drawn by ``order_fn(epoch)``), without the padding
    :class:`DistributedSampler` adds, so no sample is seen twice."""

    def __init__(self, n: int, order_fn: Any, num_replicas: int, rank: int) -> None:
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.n = n
        self.order_fn = order_fn

    def __iter__(self) -> Iterator[int]:
        order = self.order_fn(self.epoch)
        return iter(order[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.num_replicas))


@dataclass
class LocalBatch:
    """This process's share of one global batch. ``weight`` is 0 for a stand-in sample of a
    process whose share is empty; ``global_size`` is the size of the whole batch."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None
    global_size: int
    weight: float


def shard_batches(
    split: ArraySplit,
    batch_size: int,
    *,
    generator: torch.Generator,
    epoch: int,
    world: World,
    trim: bool = False,
) -> Iterator[LocalBatch]:
    """Yield this process's share of every global batch of one shuffled epoch (see the
    module docstring); every process yields the same number of batches."""
    n = len(split)
    per_rank = check_batch_size(batch_size, world)
    order = batch_order(n, shuffle=True, generator=generator)
    sampler = EpochShardSampler(n, lambda _epoch: order, world.size, world.rank)
    sampler.set_epoch(epoch)
    mine = torch.tensor(list(sampler), dtype=torch.long)
    for k in range(num_batches(n, batch_size)):
        global_size = min(batch_size, n - k * batch_size)
        idx, weight = mine[k * per_rank : (k + 1) * per_rank], 1.0
        if len(idx) == 0:  # the last batch has fewer samples than processes
            idx, weight = order[k * batch_size : k * batch_size + 1], 0.0
        x, y = split.x[idx], split.y[idx]
        lengths = split.lengths[idx] if split.lengths is not None else None
        if trim and lengths is not None and len(lengths):
            x = x[:, : int(lengths.max())]
        yield LocalBatch(x, y, lengths, global_size, weight)


def shard_split(split: ArraySplit, world: World) -> tuple[ArraySplit, torch.Tensor]:
    """The strided part ``rank::size`` of ``split`` (for evaluation) and its positions."""
    idx = torch.arange(world.rank, len(split), world.size)
    return split.subset(idx), idx


def _reduce_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sums(values: list[float], world: World) -> list[float]:
    """Element-wise sum over processes (float64); the values themselves in a world of one."""
    if world.size == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def gather_strided(local: torch.Tensor, n: int, world: World) -> torch.Tensor:
    """Reassemble a per-sample tensor computed on :func:`shard_split` parts into the order
    of the whole split (``n`` samples)."""
    if world.size == 1:
        return local
    parts: list[Any] = [None] * world.size
    dist.all_gather_object(parts, local.cpu())
    out = torch.empty(n, dtype=local.dtype)
    for r, part in enumerate(parts):
        out[r::world.size] = part
    return out


def broadcast_object(obj: Any, world: World) -> Any:
    """Rank 0's ``obj`` on every process (pickled; for small state such as a checkpoint's
    metadata or a folder name)."""
    if world.size == 1:
        return obj
    box = [obj if world.rank == 0 else None]
    dist.broadcast_object_list(box, src=0, device=_reduce_device() if dist.get_backend() == "nccl" else None)
    return box[0]


def wrap_model(model: torch.nn.Module, device: torch.device, world: World,
               shared_memory: bool | None = None) -> torch.nn.Module:
    """``DistributedDataParallel`` around ``model`` in a world of several processes (it
    broadcasts rank 0's parameters and buffers at construction), else ``model`` itself.

    On the CPU with every process on this host the gradients are averaged through shared
    memory (:mod:`snnbench.learning.shm_allreduce`: the same values as gloo's all-reduce,
    without the loopback network); ``shared_memory`` forces it on (True) or off (False)."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    # gradients as views into DDP's buckets: the averaged bucket is the gradient, no copy back
    ddp = DistributedDataParallel(model, device_ids=device_ids, gradient_as_bucket_view=True)
    if device.type == "cpu":
        from .shm_allreduce import on_one_host, register_shared_memory_hook

        if shared_memory or (shared_memory is None and on_one_host()):
            register_shared_memory_hook(ddp)
    return ddp


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (checkpoints hold its state dict, the same keys as
    a 1-process run's, so they resume under any world size)."""
    return getattr(model, "module", model)

