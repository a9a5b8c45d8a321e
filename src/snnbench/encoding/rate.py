r"""Rate codes: the intensity of an input sets the probability of a spike in each step.

- Poisson: rate :math:`r = x \cdot r_{max}` (Hz); in a step of ``dt`` ms a spike occurs with
  probability :math:`p = r\,dt/1000`, independently per step and input (the Bernoulli
  approximation of a Poisson process, exact in the limit of small ``dt``).
- Bernoulli: :math:`p = g\,x` per step directly (``gain`` :math:`g`).
- Direct: the analog value itself is repeated every step (no spikes; the first layer of the
  network acts as the encoder, as in many surrogate-gradient papers).
"""

from __future__ import annotations

import torch

from .._validation import check_int, check_positive
from ._common import Encoder, as_float


def _bernoulli_train(
    p: torch.Tensor, num_steps: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Independent Bernoulli(p) spikes for every step: ``[...]`` -> ``[T, ...]``."""
    # One fused draw of the whole [T, ...] block (the generator's stream, and so the spikes,
    # depend on the seed only; on the CPU also not on the thread count). A generator on
    # another device (a seeded CPU generator with CUDA inputs) draws where it lives, so the
    # same seed gives the same spikes on every device.
    draw_device = generator.device if generator is not None else p.device
    probs = p.detach().to(draw_device).unsqueeze(0).expand((num_steps,) + tuple(p.shape))
    return torch.bernoulli(probs, generator=generator).to(p.device)


def poisson_encode(
    x: torch.Tensor,
    num_steps: int,
    *,
    max_rate_hz: float = 100.0,
    dt: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Poisson rate code: ``x`` ``[B, ...]`` in [0, 1] -> spikes ``[T, B, ...]`` (float 0/1).

    Rate :math:`r = x\,r_{max}` in Hz, spike probability per step :math:`p = r\,dt/1000`
    with ``dt`` in ms; :math:`r_{max}\,dt/1000` must be <= 1.
    """
    num_steps = check_int("num_steps", num_steps)
    max_rate_hz = check_positive("max_rate_hz", max_rate_hz)
    dt = check_positive("dt", dt)
    p_max = max_rate_hz * dt / 1000.0
    if p_max > 1.0:
        raise ValueError(
            f"max_rate_hz * dt / 1000 is the spike probability per step and must be <= 1, "
            f"got max_rate_hz={max_rate_hz!r}, dt={dt!r} (product {p_max:.4g}); "
            f"lower max_rate_hz or dt"
        )
    x = as_float("x", x, min_ndim=1, low=0.0, high=1.0)
    return _bernoulli_train(x * p_max, num_steps, generator)


def bernoulli_encode(
    x: torch.Tensor,
    num_steps: int,
    *,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Bernoulli rate code: spike with probability :math:`p = g\,x` in every step.

    ``x`` ``[B, ...]`` in [0, 1]; ``gain * x`` must stay in [0, 1]. Returns ``[T, B, ...]``.
    """
    num_steps = check_int("num_steps", num_steps)
    gain = check_positive("gain", gain)
    x = as_float("x", x, min_ndim=1, low=0.0, high=1.0)
    if x.numel() and float(x.max()) * gain > 1.0:
        raise ValueError(
            f"gain * x is a probability and must be <= 1, got gain={gain!r} with "
            f"max(x)={float(x.max()):.4g} (product {float(x.max()) * gain:.4g})"
        )
    return _bernoulli_train(x * gain, num_steps, generator)


def direct_encode(x: torch.Tensor, num_steps: int) -> torch.Tensor:
    """Direct (analog) code: ``x`` ``[B, ...]`` repeated for ``T`` steps -> ``[T, B, ...]``.

    The values are not restricted to [0, 1] and gradients flow back to ``x``.
    """
    num_steps = check_int("num_steps", num_steps)
    x = as_float("x", x, min_ndim=1)
    # A real copy, not an expand() view: downstream code may fold [T*B, ...] or write in place.
    return x.unsqueeze(0).repeat((num_steps,) + (1,) * x.ndim)


class PoissonEncoder(Encoder):
    """Module form of :func:`poisson_encode`."""

    stochastic = True

    def __init__(self, num_steps: int, max_rate_hz: float = 100.0, dt: float = 1.0) -> None:
        super().__init__()
        self.num_steps = check_int("num_steps", num_steps)
        self.max_rate_hz = check_positive("max_rate_hz", max_rate_hz)
        self.dt = check_positive("dt", dt)
        if self.max_rate_hz * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"max_rate_hz * dt / 1000 must be <= 1, got max_rate_hz={max_rate_hz!r}, dt={dt!r}"
            )

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return poisson_encode(
            x, self.num_steps, max_rate_hz=self.max_rate_hz, dt=self.dt, generator=generator
        )

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, max_rate_hz={self.max_rate_hz}, dt={self.dt}"


class BernoulliEncoder(Encoder):
    """Module form of :func:`bernoulli_encode`."""

    stochastic = True

    def __init__(self, num_steps: int, gain: float = 1.0) -> None:
        super().__init__()
        self.num_steps = check_int("num_steps", num_steps)
        self.gain = check_positive("gain", gain)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return bernoulli_encode(x, self.num_steps, gain=self.gain, generator=generator)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, gain={self.gain}"


class DirectEncoder(Encoder):
    """Module form of :func:`direct_encode` (deterministic; ``generator`` is ignored)."""

    def __init__(self, num_steps: int) -> None:
        super().__init__()
        self.num_steps = check_int("num_steps", num_steps)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return direct_encode(x, self.num_steps)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}"
