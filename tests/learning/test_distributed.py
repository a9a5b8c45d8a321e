"""Data-parallel training: 2 gloo processes compute the 1-process large-batch gradients.

The gradients of every step of an epoch (and the evaluation sums) of a 2-process DDP run
are recorded and compared, in float64, with those of the same epoch in one process with
the same global batch size. The split has 33 samples and batches of 8, so the last batch
holds one sample and one process trains on a weight-0 stand-in there.
"""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from snnbench.data.splits import ArraySplit, DatasetInfo
from snnbench.learning.distributed import EpochShardSampler, World, check_batch_size, shard_batches, wrap_model
from snnbench.learning.shm_allreduce import SharedMemoryReducer, on_one_host
from snnbench.learning.trainer import epoch_generator, evaluate, train_one_epoch
from snnbench.models import build_model

N_SAMPLES, BATCH = 33, 8


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that keeps a copy of every gradient it applies."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[list[torch.Tensor]] = []

    def step(self, closure=None):
        self.seen.append([p.grad.detach().clone() for g in self.param_groups for p in g["params"]])
        return super().step(closure)


def _problem():
    g = torch.Generator().manual_seed(3)
    x = 6.0 * torch.rand(N_SAMPLES, 6, generator=g, dtype=torch.float64)  # hidden neurons spike
    y = torch.randint(0, 3, (N_SAMPLES,), generator=g)
    info = DatasetInfo("toy", "tabular", (6,), 3, ("a", "b", "c"))
    torch.manual_seed(0)
    model = build_model({"type": "snn_ff", "hidden": [12], "encoder": "direct", "num_steps": 5,
                         "readout": "mean_membrane"}, info).double()
    cfg = SimpleNamespace(batch_size=BATCH, grad_clip=None, trim_padding=False, lr=0.05)
    return ArraySplit(x, y), model, cfg


def _epoch(model, split, cfg, world: World, wrapped=None):
    opt = RecordingSGD(model.parameters(), lr=cfg.lr)
    res = train_one_epoch(wrapped or model, split, cfg, opt, None, seed=1, epoch=0,
                          device=torch.device("cpu"), progress=False, world=world)
    ev = evaluate(model, split, batch_size=7, seed=1, device=torch.device("cpu"), record_activity=True, world=world)
    return {"grads": opt.seen, "loss": res.loss, "acc": res.accuracy, "eval": ev,
            "params": [p.detach().clone() for p in model.parameters()]}


def _worker(rank: int, init_file: str, out: str, shared_memory: bool) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        split, model, cfg = _problem()
        # gloo's all-reduce, or the shared-memory hook the trainer installs on one host
        ddp = wrap_model(model, torch.device("cpu"), World.current(), shared_memory=shared_memory)
        assert (ddp._comm_hooks != []) is shared_memory  # noqa: SLF001  (which path ran)
        result = _epoch(model, split, cfg, World.current(), wrapped=ddp)
        with open(f"{out}.{rank}", "wb") as f:
            pickle.dump(result, f)
    finally:
        dist.destroy_process_group()


def _two_process_run(tmp, shared_memory: bool):
    mp.start_processes(_worker, args=(str(tmp / "init"), str(tmp / "out"), shared_memory), nprocs=2,
                       start_method="spawn")
    return [pickle.loads((tmp / f"out.{r}").read_bytes()) for r in range(2)]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    return _two_process_run(tmp_path_factory.mktemp("ddp"), shared_memory=False)


@pytest.fixture(scope="module")
def two_process_shm_run(tmp_path_factory):
    return _two_process_run(tmp_path_factory.mktemp("ddp_shm"), shared_memory=True)


@pytest.mark.parametrize("run", ["two_process_run", "two_process_shm_run"])
def test_two_process_gradients_equal_one_process_large_batch(run, request):
    torch.set_num_threads(1)
    split, model, cfg = _problem()
    single = _epoch(model, split, cfg, World())
    assert len(single["grads"]) == -(-N_SAMPLES // BATCH) == 5
    for rank_result in request.getfixturevalue(run):
        assert len(rank_result["grads"]) == 5  # every process joins every step
        for step_ddp, step_one in zip(rank_result["grads"], single["grads"]):
            for g_ddp, g_one in zip(step_ddp, step_one):
                assert g_one.abs().max() > 0  # hidden neurons spike in every batch
                torch.testing.assert_close(g_ddp, g_one, rtol=1e-11, atol=1e-13)
        for p_ddp, p_one in zip(rank_result["params"], single["params"]):
            torch.testing.assert_close(p_ddp, p_one, rtol=1e-11, atol=1e-13)
        # epoch figures are sums over all processes: the 1-process figures
        assert rank_result["loss"] == pytest.approx(single["loss"], rel=1e-12)
        assert rank_result["acc"] == single["acc"]
        ev, ev1 = rank_result["eval"], single["eval"]
        assert ev["accuracy"] == ev1["accuracy"]
        assert ev["loss"] == pytest.approx(ev1["loss"], rel=1e-12)
        assert torch.equal(ev["predictions"], ev1["predictions"])
        assert ev["spike_rates"].keys() == ev1["spike_rates"].keys()
        for k, v in ev1["spike_rates"].items():
            assert ev["spike_rates"][k] == pytest.approx(v, rel=1e-12)


def test_shared_memory_hook_equals_gloo_bit_for_bit(two_process_run, two_process_shm_run):
    """With 2 processes the shared-memory average is gloo's to the bit (one addition)."""
    for gloo, shm in zip(two_process_run, two_process_shm_run):
        for step_gloo, step_shm in zip(gloo["grads"], shm["grads"], strict=True):
            for a, b in zip(step_gloo, step_shm, strict=True):
                assert torch.equal(a, b)
        for a, b in zip(gloo["params"], shm["params"], strict=True):
            assert torch.equal(a, b)


def _reduce_worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=3)
    try:
        model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 3).double())
        reducer = SharedMemoryReducer.for_model(model)
        assert on_one_host()
        g = torch.Generator().manual_seed(rank)
        seen = []
        for k in range(5):  # more calls than slot sets: the alternation is exercised
            dtype = torch.float64 if k % 2 else torch.float32
            n = 12 if dtype == torch.float64 else 24  # at most the dtype's parameter count
            x = torch.randn(n, generator=g, dtype=dtype)
            expect = x / 3
            dist.all_reduce(expect)
            seen.append((reducer.average(x.clone()), expect))
        # several gradients staged, one exchange (the hook's way: one barrier per pass)
        xs = [torch.randn(n, generator=g, dtype=d) for n, d in ((7, torch.float32), (5, torch.float64),
                                                                 (17, torch.float32))]
        expects = [x / 3 for x in xs]
        for e in expects:
            dist.all_reduce(e)
        got = [x.clone() for x in xs]
        for x in got:
            reducer.stage(x)
        reducer.exchange()
        seen += list(zip(got, expects))
        with open(f"{out}.{rank}", "wb") as f:
            pickle.dump({"reduced": seen, "ddp": _ddp_many_buckets(rank)}, f)
    finally:
        dist.destroy_process_group()


