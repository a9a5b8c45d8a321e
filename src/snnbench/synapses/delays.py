r"""Learnable synaptic delays: a weight and a moving Gaussian delay per connection.

Each connection ``i -> o`` carries a weight :math:`w_{oi}` and a real-valued delay position
:math:`d_{oi} \in [0, K-1]` (in time steps of the caller's ``dt``; ``K = max_delay``). The
position is realised as a kernel over the integer lags :math:`k = 0 \dots K-1`

.. math::

    g_{oi}[k] = \frac{\exp\!\big(-(k - d_{oi})^2 / 2\sigma^2\big)}
                     {\sum_{k'=0}^{K-1} \exp\!\big(-(k' - d_{oi})^2 / 2\sigma^2\big)},
    \qquad \sum_k g_{oi}[k] = 1,

and the layer is a causal convolution over time

.. math::

    y_t[o] = b_o + \sum_i \sum_{k=0}^{K-1} w_{oi}\, g_{oi}[k]\, x_{t-k}[i]
    \qquad (x_{t} = 0 \text{ for } t < 0).

The Gaussian makes the output differentiable in :math:`d`; its width :math:`\sigma` (in
steps) starts wide, so that every position sees a gradient from far-away lags, and is
annealed to narrow during training (Hammouamri, Hammouamri & Masquelier 2023, "Learning
delays in spiking neural networks using dilated convolutions with learnable spacings"; this
is an independent implementation of the idea). With :math:`\sigma = 0` the kernel is
one-hot at :math:`\mathrm{round}(d)`: exact integer delays, what a trained layer is switched
to by :meth:`DelayedLinear.round_delays`.

Cost: the dense kernel ``[out, in, K]`` is built once per call from (weight, positions,
sigma) and the whole sequence goes through one ``conv1d``; only the kernel construction
(a few element-wise operations on ``out*in*K`` numbers) is added to a plain convolution.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_choice, check_int, check_positive, check_range

__all__ = [
    "DelayState",
    "DelayedLinear",
    "SIGMA_SCHEDULES",
    "DELAY_INITS",
    "anneal_sigma",
    "delay_kernel",
    "delay_lag_weights",
    "delayed_linear",
    "anneal_all",
    "clamp_all_positions",
    "round_all_delays",
    "split_delay_parameters",
]

SIGMA_SCHEDULES = ("exponential", "linear", "cosine", "constant")
DELAY_INITS = ("uniform", "zero", "constant")


class DelayState(NamedTuple):
    """The last ``max_delay - 1`` input frames ``[K-1, B, in]`` (zeros before the start),
    enough to continue the convolution on the next chunk of the same sequence."""

    history: torch.Tensor


def _as_sigma(sigma: float | torch.Tensor) -> float:
    if isinstance(sigma, torch.Tensor):
        if sigma.numel() != 1:
            raise ValueError(f"sigma must be a scalar, got a tensor of shape {tuple(sigma.shape)}")
        sigma = float(sigma)
    return check_positive("sigma", sigma, allow_zero=True)


def _lag_sums(e: torch.Tensor, lags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sum_j e_j, sum_j e_j l_j)`` over the last axis, shaped like ``e[..., 0]``."""
    flat = e.reshape(-1, e.shape[-1])
    # Two matrix-vector products: ~10x faster on CPU than .sum(-1) or a [N, K] @ [K, 2] matmul.
    s0 = torch.mv(flat, torch.ones_like(lags)).view(e.shape[:-1])
    s1 = torch.mv(flat, lags).view(e.shape[:-1])
    return s0, s1


