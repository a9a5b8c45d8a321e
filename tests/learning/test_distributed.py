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
from snnbench.learning.distributed import EpochShardSampler, World, check_batch_size, shard_batches
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


def _worker(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        split, model, cfg = _problem()
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model)
        result = _epoch(model, split, cfg, World.current(), wrapped=ddp)
        with open(f"{out}.{rank}", "wb") as f:
            pickle.dump(result, f)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(str(tmp / "init"), str(tmp / "out")), nprocs=2, start_method="spawn")
    return [pickle.loads((tmp / f"out.{r}").read_bytes()) for r in range(2)]


def test_two_process_gradients_equal_one_process_large_batch(two_process_run):
    torch.set_num_threads(1)
    split, model, cfg = _problem()
    single = _epoch(model, split, cfg, World())
    assert len(single["grads"]) == -(-N_SAMPLES // BATCH) == 5
    for rank_result in two_process_run:
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
