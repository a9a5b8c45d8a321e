"""Config identity of a trained model: which resolved config produced a checkpoint or result.

Every checkpoint and ``final.json`` of a run folder records the *section* of the resolved
config that determines one (experiment, model, seed): the experiment's ``data`` and ``train``
settings, the model's own entry, the SNN a baseline is matched to, the seed and the device,
together with its SHA-256 (over canonical JSON) and the snnbench version that wrote it.
``--resume`` compares the section the folder's ``config.yaml`` resolves to now with the one
recorded and refuses a difference, naming the changed fields (``train.epochs 2 -> 3``),
unless ``--allow-config-change FIELD ...`` names each of them; an allowed change is recorded
in the log, the checkpoint and the results. A model with nothing recorded yet (not trained
beyond its first epoch) takes the new config freely.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .._version import __version__
from ..learning.trainer import build_optimizer, build_scheduler
from .config import ConfigError, ExperimentConfig, ModelConfig, SuiteConfig


def config_section(suite: SuiteConfig, exp: ExperimentConfig, m: ModelConfig, seed: int) -> dict[str, Any]:
    """The resolved config that determines the training of ``m`` with ``seed`` in ``exp``."""
    target = next((o for o in exp.models if o.name == m.match), None) if m.match else None
    return {
        "data": exp.data.model_dump(mode="json"),
        "train": exp.train.model_dump(mode="json"),
        "model": m.model_dump(mode="json"),
        "match": target.model_dump(mode="json") if target is not None else None,
        "seed": seed,
        "device": suite.device,
    }


def section_hash(section: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(section, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def identity(section: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint and ``final.json`` record: the section, its hash, the version."""
    return {"hash": section_hash(section), "version": __version__, "section": section}


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted field, old value, new value)`` for every leaf that differs."""
    a, b = _flatten(old), _flatten(new)
    missing = object()
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb:
            out.append((key, None if va is missing else va, None if vb is missing else vb))
    return out


def _allowed(field: str, allow: Iterable[str]) -> bool:
    # "train" allows every train.* field; "model.kwargs.encoder" exactly that one
    return any(field == a or field.startswith(a + ".") for a in allow)


def check_identity(
    recorded: dict[str, Any], section: dict[str, Any], allow: Sequence[str], where: str, run_dir: str
) -> list[str]:
    """Compare a recorded identity with the current section. Return the changed fields (all
    of them allowed); raise :class:`ConfigError` naming the fields that changed otherwise."""
    if recorded.get("hash") == section_hash(section):
        return []
    changes = changed_fields(recorded.get("section") or {}, section)
    if not changes:  # same fields, hash recorded by a different canonical form: treat as changed
        changes = [("(whole section)", recorded.get("hash"), section_hash(section))]
    refused = [c for c in changes if not _allowed(c[0], allow)]
    if refused:
        shown = ", ".join(f"{f} {old!r} -> {new!r}" for f, old, new in refused)
        names = " ".join(f for f, _, _ in refused)
        raise ConfigError(
            f"{where} was trained with another config: {shown}; restore config.yaml, or if the change "
            f"is safe continue with 'snnbench run --resume {run_dir} --allow-config-change {names}'"
        )
    return [f for f, _, _ in changes]


def rebase_schedule(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, cfg: Any, steps_per_epoch: int, done_steps: int
) -> Any:
    """After an allowed change of the ``train`` section: take the hyper-parameters of the new
    config (learning rate, weight decay, ...) into the restored optimizer, keeping its moment
    estimates, and return the new config's schedule advanced to ``done_steps``: the learning
    rate continues as if the run had been configured this way from its start (``train.epochs``
    raised: cosine now reaches 0 at the new last epoch)."""
    fresh = build_optimizer(model, cfg)  # holds no state: only its groups' settings are read
    if type(fresh) is not type(optimizer) or len(fresh.param_groups) != len(optimizer.param_groups):
        raise ConfigError("train.optimizer cannot change on --resume (the optimizer state would not fit)")
    for g, f in zip(optimizer.param_groups, fresh.param_groups):
        for key in ("initial_lr", "max_lr", "min_lr"):
            g.pop(key, None)
        g.update({k: v for k, v in f.items() if k != "params"})
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
    if scheduler is not None:
        total = getattr(scheduler, "total_steps", None)
        steps = done_steps if total is None else min(done_steps, total - 1)
        with warnings.catch_warnings():  # stepping the schedule alone, without optimizer steps
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(steps):
                scheduler.step()
    return scheduler