class _GaussianDelayKernel(torch.autograd.Function):
    r"""``kernel[..., j] = w * g(lags[j]; d, sigma)`` with a hand-written backward.

    Autograd through the softmax formula stores several full-size intermediates for backward;
    this stores only the unnormalised Gaussian ``e`` and makes few passes over it (the lag
    sums are matrix-vector products). With
    :math:`e_j = \exp(-((l_j-d)^2 - \delta^2)/2\sigma^2)` (:math:`\delta` = distance to the
    nearest lag, so :math:`\max_j e_j = 1` and the sum never underflows),
    :math:`S = \sum_j e_j`, :math:`g_j = e_j/S`, :math:`m = \sum_j g_j (l_j - d)`:

    .. math::

        \partial L/\partial w = \sum_j G_j g_j, \qquad
        \partial L/\partial d = \frac{w}{\sigma^2}\Big(\sum_j G_j g_j (l_j - d) - m \sum_j G_j g_j\Big).
    """

    @staticmethod
    def forward(ctx, weight, positions, sigma: float, lags):  # type: ignore[override]
        k_max = float(lags.numel() - 1)
        nearest = torch.round(positions.clamp(0.0, k_max))
        half_prec = 0.5 / (sigma * sigma)
        offset = (positions - nearest).square_().mul_(half_prec).unsqueeze(-1)
        diff = lags - positions.unsqueeze(-1)  # [..., K]
        e = torch.addcmul(offset, diff, diff, value=-half_prec).exp_()
        s0, s1 = _lag_sums(e, lags)
        inv_s = s0.reciprocal_()
        mean = s1.mul_(inv_s).sub_(positions)
        kernel = e * (weight * inv_s).unsqueeze(-1)
        ctx.save_for_backward(weight, positions, e, inv_s, mean, lags)
        ctx.sigma = sigma
        return kernel

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        weight, positions, e, inv_s, mean, lags = ctx.saved_tensors
        s0, s1 = _lag_sums(grad * e, lags)  # sum_j G_j e_j, sum_j G_j e_j l_j
        a = s0.mul_(inv_s)  # sum_j G_j g_j
        grad_w = a if ctx.needs_input_grad[0] else None
        grad_d = None
        if ctx.needs_input_grad[1]:
            b = s1.mul_(inv_s).sub_(positions * a)  # sum_j G_j g_j (l_j - d)
            grad_d = weight * (b - a * mean) / (ctx.sigma * ctx.sigma)
        return grad_w, grad_d, None, None


def _lag_weights(positions: torch.Tensor, sigma: float, lags: torch.Tensor) -> torch.Tensor:
    """Normalised kernel over ``lags`` (any order) for each position: ``[..., len(lags)]``."""
    k = lags.numel()
    if sigma == 0.0:
        # Exact integer delays: no gradient reaches the positions in this mode by design.
        idx = torch.round(positions.detach().clamp(0, k - 1)).long()
        onehot = F.one_hot(idx, k).to(positions.dtype)
        # ``lags`` may be reversed (conv order): permute the one-hot accordingly.
        return onehot.index_select(-1, lags.long())
    z = (lags - positions.unsqueeze(-1)) * (1.0 / sigma)
    # softmax of -z^2/2 is the normalised Gaussian; it stays finite for any sigma > 0.
    return torch.softmax(-0.5 * z * z, dim=-1)


def delay_lag_weights(
    positions: torch.Tensor, sigma: float | torch.Tensor, max_delay: int
) -> torch.Tensor:
    r"""The normalised kernel :math:`g[k]` over lags ``k = 0..max_delay-1``.

    ``positions`` (any shape, in steps) -> ``[*positions.shape, max_delay]``; each row sums
    to 1. ``sigma`` in steps; ``sigma = 0`` gives a one-hot at ``round(clamp(d, 0, K-1))``.
    """
    k = check_int("max_delay", max_delay, minimum=1)
    s = _as_sigma(sigma)
    if not isinstance(positions, torch.Tensor) or not positions.is_floating_point():
        raise ValueError(f"positions must be a floating-point torch.Tensor, got {positions!r}")
    lags = torch.arange(k, dtype=positions.dtype, device=positions.device)
    return _lag_weights(positions, s, lags)


def delay_kernel(
    weight: torch.Tensor,
    positions: torch.Tensor,
    sigma: float | torch.Tensor,
    max_delay: int,
) -> torch.Tensor:
    """Dense kernel ``[out, in, K]`` in lag order: ``kernel[o, i, k] = w[o, i] * g[o, i, k]``."""
    _check_params(weight, positions)
    return weight.unsqueeze(-1) * delay_lag_weights(positions, sigma, max_delay)


