"""Atomic files and safetensors checkpoints (model + optimizer + scheduler + history).

A checkpoint is one ``.safetensors`` file: the model's tensors under ``model.``, the best
model so far under ``best.`` (for early stopping), the optimizer's per-parameter tensors
under ``optim.<index>.<key>``, and everything that is not a tensor (epoch, history,
optimizer hyper-parameters, scheduler state) as JSON in the file's metadata. Every write
is atomic (:mod:`snnbench._files`): a run killed at any moment leaves either the old or
the new file, never a torn one.

Integrity: the metadata also holds ``sha256``, a SHA-256 over the JSON metadata and every
tensor (name, dtype, shape, bytes), checked on every load, so a flipped bit anywhere in the
file, or an edited entry, is reported as a corrupt file instead of being trained on. The
optimizer and scheduler parts of a checkpoint's metadata are validated against a schema,
and every floating-point tensor must be finite.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from .._files import atomic_write_bytes, atomic_write_json, atomic_write_text, to_json

__all__ = [
    "atomic_write_json", "atomic_write_text", "checksum", "load_checkpoint", "load_tensors", "read_metadata",
    "save_checkpoint", "save_tensors",
]


def checksum(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """SHA-256 (hex) over the JSON metadata and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(meta_json.encode())
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _corrupt(path: Path, why: str) -> ValueError:
    return ValueError(
        f"checkpoint {str(path)!r} is corrupt or not a snnbench checkpoint ({why}); "
        "delete it to restart that run from scratch"
    )


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> None:
    """Atomically save tensors (made contiguous, storage unshared) with JSON metadata and
    their checksum."""
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    meta_json = to_json(metadata or {})
    meta = {"json": meta_json, "sha256": checksum(clean, meta_json)}
    atomic_write_bytes(path, save(clean, metadata=meta))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a file written by :func:`save_tensors`, from its header only
    (the tensors are not read, so the checksum is not verified: use :func:`load_tensors`)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        out = json.loads(meta["json"])
    except (SafetensorError, json.JSONDecodeError, KeyError, OSError, UnicodeDecodeError) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None
    if not isinstance(out, dict):
        raise _corrupt(path, "its metadata is not a mapping")
    return out


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a file written by :func:`save_tensors` and verify its checksum; a corrupt file
    raises a clear error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        meta_json = raw["json"]
        meta = json.loads(meta_json)
    except KeyError:
        raise _corrupt(path, "no metadata") from None
    except (SafetensorError, json.JSONDecodeError, OSError, UnicodeDecodeError) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None
    if "sha256" not in raw:
        raise _corrupt(path, "it carries no checksum")
    if checksum(tensors, meta_json) != raw["sha256"]:
        raise _corrupt(path, "checksum mismatch: its bytes changed after it was written")
    if not isinstance(meta, dict):
        raise _corrupt(path, "its metadata is not a mapping")
    return tensors, meta


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


class _OptimizerMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    param_groups: list[dict[str, Any]]
    scalars: dict[str, dict[str, Any]]


class _CheckpointMeta(BaseModel):
    """Schema of the parts of a checkpoint's metadata that :func:`load_checkpoint` restores."""

    model_config = ConfigDict(extra="allow")
    optimizer: _OptimizerMeta
    scheduler: dict[str, Any] | None


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model/optimizer/scheduler in place; return (meta, best model state or None).

    Every failure (corrupt file, metadata off its schema, non-finite values, state that does
    not fit) raises ``ValueError`` naming the checkpoint."""
    path = Path(path)
    tensors, meta = load_tensors(path)
    try:
        _CheckpointMeta.model_validate(meta)
    except ValidationError as err:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise _corrupt(path, f"metadata off its schema: {where}") from None
    for name, t in tensors.items():  # bad weights are the checkpoint's fault, not the input's
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise _corrupt(path, f"tensor {name} holds NaN or infinite values")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state)
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise ValueError(
            f"checkpoint {str(path)!r} does not fit this model (was the config changed?): {detail}"
        ) from None
    try:
        if optimizer is not None:
            optimizer.load_state_dict(_join_optimizer(tensors, meta["optimizer"]))
        if scheduler is not None and meta.get("scheduler") is not None:
            scheduler.load_state_dict(meta["scheduler"])
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as err:
        raise ValueError(
            f"checkpoint {str(path)!r}: its optimizer or scheduler state does not fit this run "
            f"({type(err).__name__}: {' '.join(str(err).split())}); delete it to restart that run from scratch"
        ) from None
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")} or None
    return meta, best
