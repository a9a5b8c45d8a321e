r"""Temporal codes: information in *when* an input spikes, one spike per input at most.

Latency (time-to-first-spike), with :math:`T` steps and threshold :math:`\vartheta`:

- ``"linear"``: :math:`t = (1 - x)(T - 1)` steps; with ``normalize`` the range
  :math:`[\vartheta, 1]` is stretched over the window, :math:`t = (1-x)/(1-\vartheta)\,(T-1)`.
- ``"log"`` (RC-circuit charging time): :math:`t = \tau \ln\frac{x}{x - \vartheta}` ms, i.e.
  ``t / dt`` steps. With ``normalize`` the time is shifted and scaled so that :math:`x = 1`
  spikes at step 0 and :math:`x = \vartheta + \epsilon` at step :math:`T - 1`.

Times are rounded to the nearest step. Inputs below the threshold (``"log"``: at or below)
never spike; times past the window are clipped to :math:`T-1` (``clip=True``) or dropped.

Rank order: within each sample the inputs are sorted by intensity; the :math:`k`-th largest
(:math:`k = 0, 1, \dots`) spikes at step :math:`k` (or at :math:`\lfloor kT/n\rfloor` with
``scale=True``, :math:`n` the number of non-zero inputs of that sample). Zero inputs never
spike; ties go to the lower flat index (stable sort), so the code is deterministic.
"""

from __future__ import annotations

import math

import torch

from .._signature import keywords_of, takes_options_of
from .._validation import check_choice, check_int, check_positive, check_range
from ._common import Encoder, as_float, steps_to_onehot

LATENCY_METHODS = ("linear", "log")


def _check_latency_args(
    num_steps: int, method: str, threshold: float, tau: float, dt: float, epsilon: float
) -> tuple[int, str, float, float, float, float]:
    num_steps = check_int("num_steps", num_steps)
    method = check_choice("method", method, LATENCY_METHODS)
    threshold = check_range("threshold", threshold, 0.0, 1.0)
    if threshold >= 1.0:
        raise ValueError(
            f"threshold must be in [0, 1) (inputs >= threshold spike), got {threshold!r}"
        )
    if method == "log" and threshold <= 0.0:
        raise ValueError(
            f"threshold must be in (0, 1) for method='log' (t = tau ln(x/(x-threshold))), "
            f"got {threshold!r}"
        )
    tau = check_positive("tau", tau)
    dt = check_positive("dt", dt)
    epsilon = check_positive("epsilon", epsilon)
    return num_steps, method, threshold, tau, dt, epsilon


def latency_spike_times(
    x: torch.Tensor,
    num_steps: int,
    *,
    method: str = "linear",
    threshold: float = 0.01,
    tau: float = 5.0,
    dt: float = 1.0,
    normalize: bool = False,
    clip: bool = True,
    epsilon: float = 1e-3,
) -> torch.Tensor:
    """Spike step of each input of ``x`` ``[B, ...]`` in [0, 1] (int64, ``T`` = no spike).

    See the module docstring for the equations; ``tau`` and ``dt`` are in ms and only used
    by ``method="log"`` without ``normalize``.
    """
    num_steps, method, threshold, tau, dt, epsilon = _check_latency_args(
        num_steps, method, threshold, tau, dt, epsilon
    )
    x = as_float("x", x, min_ndim=1, low=0.0, high=1.0)
    last = num_steps - 1
    if method == "linear":
        fires = x >= threshold
        scale = last / (1.0 - threshold) if normalize else float(last)
        t = (1.0 - x) * scale
    else:
        fires = x > threshold
        # Evaluate the log only where it is finite; other entries are masked out below.
        xs = torch.where(fires, x, torch.ones_like(x))
        charge = torch.log(xs / (xs - threshold))
        if normalize:
            lo = math.log(1.0 / (1.0 - threshold))  # x = 1
            hi = math.log((threshold + epsilon) / epsilon)  # x = threshold + epsilon
            t = (charge - lo) / (hi - lo) * last
        else:
            t = charge * (tau / dt)
    steps = torch.round(t)
    if clip:
        steps = steps.clamp(max=last)
    else:
        fires = fires & (steps <= last)
    never = torch.full_like(steps, float(num_steps))
    return torch.where(fires, steps, never).to(torch.int64)


@keywords_of(latency_spike_times)
def latency_encode(x: torch.Tensor, num_steps: int, **options) -> torch.Tensor:
    """Latency code: ``x`` ``[B, ...]`` in [0, 1] -> ``[T, B, ...]``, one spike per input at most.

    Brighter inputs spike earlier; arguments as in :func:`latency_spike_times`.
    """
    steps = latency_spike_times(x, num_steps, **options)
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return steps_to_onehot(steps, num_steps, dtype)


def rank_order_spike_times(x: torch.Tensor, num_steps: int, *, scale: bool = False) -> torch.Tensor:
    """Spike step of each input of ``x`` ``[B, ...]`` (>= 0) under rank-order coding.

    int64, same shape as ``x``; ``T`` marks inputs that never spike (zero, or ranked past
    the window when ``scale=False``).
    """
    num_steps = check_int("num_steps", num_steps)
    x = as_float("x", x, min_ndim=2, low=0.0)
    flat = x.reshape(x.shape[0], -1)
    n = flat.shape[1]
    # Stable descending sort: equal intensities keep their flat-index order.
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(n, device=x.device).expand_as(order))
    active = flat > 0
    if scale:
        # Zeros sort last, so the active inputs hold ranks 0 .. n_active-1.
        n_active = active.sum(dim=1, keepdim=True).clamp(min=1)
        steps = torch.div(ranks * num_steps, n_active, rounding_mode="floor")
    else:
        steps = ranks
    fires = active & (steps < num_steps)
    steps = torch.where(fires, steps, torch.full_like(steps, num_steps))
    return steps.reshape(x.shape)


def rank_order_encode(x: torch.Tensor, num_steps: int, *, scale: bool = False) -> torch.Tensor:
    """Rank-order code: ``x`` ``[B, ...]`` (>= 0) -> ``[T, B, ...]``, the k-th largest at step k."""
    steps = rank_order_spike_times(x, num_steps, scale=scale)
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return steps_to_onehot(steps, num_steps, dtype)


class LatencyEncoder(Encoder):
    """Module form of :func:`latency_encode` (deterministic; ``generator`` is ignored)."""

    @takes_options_of(latency_spike_times, drop=("x",), positional=True)
    def __init__(self, **options) -> None:
        super().__init__()
        o = options
        (self.num_steps, self.method, self.threshold, self.tau, self.dt, self.epsilon) = (
            _check_latency_args(o["num_steps"], o["method"], o["threshold"], o["tau"], o["dt"],
                                o["epsilon"])
        )
        self.normalize = bool(o["normalize"])
        self.clip = bool(o["clip"])

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return latency_encode(
            x, self.num_steps, method=self.method, threshold=self.threshold, tau=self.tau,
            dt=self.dt, normalize=self.normalize, clip=self.clip, epsilon=self.epsilon,
        )

    def extra_repr(self) -> str:
        return (
            f"num_steps={self.num_steps}, method={self.method!r}, threshold={self.threshold}, "
            f"normalize={self.normalize}"
        )


class RankOrderEncoder(Encoder):
    """Module form of :func:`rank_order_encode` (deterministic; ``generator`` is ignored)."""

    def __init__(self, num_steps: int, scale: bool = False) -> None:
        super().__init__()
        self.num_steps = check_int("num_steps", num_steps)
        self.scale = bool(scale)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return rank_order_encode(x, self.num_steps, scale=self.scale)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, scale={self.scale}"
