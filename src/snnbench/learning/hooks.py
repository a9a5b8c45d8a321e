"""Layer hooks: what a layer needs from the training loop, announced by the layer itself.

Any ``nn.Module`` inside a model may define some of these methods; the trainer and the
runner call them on every submodule that has them (in ``model.modules()`` order) and know
no layer by name::

    on_epoch_start(epoch, num_epochs)  before each training epoch (0-based epoch)
    on_epoch_end(epoch, num_epochs)    after each training epoch
    after_step()                       after every optimizer step (e.g. project parameters)
    extra_loss() -> Tensor             added to the training loss (e.g. a regulariser)
    parameter_groups() -> list[dict]   parameters that need their own optimizer settings:
                                       {"name", "params", "lr_scale", other optimizer options}
    finalize() -> str | None           after training, before the final test: switch to the
                                       deployed form; returns a short name of the change

Example: :class:`snnbench.synapses.delays.DelayedLinear` anneals its Gaussian delay kernels
at epoch start, keeps delay positions in range after each step, puts the positions in an
optimizer group ``"delay"`` (learning rate ``train.delay_lr``, else 10x ``train.lr``) and
rounds to integer delays in ``finalize`` (the runner then reports the test accuracy before
it as ``test_accuracy_before_rounding``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

__all__ = [
    "LayerHooks",
    "has_hook",
    "on_epoch_start",
    "on_epoch_end",
    "after_step",
    "extra_loss",
    "optimizer_groups",
    "finalize",
]


class LayerHooks(Protocol):
    """The hook methods a layer may define (each one optional)."""

    def on_epoch_start(self, epoch: int, num_epochs: int) -> Any: ...
    def on_epoch_end(self, epoch: int, num_epochs: int) -> Any: ...
    def after_step(self) -> None: ...
    def extra_loss(self) -> torch.Tensor: ...
    def parameter_groups(self) -> list[dict[str, Any]]: ...
    def finalize(self) -> str | None: ...


def _call(model: nn.Module, hook: str, *args: Any) -> list[Any]:
    out = []
    for m in model.modules():
        fn = getattr(m, hook, None)
        if callable(fn):
            out.append(fn(*args))
    return out


def has_hook(model: nn.Module, hook: str) -> bool:
    """Whether any submodule of ``model`` defines ``hook``."""
    return any(callable(getattr(m, hook, None)) for m in model.modules())


def on_epoch_start(model: nn.Module, epoch: int, num_epochs: int) -> None:
    _call(model, "on_epoch_start", epoch, num_epochs)


def on_epoch_end(model: nn.Module, epoch: int, num_epochs: int) -> None:
    _call(model, "on_epoch_end", epoch, num_epochs)


def after_step(model: nn.Module) -> None:
    _call(model, "after_step")


def extra_loss(model: nn.Module) -> torch.Tensor | None:
    """Sum of the layers' extra loss terms, or None when no layer has one."""
    terms = _call(model, "extra_loss")
    return sum(terms[1:], terms[0]) if terms else None


def optimizer_groups(model: nn.Module, lr: float,
                     lr_for: Callable[[str], float | None] | None = None) -> list[dict[str, Any]]:
    """Optimizer parameter groups: first every trainable parameter that no layer claims
    (``lr``), then one group per name the layers' ``parameter_groups()`` announce, with the
    parameters of every layer of that name in module order. A group's learning rate is
    ``lr_for(name)`` when that gives a number (the trainer reads ``train.<name>_lr``), else
    ``lr * lr_scale``."""
    named: dict[str, dict[str, Any]] = {}
    taken: set[int] = set()
    for groups in _call(model, "parameter_groups"):
        for g in groups:
            g = dict(g)
            name, params = g.pop("name"), list(g.pop("params"))
            entry = named.setdefault(name, {"params": [], **g})
            for p in params:
                if id(p) not in taken:
                    taken.add(id(p))
                    entry["params"].append(p)
    rest = [p for p in model.parameters() if id(p) not in taken and p.requires_grad]
    out: list[dict[str, Any]] = [{"params": rest, "lr": lr}]
    for name, g in named.items():
        scale = g.pop("lr_scale", 1.0)
        out.append({**g, "lr": (lr_for(name) if lr_for else None) or lr * scale})
    return out


def finalize(model: nn.Module) -> list[str]:
    """Call every layer's ``finalize()``; return the distinct names of what changed."""
    names = [n for n in _call(model, "finalize") if n]
    return list(dict.fromkeys(names))
