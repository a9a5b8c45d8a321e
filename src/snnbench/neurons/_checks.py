"""Argument checks of the neuron kinds, written once and run once per call (never inside a
time loop). Messages name the argument, the value and what is allowed."""

from __future__ import annotations

import math
from typing import Union

import torch

from .._validation import check_choice, check_int, check_positive, check_range, check_tensor
from .surrogate import Surrogate

TensorLike = Union[float, torch.Tensor]
RESETS = ("soft", "hard", "none")


def check_unit_interval(name: str, value: TensorLike, *, interval: str | None = None) -> None:
    """A decay per step: a number or tensor with every value in [0, 1]. ``interval`` is how
    the bound is written in the message for a number (default ``[0.0, 1.0]``)."""
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            ok = bool(torch.isfinite(value).all()) and bool(((value >= 0) & (value <= 1)).all())
        if not ok:
            lo, hi = float(value.min()), float(value.max())
            raise ValueError(f"{name} must be in [0, 1], got a tensor with range [{lo:.4g}, {hi:.4g}]")
    elif interval is not None:
        try:
            ok = 0.0 <= float(value) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{name} must be in {interval}, got {value!r}")
    else:
        check_range(name, value, 0.0, 1.0)


def check_positive_value(name: str, value: TensorLike) -> None:
    """A number or tensor with every value finite and > 0."""
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            ok = bool(torch.isfinite(value).all()) and bool((value > 0).all())
        if not ok:
            raise ValueError(
                f"{name} must be finite and > 0, got a tensor with minimum {float(value.min()):.4g}"
            )
    else:
        check_positive(name, value)


def check_v_reset(v_reset) -> float:
    try:
        v = float(v_reset)
    except (TypeError, ValueError):
        raise ValueError(f"v_reset must be a finite number, got {v_reset!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"v_reset must be a finite number, got {v_reset!r}")
    return v


def check_surrogate(surrogate) -> None:
    if not isinstance(surrogate, Surrogate):
        raise ValueError(
            f"surrogate must be a Surrogate instance (use get_surrogate(name)), got {surrogate!r}"
        )


def check_membrane_params(p) -> None:
    """The fields every LIF-type kind shares (``beta``, ``threshold``, ``reset``,
    ``v_reset``, ``refractory_steps``, ``surrogate``): one check for LIF, IF, adaptive
    LIF, current-based LIF and the recurrent LIF."""
    check_unit_interval("beta", p.beta)
    check_positive_value("threshold", p.threshold)
    check_choice("reset", p.reset, RESETS)
    check_v_reset(p.v_reset)
    check_int("refractory_steps", getattr(p, "refractory_steps", 0), minimum=0)
    check_surrogate(p.surrogate)


def check_seq(x_seq: torch.Tensor, *, finite: bool = True) -> torch.Tensor:
    """A time-first floating input ``[T, B, ...]`` with T >= 1; ``finite=False`` skips the
    NaN/inf scan (for callers that validated the model's input once)."""
    check_tensor("x_seq", x_seq, min_ndim=2, finite=finite)
    if not x_seq.is_floating_point():
        raise ValueError(f"x_seq must be a floating point tensor, got dtype {x_seq.dtype}")
    if x_seq.shape[0] < 1:
        raise ValueError(f"x_seq must have at least one time step, got shape {tuple(x_seq.shape)}")
    return x_seq


def check_state_shape(name: str, t: torch.Tensor, shape: torch.Size) -> None:
    if not isinstance(t, torch.Tensor) or t.shape != shape:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{name} must have the neuron shape {tuple(shape)}, got {got}")


def check_broadcast(name: str, t: torch.Tensor, nshape: torch.Size) -> None:
    """``t`` must broadcast to the neuron shape ``nshape`` (``x_seq.shape[1:]``)."""
    if t.dim() == 0:  # one value (a float decay): torch.broadcast_shapes costs ~50 us a call
        return
    try:
        out = torch.broadcast_shapes(t.shape, nshape)
    except RuntimeError:
        out = None
    if out != nshape:
        raise ValueError(
            f"{name} must be broadcastable to the neuron shape {tuple(nshape)} "
            f"(x_seq.shape[1:]), got shape {tuple(t.shape)}"
        )


def as_tensor(value: TensorLike, like: torch.Tensor) -> torch.Tensor:
    """A per-neuron parameter as a tensor for the kernels (a number becomes a 0-d tensor of
    ``like``'s dtype; torch.full, not torch.tensor: on a GPU a fill is queued, a host copy
    blocks)."""
    if isinstance(value, torch.Tensor):
        return value
    return torch.full((), float(value), dtype=like.dtype, device=like.device)


def decay_from_tau(tau: float, dt: float = 1.0, *, name: str = "tau") -> float:
    """Per-step decay ``exp(-dt / tau)`` of a quantity with time constant ``tau``; both in
    ms, both > 0 (``name`` is the argument named in the error)."""
    tau = check_positive(name, tau)
    dt = check_positive("dt", dt)
    return math.exp(-dt / tau)
