r"""Delta (send-on-change) code for time series, and its decoder.

A reference level :math:`\rho` follows the signal in quanta of the threshold :math:`\delta`.
With :math:`d_t = x_t - \rho_{t-1}`:

- ``mode="count"``: :math:`n^{+}_t = \lfloor \max(d_t, 0)/\delta \rfloor` up spikes and
  :math:`n^{-}_t = \lfloor \max(-d_t, 0)/\delta \rfloor` down spikes in step :math:`t`
  (values are spike *counts*, so a fast jump is sent at once);
  :math:`\rho_t = \rho_{t-1} + \delta (n^{+}_t - n^{-}_t)`. After every step
  :math:`|x_t - \rho_t| < \delta`, so :func:`delta_decode` reconstructs each sample within
  the threshold.
- ``mode="single"``: at most one spike per channel and step (output strictly 0/1),
  :math:`n^{+}_t = [d_t \ge \delta]`, :math:`n^{-}_t = [d_t \le -\delta]`; a larger change
  is carried over to the next steps. The bound :math:`|x_t - \rho_t| < \delta` then holds
  only while the signal changes by less than :math:`\delta` per step (otherwise the
  reference lags and catches up).

A change that falls short of a multiple of :math:`\delta` by less than
:math:`10^{-5}\delta` counts as reaching it (floating-point slack, so that exact multiples
such as 0.5 = 10 x 0.05 are sent on time); the count-mode residual is then below
:math:`(1 - 10^{-5})\delta`.

The reference starts at ``initial`` (default 0, the mean of standardised series), so the
first sample's offset is sent as spikes in step 0 and the decoder needs no side channel.
Layout: ``x`` ``[B, L, C]`` -> spikes ``[L, B, 2C]``, up channels ``0..C-1``, down ``C..2C-1``.
"""

from __future__ import annotations

import torch

from .._validation import check_choice, check_positive, check_tensor
from ._common import Encoder, as_float

DELTA_MODES = ("count", "single")
# A change within this fraction of a threshold below a multiple counts as reaching it, so that
# exact multiples (0.5 = 10 x 0.05) are not lost to rounding in x - (initial + threshold * q).
_SLACK = 1e-5


def _initial(initial: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast ``initial`` (number, ``[C]`` or ``[B, C]``) to ``like``'s shape ``[B, C]``."""
    if isinstance(initial, torch.Tensor):
        init = check_tensor("initial", initial.to(like))
        try:
            return torch.broadcast_to(init, like.shape).clone()
        except RuntimeError:
            raise ValueError(
                f"initial must be a number or broadcast to [B, C] = {tuple(like.shape)}, "
                f"got shape {tuple(initial.shape)}"
            ) from None
    try:
        v = float(initial)
    except (TypeError, ValueError):
        raise ValueError(f"initial must be a number or a tensor, got {initial!r}") from None
    if v != v or abs(v) == float("inf"):
        raise ValueError(f"initial must be finite, got {initial!r}")
    return torch.full_like(like, v)


def delta_encode(
    x: torch.Tensor,
    threshold: float,
    *,
    mode: str = "count",
    initial: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Send-on-change code: ``x`` ``[B, L, C]`` -> ``[L, B, 2C]`` (up, then down channels).

    ``threshold`` is in the units of ``x``; see the module docstring for both modes.
    """
    threshold = check_positive("threshold", threshold)
    mode = check_choice("mode", mode, DELTA_MODES)
    x = as_float("x", x, ndim=3)
    x_t = x.detach().transpose(0, 1)  # [L, B, C]
    num_len = x_t.shape[0]
    if num_len == 0:
        return x.new_zeros((0, x.shape[0], 2 * x.shape[2]))
    init = _initial(initial, x_t[0])
    # Work with the integer level q (rho = initial + threshold * q) rather than rho itself,
    # so the decoder's cumulative sum of spike counts reproduces rho bit for bit. In units
    # of the threshold, y = (x - initial) / threshold, the count rule is the "play"
    # (backlash) operator q_t = clamp(q_{t-1}, floor(y_t), ceil(y_t)): move the least that
    # brings q within one quantum of y. Bounds are precomputed for all steps, so the loop
    # over time costs one or two element-wise ops per step.
    y = (x_t - init.unsqueeze(0)) / threshold
    lo = torch.floor(y + _SLACK)
    hi = torch.ceil(y - _SLACK)
    q = torch.zeros_like(init)
    levels = []
    for lo_t, hi_t in zip(lo.unbind(0), hi.unbind(0)):
        target = torch.clamp(q, min=lo_t, max=hi_t)
        # "single" allows one quantum per step and carries the rest over.
        q = target if mode == "count" else q + (target - q).clamp(-1.0, 1.0)
        levels.append(q)
    q_seq = torch.stack(levels)  # [L, B, C]
    change = torch.diff(q_seq, dim=0, prepend=torch.zeros_like(q_seq[:1]))
    return torch.cat([change.clamp(min=0.0), (-change).clamp(min=0.0)], dim=-1)


def delta_decode(
    spikes: torch.Tensor, threshold: float, *, initial: float | torch.Tensor = 0.0
) -> torch.Tensor:
    r"""Rebuild the reference level from delta spikes: ``[L, B, 2C]`` -> ``[B, L, C]``.

    :math:`\hat x_t = \rho_0 + \delta \sum_{s \le t} (n^{+}_s - n^{-}_s)`.
    """
    threshold = check_positive("threshold", threshold)
    spikes = as_float("spikes", spikes, ndim=3, low=0.0)
    if spikes.shape[-1] % 2:
        raise ValueError(
            f"spikes must have an even channel count [L, B, 2C] (up, down), got shape "
            f"{tuple(spikes.shape)}"
        )
    c = spikes.shape[-1] // 2
    q = torch.cumsum(spikes[..., :c] - spikes[..., c:], dim=0)  # [L, B, C]
    init = _initial(initial, q[0] if q.shape[0] else spikes.new_zeros(spikes.shape[1], c))
    return (init.unsqueeze(0) + threshold * q).transpose(0, 1)


class DeltaEncoder(Encoder):
    """Module form of :func:`delta_encode` (deterministic; ``generator`` is ignored)."""

    def __init__(self, threshold: float, mode: str = "count", initial: float = 0.0) -> None:
        super().__init__()
        self.threshold = check_positive("threshold", threshold)
        self.mode = check_choice("mode", mode, DELTA_MODES)
        self.initial = initial

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return delta_encode(x, self.threshold, mode=self.mode, initial=self.initial)

    def decode(self, spikes: torch.Tensor) -> torch.Tensor:
        """Inverse map, :func:`delta_decode` with this encoder's threshold and start level."""
        return delta_decode(spikes, self.threshold, initial=self.initial)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, mode={self.mode!r}"
