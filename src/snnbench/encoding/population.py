r"""Population code with Gaussian receptive fields (after Bohte, Kok & La Poutré 2002).

Each scalar feature :math:`x` is seen by :math:`n` neurons with centres :math:`c_i` evenly
spaced over ``[low, high]`` (both ends included) and a common width :math:`\sigma`:

.. math:: r_i(x) = \exp\left(-\frac{(x - c_i)^2}{2\sigma^2}\right) \in (0, 1],

with the default :math:`\sigma = (high - low) / (\beta (n - 1))`, i.e. the centre spacing
divided by :math:`\beta` (Bohte et al. used :math:`\beta = 1.5`). The responses are used as

- ``mode="current"``: analog input currents, repeated every step;
- ``mode="latency"``: one spike per neuron at step :math:`\mathrm{round}((1 - r_i)(S - 1))`
  (strong response -> early spike); responses below ``min_response`` never spike.

Layouts (chosen by the rank of ``x``):

- scalars ``[B]`` -> ``[T, B, n]`` and tabular ``[B, F]`` -> ``[T, B, F n]`` with
  ``T = num_steps``;
- time series ``[B, L, C]`` -> ``[L S, B, C n]``: every sample step is expanded into
  ``S = substeps`` network steps (``S = 1`` gives ``[L, B, C n]``; latency then reduces to
  "spike in that step iff :math:`r_i \ge` ``min_response``").

Feature ``f``'s neurons occupy output channels ``f n .. f n + n - 1``.
"""

from __future__ import annotations

import torch

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive, check_range
from ._common import Encoder, as_float, steps_to_onehot
from .temporal import latency_spike_times

POPULATION_MODES = ("latency", "current")


