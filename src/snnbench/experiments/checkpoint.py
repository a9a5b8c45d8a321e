"""Atomic files and safetensors checkpoints (model + optimizer + scheduler + history).

A checkpoint is one ``.safetensors`` file: the model's tensors under ``model.``, the best
model so far under ``best.`` (for early stopping), the optimizer's per-parameter tensors
under ``optim.<index>.<key>``, and everything that is not a tensor (epoch, history,
optimizer hyper-parameters, scheduler state) as JSON in the file's metadata. Every write
is atomic (:mod:`snnbench._files`): a run killed at any moment leaves either the old or
the new file, never a torn one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .._files import atomic_write_bytes, atomic_write_json, atomic_write_text, to_json

__all__ = [
    "atomic_write_json", "atomic_write_text", "load_checkpoint", "load_tensors", "save_checkpoint", "save_tensors",
]


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Atomically save tensors (made contiguous, storage unshared) with JSON metadata."""
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta = {"json": to_json(metadata or {})}
    atomic_write_bytes(path, save(clean, metadata=meta))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a file written by :func:`save_tensors`; a corrupt file raises a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return tensors, json.loads(meta.get("json", "{}"))
    except (SafetensorError, json.JSONDecodeError, OSError) as err:
        raise ValueError(
            f"checkpoint {str(path)!r} is corrupt or not a snnbench checkpoint ({err}); "
            "delete it to restart that run from scratch"
        ) from None


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, entry in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None,
    meta: dict[str, Any],
    best_state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Save everything a run needs to continue exactly where it stopped."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best.{k}": v for k, v in best_state.items()})
    opt_tensors, opt_meta = _split_optimizer(optimizer.state_dict())
    tensors.update(opt_tensors)
    full_meta = dict(meta)
    full_meta["optimizer"] = opt_meta
    full_meta["scheduler"] = scheduler.state_dict() if scheduler is not None else None
    save_tensors(path, tensors, full_meta)


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model/optimizer/scheduler in place; return (meta, best model state or None)."""
    tensors, meta = load_tensors(path)
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state)
    except RuntimeError as err:
        raise ValueError(
            f"checkpoint {str(path)!r} does not fit this model (was the config changed?): {err}"
        ) from None
    if optimizer is not None and "optimizer" in meta:
        optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
    if scheduler is not None and meta.get("scheduler") is not None:
        scheduler.load_state_dict(meta["scheduler"])
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")} or None
    return meta, best