def _check_params(weight: torch.Tensor, positions: torch.Tensor) -> None:
    for name, t in (("weight", weight), ("positions", positions)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point torch.Tensor, got {type(t).__name__}")
        if t.ndim != 2:
            raise ValueError(f"{name} must have shape [out, in], got shape {tuple(t.shape)}")
    if weight.shape != positions.shape:
        raise ValueError(
            f"positions must have the same shape as weight {tuple(weight.shape)}, "
            f"got {tuple(positions.shape)}"
        )


def delayed_linear(
    x_seq: torch.Tensor,
    weight: torch.Tensor,
    positions: torch.Tensor,
    sigma: float | torch.Tensor,
    max_delay: int,
    bias: torch.Tensor | None = None,
    history: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Delayed linear map over a time-first sequence (functional core).

    ``y_t[o] = b_o + sum_i sum_k w[o,i] g[o,i,k] x_{t-k}[i]`` (see the module docstring).

    Args:
        x_seq: ``[T, B, in]`` input (spikes or currents).
        weight: ``[out, in]``.
        positions: ``[out, in]`` delays in steps, meaningful in ``[0, max_delay-1]``.
        sigma: Gaussian width in steps (> 0), or 0 for exact integer delays.
        max_delay: number of lags K (delays 0..K-1 steps).
        bias: optional ``[out]``.
        history: optional ``[K-1, B, in]`` inputs preceding ``x_seq`` (zeros if None).

    Returns:
        ``[T, B, out]``.
    """
    k = check_int("max_delay", max_delay, minimum=1)
    s = _as_sigma(sigma)
    _check_params(weight, positions)
    if not isinstance(x_seq, torch.Tensor) or x_seq.ndim != 3:
        shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
        raise ValueError(f"x_seq must be a time-first tensor [T, B, in], got {shape}")
    if x_seq.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"x_seq must have {weight.shape[1]} input features (last dim), got shape {tuple(x_seq.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    t_len, batch, n_in = x_seq.shape
    if history is not None and tuple(history.shape) != (k - 1, batch, n_in):
        raise ValueError(
            f"history must have shape {(k - 1, batch, n_in)} ([max_delay-1, B, in]), "
            f"got {tuple(history.shape)}"
        )
    # conv1d is a cross-correlation: output t reads inputs t-K+1 .. t at kernel taps
    # 0 .. K-1, so tap j holds lag K-1-j. Building the Gaussian on reversed lags gives the
    # conv kernel directly and avoids a flip copy.
    lags_rev = torch.arange(k - 1, -1, -1, dtype=weight.dtype, device=weight.device)
    if s == 0.0:
        kernel = weight.unsqueeze(-1) * _lag_weights(positions, s, lags_rev)
    else:
        kernel = _GaussianDelayKernel.apply(weight, positions.to(weight.dtype), s, lags_rev)
    x = x_seq.permute(1, 2, 0)  # [B, in, T]
    if k > 1:
        if history is None:
            x = F.pad(x, (k - 1, 0))
        else:
            x = torch.cat((history.permute(1, 2, 0).to(x.dtype), x), dim=-1)
    y = F.conv1d(x, kernel, bias)  # [B, out, T]
    # Contiguous time-first output, so that the neuron loop downstream reads dense slices.
    return y.permute(2, 0, 1).contiguous()


def anneal_sigma(
    epoch: int,
    total_epochs: int,
    sigma_init: float,
    sigma_final: float,
    schedule: str = "exponential",
) -> float:
    r"""Sigma at the start of ``epoch`` (0-based) of ``total_epochs``.

    With progress :math:`p = \min(1, e / (E-1))` (so the last epoch runs at ``sigma_final``):
    ``linear`` :math:`\sigma_0 + (\sigma_1-\sigma_0)p`; ``exponential`` (geometric)
    :math:`\sigma_0 (\sigma_1/\sigma_0)^p`; ``cosine``
    :math:`\sigma_1 + (\sigma_0-\sigma_1)(1+\cos\pi p)/2`; ``constant`` :math:`\sigma_0`.
    """
    check_choice("schedule", schedule, SIGMA_SCHEDULES)
    e_tot = check_int("total_epochs", total_epochs, minimum=1)
    e = check_int("epoch", epoch, minimum=0)
    s0 = check_positive("sigma_init", sigma_init)
    s1 = check_positive("sigma_final", sigma_final)
    p = 1.0 if e_tot == 1 else min(1.0, e / (e_tot - 1))
    if schedule == "constant":
        return s0
    if schedule == "linear":
        return s0 + (s1 - s0) * p
    if schedule == "exponential":
        return s0 * (s1 / s0) ** p
    return s1 + (s0 - s1) * 0.5 * (1.0 + math.cos(math.pi * p))


class DelayedLinear(nn.Module):
    r"""``[T, B, in] -> [T, B, out]`` linear synapses with a learnable delay per connection.

    ``y_t[o] = b_o + sum_i w[o,i] sum_k g[o,i,k] x_{t-k}[i]``, ``g`` a normalised Gaussian over
    lags ``0..max_delay-1`` centred on the learnable position ``d[o,i]`` with width
    ``sigma`` (steps). Delays are in time steps: a step of ``dt`` ms makes a delay of
    ``d * dt`` ms.

    Training recipe: give :meth:`delay_parameters` its own optimizer group (typically a
    larger learning rate than :meth:`weight_parameters`), call :meth:`clamp_positions` after
    each optimizer step and :meth:`anneal` at the start of every epoch; at the end call
    :meth:`round_delays` and evaluate again to report accuracy with exact integer delays.

    Args:
        in_features, out_features: layer sizes.
        max_delay: number of lags K (delays 0..K-1 steps), >= 1.
        bias: learn a bias per output (default False, as in the DCLS SNN models).
        delay_init: ``"uniform"`` (U[0, K-1]), ``"zero"`` or ``"constant"`` (``init_delay``).
        init_delay: the delay for ``delay_init="constant"``.
        sigma_init: starting width in steps (default ``max_delay / 2``).
        sigma_final: width at the last epoch (default 0.5).
        schedule: ``"exponential"``, ``"linear"``, ``"cosine"`` or ``"constant"``.
        generator: random source for the weight and position initialisation.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        max_delay: int,
        *,
        bias: bool = False,
        delay_init: str = "uniform",
        init_delay: float = 0.0,
        sigma_init: float | None = None,
        sigma_final: float = 0.5,
        schedule: str = "exponential",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features)
        self.out_features = check_int("out_features", out_features)
        self.max_delay = check_int("max_delay", max_delay, minimum=1)
        self.delay_init = check_choice("delay_init", delay_init, DELAY_INITS)
        self.schedule = check_choice("schedule", schedule, SIGMA_SCHEDULES)
        if sigma_init is None:
            sigma_init = max(self.max_delay / 2.0, 0.5)
        self.sigma_init = check_positive("sigma_init", sigma_init)
        self.sigma_final = check_positive("sigma_final", sigma_final)
        init_delay = check_range("init_delay", init_delay, 0.0, float(self.max_delay - 1))

        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        # Same fan-in scale as nn.Linear: g sums to 1, so w is the connection's total gain.
        bound = 1.0 / math.sqrt(self.in_features)
        w = torch.empty(self.out_features, self.in_features, **factory)
        w.uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(w)
        d = torch.empty(self.out_features, self.in_features, **factory)
        if self.delay_init == "uniform":
            d.uniform_(0.0, float(self.max_delay - 1), generator=generator)
        else:
            d.fill_(0.0 if self.delay_init == "zero" else init_delay)
        self.positions = nn.Parameter(d)
        if bias:
            b = torch.empty(self.out_features, **factory)
            b.uniform_(-bound, bound, generator=generator)
            self.bias: nn.Parameter | None = nn.Parameter(b)
        else:
            self.register_parameter("bias", None)
        # A buffer, so that a checkpoint restores the annealing stage (and exact mode).
        self.register_buffer("sigma", torch.tensor(self.sigma_init, dtype=torch.float64))

    # -- forward ---------------------------------------------------------------------------
    def forward(
        self, x_seq: torch.Tensor, state: DelayState | None = None
    ) -> tuple[torch.Tensor, DelayState]:
        """``x_seq`` ``[T, B, in]`` -> ``([T, B, out], DelayState)``.

        Pass the returned state back to continue the same sequences in the next chunk;
        ``None`` means silence before the first step.
        """
        history = None if state is None else state.history
        y = delayed_linear(
            x_seq, self.weight, self.positions, float(self.sigma), self.max_delay, self.bias, history
        )
        return y, DelayState(self._next_history(x_seq, history))

    def _next_history(self, x_seq: torch.Tensor, history: torch.Tensor | None) -> torch.Tensor:
        k1 = self.max_delay - 1
        if x_seq.shape[0] >= k1:
            return x_seq[x_seq.shape[0] - k1 :]  # a view: no copy on the common path
        if history is None:
            history = x_seq.new_zeros(k1, x_seq.shape[1], x_seq.shape[2])
        if k1 == 0:
            return history
        return torch.cat((history, x_seq), dim=0)[-k1:]

    def kernel(self) -> torch.Tensor:
        """The current dense kernel ``[out, in, K]`` in lag order."""
        return delay_kernel(self.weight, self.positions, float(self.sigma), self.max_delay)

    # -- parameter groups -------------------------------------------------------------------
    def delay_parameters(self) -> Iterator[nn.Parameter]:
        """The delay positions (their own optimizer group / learning rate)."""
        yield self.positions

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Weights and bias."""
        yield self.weight
        if self.bias is not None:
            yield self.bias

    # -- sigma schedule and rounding -------------------------------------------------------
    @property
    def exact(self) -> bool:
        """True once the layer runs exact integer delays (sigma = 0)."""
        return float(self.sigma) == 0.0

    def set_sigma(self, sigma: float) -> None:
        """Set the Gaussian width in steps (> 0), or 0 for exact integer delays."""
        self.sigma.fill_(check_positive("sigma", sigma, allow_zero=True))

    def anneal(self, epoch: int, total_epochs: int) -> float:
        """Set sigma for the start of ``epoch`` (0-based) by the layer's schedule; return it."""
        s = anneal_sigma(epoch, total_epochs, self.sigma_init, self.sigma_final, self.schedule)
        self.set_sigma(s)
        return s

    @torch.no_grad()
    def clamp_positions(self) -> None:
        """Keep positions in ``[0, max_delay-1]`` (call after each optimizer step)."""
        self.positions.clamp_(0.0, float(self.max_delay - 1))

    @torch.no_grad()
    def round_delays(self) -> torch.Tensor:
        """Snap positions to integer steps and switch to exact integer delays (sigma = 0).

        Returns the integer delays ``[out, in]`` (long). :meth:`set_sigma` with a positive
        value returns to Gaussian kernels (e.g. to fine-tune further).
        """
        self.positions.copy_(torch.round(self.positions.clamp(0.0, float(self.max_delay - 1))))
        self.sigma.fill_(0.0)
        return self.positions.long()

    # -- layer hooks (called by the trainer and runner, see snnbench.learning.hooks) --------
    def on_epoch_start(self, epoch: int, num_epochs: int) -> float:
        """Gaussian delay kernels narrow over training (:meth:`anneal`)."""
        return self.anneal(epoch, num_epochs)

    def after_step(self) -> None:
        """Learned delays stay inside ``[0, max_delay - 1]``."""
        self.clamp_positions()

    def parameter_groups(self) -> list[dict]:
        """Delay positions learn in their own group ``"delay"`` (10x the learning rate unless
        ``train.delay_lr`` is set, no weight decay)."""
        return [{"name": "delay", "params": list(self.delay_parameters()), "lr_scale": 10.0,
                 "weight_decay": 0.0}]

    def finalize(self) -> str:
        """The deployed layer has exact integer delays (:meth:`round_delays`)."""
        self.round_delays()
        return "rounding"

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"max_delay={self.max_delay}, bias={self.bias is not None}, "
            f"sigma={float(self.sigma):.3g}, schedule={self.schedule!r}"
        )


