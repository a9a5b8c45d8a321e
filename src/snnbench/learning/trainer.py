"""Backpropagation-through-time training with surrogate gradients (and plain training of
ANN baselines): optimizer and schedule, one epoch, evaluation.

Every source of randomness in an epoch (shuffling, stochastic encoders) is drawn from
generators seeded by ``(seed, epoch)``, so epoch ``k`` does the same thing whether the run
went straight through or was resumed from the checkpoint of epoch ``k - 1``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data.augment import augment_from_config
from ..data.batching import iterate_batches
from .._steps import extra_steps_of, masked_sum_count, padded_length_of
from . import hooks
from .distributed import World, all_reduce_sums, broadcast_object, gather_strided, process_generator, shard_batches, shard_split


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """A CPU generator for one purpose (``stream``) of one epoch of one seed."""
    g = torch.Generator()
    g.manual_seed(((seed * 1_000_003 + epoch) * 16 + stream) % (2**63 - 1))
    return g


def build_optimizer(model: torch.nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """Adam or AdamW from a :class:`~snnbench.experiments.config.TrainConfig`."""
    # layers announce parameters with their own settings (e.g. delay positions, group
    # "delay", whose learning rate is train.delay_lr when set)
    groups = hooks.optimizer_groups(model, cfg.lr, lambda name: getattr(cfg, f"{name}_lr", None))
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: Any, steps_per_epoch: int):
    """Per-batch schedule: cosine decay to 0 or one-cycle over all epochs; None for 'none'."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if cfg.schedule == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total)
    return None


def autocast(device: torch.device, cfg: Any):
    """``torch.autocast`` to bfloat16 on ``device`` when ``cfg.precision == "bf16"`` (mixed
    precision on CUDA, bf16 autocast on the CPU); a disabled context otherwise."""
    enabled = getattr(cfg, "precision", "fp32") == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    seconds: float


def train_one_epoch(
    model: torch.nn.Module,
    split: Any,
    cfg: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None,
    *,
    seed: int,
    epoch: int,
    device: torch.device,
    progress: bool = True,
    desc: str = "",
    world: World | None = None,
) -> EpochResult:
    """One pass over ``split`` in a seeded random order; cross-entropy on the readout.

    With several processes (``world``, default: the initialised ``torch.distributed``
    group) ``model`` is the DDP-wrapped model, each process trains on its share of every
    global batch of ``cfg.batch_size`` samples and the returned loss and accuracy are over
    all processes (the rule that makes this the 1-process gradient:
    :mod:`snnbench.learning.distributed`)."""
    world = World.current() if world is None else world
    model.train()
    shuffle_gen = epoch_generator(seed, epoch, 0)
    encode_gen = process_generator(epoch_generator(seed, epoch, 1), world)
    augment = getattr(cfg, "augment", None)
    augment_gen = process_generator(epoch_generator(seed, epoch, 3), world) if augment is not None else None
    n_batches = math.ceil(len(split) / cfg.batch_size)
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    trim = bool(getattr(cfg, "trim_padding", False))
    if world.size == 1:
        batches = ((x, y, lengths, len(y), 1.0) for x, y, lengths in
                   iterate_batches(split, cfg.batch_size, shuffle=True, generator=shuffle_gen, trim=trim))
    else:
        batches = ((b.x, b.y, b.lengths, b.global_size, b.weight) for b in
                   shard_batches(split, cfg.batch_size, generator=shuffle_gen, epoch=epoch, world=world, trim=trim))
    bar = tqdm(batches, total=n_batches, desc=desc, leave=False, disable=not progress or not world.is_writer,
               unit="batch")
    for x, y, lengths, global_size, weight in bar:
        x, y = x.to(device), y.to(device)
        if augment is not None:  # training batches only: evaluate() never augments
            x = augment_from_config(x, augment, augment_gen)
        lengths = lengths.to(device) if lengths is not None else None
        with autocast(device, cfg):
            logits = model(x, lengths=lengths, generator=encode_gen)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the loss in float32 whatever the forward's precision
        if world.size == 1:
            loss = F.cross_entropy(logits, y)
        else:  # DDP averages over processes: N / B_k * (sum over this share) -> mean over the batch
            loss = F.cross_entropy(logits, y, reduction="sum") * (weight * world.size / global_size)
        extra = hooks.extra_loss(model)
        if extra is not None:
            loss = loss + extra
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss became {loss.item()} at epoch {epoch + 1}; lower train.lr "
                f"(now {cfg.lr}) or set train.grad_clip"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        hooks.after_step(model)  # e.g. learned delays stay inside [0, max_delay - 1]
        if scheduler is not None:
            scheduler.step()
        if world.size == 1:
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        else:
            total_loss += loss.item() * global_size / world.size
            correct += int((logits.argmax(1) == y).sum()) * int(weight)
            seen += len(y) * int(weight)
        bar.set_postfix(loss=f"{total_loss / max(seen, 1):.3f}", acc=f"{correct / max(seen, 1):.3f}")
    total_loss, correct, seen = all_reduce_sums([total_loss, correct, seen], world)
    return EpochResult(total_loss / max(seen, 1), correct / max(seen, 1), time.perf_counter() - start)