def _bounds(
    name: str, value: float | torch.Tensor, num_features: int, like: torch.Tensor
) -> torch.Tensor:
    """A scalar or a per-feature 1-D tensor of length ``num_features``, as ``like``'s dtype."""
    if isinstance(value, torch.Tensor):
        if value.ndim == 0:
            out = value.to(like)
        elif value.ndim == 1 and value.shape[0] == num_features:
            out = value.to(like)
        else:
            raise ValueError(
                f"{name} must be a number or a 1-D tensor with one entry per feature "
                f"({num_features}), got shape {tuple(value.shape)}"
            )
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return out
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a tensor, got {value!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return torch.tensor(v, dtype=like.dtype, device=like.device)


def receptive_field_centres(
    n_neurons: int, low: float | torch.Tensor = 0.0, high: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Centres evenly spaced over ``[low, high]``: ``[n]``, or ``[F, n]`` for per-feature bounds."""
    n_neurons = check_int("n_neurons", n_neurons, minimum=2)
    lo = torch.as_tensor(low, dtype=torch.get_default_dtype())
    hi = torch.as_tensor(high, dtype=torch.get_default_dtype())
    frac = torch.linspace(0.0, 1.0, n_neurons, dtype=lo.dtype)
    return lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * frac


def gaussian_receptive_fields(
    x: torch.Tensor,
    n_neurons: int,
    *,
    low: float | torch.Tensor = 0.0,
    high: float | torch.Tensor = 1.0,
    sigma: float | torch.Tensor | None = None,
    beta: float = 1.5,
) -> torch.Tensor:
    """Responses ``r_i(x) = exp(-(x - c_i)^2 / (2 sigma^2))``: ``[..., F]`` -> ``[..., F n]``.

    ``low``/``high``/``sigma`` may be numbers or per-feature tensors ``[F]`` (the last
    dimension of ``x``). Values outside ``[low, high]`` are allowed; their responses fall off.
    Differentiable in ``x``.
    """
    n_neurons = check_int("n_neurons", n_neurons, minimum=2)
    beta = check_positive("beta", beta)
    x = as_float("x", x, min_ndim=1)
    num_features = x.shape[-1]
    lo = _bounds("low", low, num_features, x)
    hi = _bounds("high", high, num_features, x)
    if not bool((hi > lo).all()):
        raise ValueError(f"high must be > low for every feature, got low={low!r}, high={high!r}")
    frac = torch.linspace(0.0, 1.0, n_neurons, dtype=x.dtype, device=x.device)
    centres = lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * frac  # [n] or [F, n]
    if sigma is None:
        sig = (hi - lo) / (beta * (n_neurons - 1))
    else:
        sig = _bounds("sigma", sigma, num_features, x)
        if not bool((sig > 0).all()):
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
    sig = sig.unsqueeze(-1) if sig.ndim == 1 else sig
    r = torch.exp(-((x.unsqueeze(-1) - centres) ** 2) / (2.0 * sig**2))
    return r.reshape(x.shape[:-1] + (num_features * n_neurons,))


def population_encode(
    x: torch.Tensor,
    num_steps: int | None = None,
    *,
    n_neurons: int = 8,
    low: float | torch.Tensor = 0.0,
    high: float | torch.Tensor = 1.0,
    sigma: float | torch.Tensor | None = None,
    beta: float = 1.5,
    mode: str = "latency",
    min_response: float = 0.1,
    substeps: int = 1,
) -> torch.Tensor:
    """Gaussian population code; layouts and equations in the module docstring.

    ``num_steps`` (T) is required for scalar/tabular input and must be ``None`` for time
    series, whose length sets T (times ``substeps``).
    """
    mode = check_choice("mode", mode, POPULATION_MODES)
    min_response = check_range("min_response", min_response, 0.0, 1.0)
    if min_response >= 1.0 and mode == "latency":
        raise ValueError(
            f"min_response must be in [0, 1) so that some inputs spike, got {min_response!r}"
        )
    x = as_float("x", x, ndim=(1, 2, 3))
    if x.ndim == 3:
        if num_steps is not None:
            raise ValueError(
                f"num_steps must be None for time series x [B, L, C] (T = L * substeps), "
                f"got {num_steps!r}"
            )
        steps_per = check_int("substeps", substeps)
    else:
        if num_steps is None:
            raise ValueError("num_steps must be an integer >= 1 for scalar/tabular x, got None")
        steps_per = check_int("num_steps", num_steps)
        if x.ndim == 1:
            x = x.unsqueeze(-1)
    r = gaussian_receptive_fields(x, n_neurons, low=low, high=high, sigma=sigma, beta=beta)
    if x.ndim == 3:
        r = r.transpose(0, 1)  # [L, B, K]: time-first before expanding each step
    if mode == "current":
        out = r.unsqueeze(0).expand((steps_per,) + tuple(r.shape))
    else:
        steps = latency_spike_times(r.detach(), steps_per, method="linear", threshold=min_response)
        out = steps_to_onehot(steps, steps_per, r.dtype)
    if x.ndim == 3:
        # [S, L, B, K] -> [L, S, B, K] -> [L*S, B, K]: sub-steps of one sample step are adjacent.
        out = out.transpose(0, 1).reshape((-1,) + tuple(r.shape[1:]))
    return out.contiguous()


class PopulationEncoder(Encoder):
    """Module form of :func:`population_encode` (deterministic; ``generator`` is ignored)."""

    @takes_options_of(population_encode, drop=("x",), positional=True)
    def __init__(self, **options) -> None:
        super().__init__()
        o = options
        self.num_steps = None if o["num_steps"] is None else check_int("num_steps", o["num_steps"])
        self.n_neurons = check_int("n_neurons", o["n_neurons"], minimum=2)
        self.low, self.high, self.sigma = o["low"], o["high"], o["sigma"]
        self.beta = check_positive("beta", o["beta"])
        self.mode = check_choice("mode", o["mode"], POPULATION_MODES)
        self.min_response = check_range("min_response", o["min_response"], 0.0, 1.0)
        self.substeps = check_int("substeps", o["substeps"])

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return population_encode(
            x, self.num_steps, n_neurons=self.n_neurons, low=self.low, high=self.high,
            sigma=self.sigma, beta=self.beta, mode=self.mode, min_response=self.min_response,
            substeps=self.substeps,
        )

    def extra_repr(self) -> str:
        return (
            f"num_steps={self.num_steps}, n_neurons={self.n_neurons}, low={self.low}, "
            f"high={self.high}, mode={self.mode!r}"
        )
