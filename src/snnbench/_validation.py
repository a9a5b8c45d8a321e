"""Argument checks shared by every module.

Each check raises ``ValueError`` whose message names the argument, the value received and
what is allowed, so that a user can fix the call without reading the source.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Require a finite number > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v


def check_int(name: str, value: int, *, minimum: int = 1) -> int:
    """Require an integer >= ``minimum`` (e.g. number of time steps T >= 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_range(name: str, value: float, low: float, high: float) -> float:
    """Require ``low <= value <= high`` (both finite)."""
    v = float(value)
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return v


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """Require one of a fixed set of strings."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def check_tensor(
    name: str,
    x: torch.Tensor,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    finite: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> torch.Tensor:
    """Check rank, finiteness and value range of a tensor; return it unchanged.

    ``ndim`` may be one rank or several allowed ranks; ``low``/``high`` bound the values
    (e.g. ``low=0, high=1`` for probabilities).
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(
                f"{name} must have {want} dimensions, got shape {tuple(x.shape)} ({x.ndim} dims)"
            )
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (time-first [T, B, ...]), "
            f"got shape {tuple(x.shape)}"
        )
    if x.is_floating_point() and (finite or low is not None or high is not None):
        with torch.no_grad():
            if finite and not bool(torch.isfinite(x).all()):
                raise ValueError(f"{name} contains NaN or infinite values; clean the input first")
            if low is not None and x.numel() and float(x.min()) < low:
                raise ValueError(
                    f"{name} must be >= {low}, got a minimum of {float(x.min()):.4g}"
                )
            if high is not None and x.numel() and float(x.max()) > high:
                raise ValueError(
                    f"{name} must be <= {high}, got a maximum of {float(x.max()):.4g}"
                )
    return x