def _layer_spike_rates(
    activity: dict[str, dict[str, torch.Tensor]],
    lengths: torch.Tensor | None,
    padded_length: int | None,
    extra_steps: int,
) -> dict[str, tuple[float, int]]:
    """Per layer: (sum of spikes over valid steps, number of neuron-steps counted); valid
    steps as in :func:`snnbench._steps.valid_step_mask` (sub-steps per series step
    and frames the model appends after the input belong to the sample, padding does not)."""
    out: dict[str, tuple[float, int]] = {}
    for name, rec in activity.items():
        spikes = rec.get("spikes")
        if spikes is None:
            continue
        total, _, count = masked_sum_count(spikes.float(), lengths, padded_length, extra_steps)
        out[name] = (total, count)
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    split: Any,
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    record_activity: bool = False,
    trim: bool = False,
    world: World | None = None,
) -> dict[str, Any]:
    """Accuracy, mean loss and predictions; with ``record_activity`` also the mean spike
    rate (spikes per neuron per time step) of every spiking layer. ``trim`` cuts each
    batch of padded series to its longest series. With several processes (``world``,
    default: the initialised ``torch.distributed`` group) each evaluates the strided part
    ``rank::N`` of ``split`` (pass the unwrapped model) and the sums behind every figure
    (loss, correct answers, spikes and neuron-steps per layer) are reduced over processes;
    predictions come back in the order of ``split``."""
    world = World.current() if world is None else world
    full_n = len(split)
    if world.size > 1:
        split, _ = shard_split(split, world)
    model.eval()
    gen = process_generator(epoch_generator(seed, 10**6, 2), world)  # evaluation noise is fixed per seed
    can_record = record_activity and hasattr(model, "record")
    if can_record:
        model.record = True
    loss_sum, correct, preds = 0.0, 0, []
    sums: dict[str, list[float]] = {}
    try:
        for x, y, lengths in iterate_batches(split, batch_size, shuffle=False, trim=trim):
            x, y = x.to(device), y.to(device)
            lengths = lengths.to(device) if lengths is not None else None
            logits = model(x, lengths=lengths, generator=gen)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            pred = logits.argmax(1)
            correct += int((pred == y).sum())
            preds.append(pred.cpu())
            if can_record:
                rates = _layer_spike_rates(getattr(model, "last_activity", {}) or {}, lengths,
                                           padded_length_of(x, lengths), extra_steps_of(model))
                for name, (total, count) in rates.items():
                    acc = sums.setdefault(name, [0.0, 0])
                    acc[0] += total
                    acc[1] += count
    finally:
        if can_record:
            model.record = False
    local_preds = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)
    if world.size > 1:
        # every process records the same layers (same model); sums in one all-reduce
        names = broadcast_object(sorted(sums), world)  # rank 0 always holds samples
        flat = all_reduce_sums([loss_sum, correct] + [v for k in names for v in sums.get(k, [0.0, 0])], world)
        loss_sum, correct = flat[0], int(flat[1])
        sums = {k: [flat[2 + 2 * i], flat[3 + 2 * i]] for i, k in enumerate(names)}
        local_preds = gather_strided(local_preds, full_n, world)
    n = max(full_n, 1)
    result: dict[str, Any] = {
        "accuracy": correct / n,
        "loss": loss_sum / n,
        "predictions": local_preds,
    }
    if sums:
        rates = {k: v[0] / max(v[1], 1) for k, v in sums.items()}
        result["spike_rates"] = rates
        result["mean_spike_rate"] = sum(v[0] for v in sums.values()) / max(sum(v[1] for v in sums.values()), 1)
    return result