def _ddp_many_buckets(rank: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """DDP with tiny buckets (several per backward pass) and the shared-memory hook: its
    gradients against the all-reduced mean of the same gradients computed without DDP."""
    from torch.nn.parallel import DistributedDataParallel

    from snnbench.learning.shm_allreduce import register_shared_memory_hook

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 2))
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(10 + rank))
    model(x).square().sum().backward()
    expect = [p.grad.clone() for p in model.parameters()]
    for e in expect:
        e /= 3
        dist.all_reduce(e)
    model.zero_grad(set_to_none=True)
    ddp = DistributedDataParallel(model, bucket_cap_mb=1e-4)  # about one parameter per bucket
    state = register_shared_memory_hook(ddp)
    buckets: list[int] = []
    stage = state.stage
    state.stage = lambda grad, fut=None: (buckets.append(grad.numel()), stage(grad, fut))[1]
    for _ in range(2):  # the first pass, and one after DDP rebuilt its buckets
        model.zero_grad(set_to_none=True)
        ddp(x).square().sum().backward()
    # DDP rebuilds its buckets after the first pass (one bucket, then three): more buckets than
    # passes, one barrier per pass
    assert len(buckets) > 2 and state.calls == 2 and not state.staged, (buckets, state.calls)
    return [p.grad.clone() for p in model.parameters()], expect


def test_shared_memory_average_of_three_processes(tmp_path):
    mp.start_processes(_reduce_worker, args=(str(tmp_path / "init"), str(tmp_path / "out")), nprocs=3,
                       start_method="spawn")
    per_rank = [pickle.loads((tmp_path / f"out.{r}").read_bytes()) for r in range(3)]
    for k, (got0, expect0) in enumerate(per_rank[0]["reduced"][:5]):
        assert got0.dtype == (torch.float64 if k % 2 else torch.float32)
    for k, (got0, expect0) in enumerate(per_rank[0]["reduced"]):  # one call each, then staged ones
        torch.testing.assert_close(got0, expect0)  # gloo's mean, up to summation order
        for other in per_rank[1:]:
            assert torch.equal(other["reduced"][k][0], got0)  # every process holds the same numbers
    grads0, expect0 = per_rank[0]["ddp"]
    for a, b in zip(grads0, expect0, strict=True):
        torch.testing.assert_close(a, b)
    for other in per_rank[1:]:
        for a, b in zip(other["ddp"][0], grads0, strict=True):
            assert torch.equal(a, b)


def test_shards_partition_every_global_batch():
    """The shares of all processes are exactly the 1-process batches (no sample twice)."""
    n, batch, size = 29, 12, 3
    split = ArraySplit(torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n))
    one = [b.y.tolist() for b in shard_batches(split, batch, generator=epoch_generator(0, 2, 0), epoch=2,
                                                world=World(0, 1))]
    shares = [[(b.y.tolist(), b.weight, b.global_size) for b in
               shard_batches(split, batch, generator=epoch_generator(0, 2, 0), epoch=2, world=World(r, size))]
              for r in range(size)]
    assert all(len(s) == len(one) == 3 for s in shares)
    for k, batch_ids in enumerate(one):
        got = sorted(i for s in shares for ids, w, g in [s[k]] if w for i in ids)
        assert got == sorted(batch_ids)
        assert {s[k][2] for s in shares} == {len(batch_ids)}
    # the last batch has 5 samples for 3 processes: 2 + 2 + 1
    assert [len(s[-1][0]) for s in shares] == [2, 2, 1]
    # torch's sampler contract: per-rank index counts add up to n, no padding
    assert sum(len(EpochShardSampler(n, lambda e: torch.arange(n), size, r)) for r in range(size)) == n


def test_batch_size_must_split_evenly():
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        check_batch_size(9, World(0, 2))
    assert check_batch_size(8, World(1, 2)) == 4