def split_delay_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(delay_positions, everything_else)`` over all parameters of ``model``, for two
    optimizer groups, e.g. ``Adam([{"params": rest}, {"params": delays, "lr": 100 * lr}])``."""
    delay_ids: set[int] = set()
    delays: list[nn.Parameter] = []
    for m in model.modules():
        if isinstance(m, DelayedLinear):
            for p in m.delay_parameters():
                if id(p) not in delay_ids:
                    delay_ids.add(id(p))
                    delays.append(p)
    rest = [p for p in model.parameters() if id(p) not in delay_ids]
    return delays, rest


def _delay_layers(model: nn.Module) -> list[DelayedLinear]:
    return [m for m in model.modules() if isinstance(m, DelayedLinear)]


def anneal_all(model: nn.Module, epoch: int, total_epochs: int) -> list[float]:
    """Call :meth:`DelayedLinear.anneal` on every delay layer of ``model``; return the sigmas."""
    return [m.anneal(epoch, total_epochs) for m in _delay_layers(model)]


def clamp_all_positions(model: nn.Module) -> None:
    """Call :meth:`DelayedLinear.clamp_positions` on every delay layer (after optimizer steps)."""
    for m in _delay_layers(model):
        m.clamp_positions()


def round_all_delays(model: nn.Module) -> int:
    """Switch every delay layer of ``model`` to exact integer delays; return how many.

    A trainer evaluates, calls this, and evaluates again to report the accuracy with
    Gaussian kernels and with rounded delays.
    """
    layers = _delay_layers(model)
    for m in layers:
        m.round_delays()
    return len(layers)
