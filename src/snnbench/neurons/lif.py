r"""Leaky integrate-and-fire (LIF) and integrate-and-fire (IF) neurons: functional core.

Discrete-time LIF with input current :math:`x_t` (dimensionless, in threshold units):

.. code-block:: text

    h_t = beta * v_{t-1} + x_t            beta = exp(-dt / tau_mem)   (dt, tau_mem in ms)
    s_t = Theta(h_t - threshold)          (surrogate gradient backward)
    v_t = h_t - threshold * s_t           reset="soft" (subtract)
    v_t = h_t * (1 - s_t) + v_reset * s_t reset="hard"
    v_t = h_t                             reset="none"

``h_t`` is the *pre-reset* membrane (spikes show as threshold crossings in plots) and
``v_t`` the *post-reset* membrane carried to the next step. IF is LIF with ``beta = 1``.

Refractory period: after a spike the neuron is frozen for ``refractory_steps`` steps: it
ignores its input, does not leak (``h_t = v_{t-1}``, the post-reset value, i.e. ``v_reset``
for a hard reset) and cannot spike.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Union

import torch

from .._validation import check_choice, check_int, check_positive, check_range, check_tensor
from .surrogate import ATan, Surrogate, get_surrogate

TensorLike = Union[float, torch.Tensor]
RESETS = ("soft", "hard", "none")


class LIFParams(NamedTuple):
    """Parameters of the discrete LIF neuron (see the module docstring for the equations).

    ``beta`` is a float in [0, 1] or a tensor broadcastable to the neuron shape (e.g. a
    learnable per-neuron decay). ``threshold`` is a positive float or tensor.
    """

    beta: TensorLike
    threshold: TensorLike = 1.0
    reset: str = "soft"
    v_reset: float = 0.0
    refractory_steps: int = 0
    surrogate: Surrogate = ATan(2.0)
    detach_reset: bool = False

    @classmethod
    def from_tau(cls, tau_mem: float, dt: float = 1.0, **kwargs) -> LIFParams:
        """Build params from a membrane time constant: ``beta = exp(-dt / tau_mem)`` (ms)."""
        return cls(beta=beta_from_tau(tau_mem, dt), **kwargs)


class LIFState(NamedTuple):
    """LIF state: post-reset membrane ``v`` and remaining refractory steps (int tensor)."""

    v: torch.Tensor
    refractory: torch.Tensor


def decay_from_tau(tau: float, dt: float = 1.0, *, name: str = "tau") -> float:
    """Per-step decay ``exp(-dt / tau)`` of a quantity with time constant ``tau``; both in
    ms, both > 0 (``name`` is the argument named in the error)."""
    tau = check_positive(name, tau)
    dt = check_positive("dt", dt)
    return math.exp(-dt / tau)


def beta_from_tau(tau_mem: float, dt: float = 1.0) -> float:
    """``beta = exp(-dt / tau_mem)``; both in ms, both > 0."""
    return decay_from_tau(tau_mem, dt, name="tau_mem")


def lif_initial_state(x: torch.Tensor) -> LIFState:
    """Resting state (``v = 0``, not refractory) shaped like one time step ``x`` ``[B, ...]``."""
    return LIFState(
        v=torch.zeros_like(x),
        refractory=torch.zeros(x.shape, dtype=torch.int32, device=x.device),
    )


# ---------------------------------------------------------------------------------------
# validation (done once per call, never inside the time loop)


def _check_unit_interval(name: str, value: TensorLike) -> None:
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            ok = bool(torch.isfinite(value).all()) and bool(((value >= 0) & (value <= 1)).all())
        if not ok:
            lo, hi = float(value.min()), float(value.max())
            raise ValueError(f"{name} must be in [0, 1], got a tensor with range [{lo:.4g}, {hi:.4g}]")
    else:
        check_range(name, value, 0.0, 1.0)


def _check_positive_value(name: str, value: TensorLike) -> None:
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            ok = bool(torch.isfinite(value).all()) and bool((value > 0).all())
        if not ok:
            raise ValueError(
                f"{name} must be finite and > 0, got a tensor with minimum {float(value.min()):.4g}"
            )
    else:
        check_positive(name, value)


def _check_common(p) -> None:
    """Checks shared by LIF and adaptive LIF params (fields of the same names)."""
    _check_unit_interval("beta", p.beta)
    _check_positive_value("threshold", p.threshold)
    check_choice("reset", p.reset, RESETS)
    try:
        v_reset = float(p.v_reset)
    except (TypeError, ValueError):
        raise ValueError(f"v_reset must be a finite number, got {p.v_reset!r}") from None
    if not math.isfinite(v_reset):
        raise ValueError(f"v_reset must be a finite number, got {p.v_reset!r}")
    check_int("refractory_steps", p.refractory_steps, minimum=0)
    if not isinstance(p.surrogate, Surrogate):
        raise ValueError(
            f"surrogate must be a Surrogate instance (use get_surrogate(name)), got {p.surrogate!r}"
        )


def check_lif_params(p: LIFParams) -> LIFParams:
    """Validate every field of ``p``; return it unchanged."""
    if not isinstance(p, LIFParams):
        raise ValueError(f"p must be LIFParams, got {type(p).__name__}")
    _check_common(p)
    return p


def _check_seq(x_seq: torch.Tensor) -> torch.Tensor:
    check_tensor("x_seq", x_seq, min_ndim=2)
    if not x_seq.is_floating_point():
        raise ValueError(f"x_seq must be a floating point tensor, got dtype {x_seq.dtype}")
    if x_seq.shape[0] < 1:
        raise ValueError(f"x_seq must have at least one time step, got shape {tuple(x_seq.shape)}")
    return x_seq


def _check_state_shape(name: str, t: torch.Tensor, shape: torch.Size) -> None:
    if not isinstance(t, torch.Tensor) or t.shape != shape:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{name} must have the neuron shape {tuple(shape)}, got {got}")


def _prepare_state(state: LIFState | None, x: torch.Tensor) -> LIFState:
    if state is None:
        return lif_initial_state(x)
    if not isinstance(state, tuple) or len(state) != 2:
        raise ValueError(f"state must be LIFState(v, refractory) or None, got {type(state).__name__}")
    v, ref = state
    _check_state_shape("state.v", v, x.shape)
    if ref is None:
        ref = torch.zeros(x.shape, dtype=torch.int32, device=x.device)
    _check_state_shape("state.refractory", ref, x.shape)
    return LIFState(v, ref)


# ---------------------------------------------------------------------------------------
# core step shared by LIF, IF, adaptive LIF and the recurrent layer


def _core_step(
    x: torch.Tensor,
    v: torch.Tensor,
    ref: torch.Tensor,
    beta: TensorLike,
    thr: TensorLike,
    reset: str,
    v_reset: float,
    refractory_steps: int,
    surrogate: Surrogate,
    detach_reset: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One unchecked step; returns ``(spikes, h_pre_reset, v_post_reset, refractory)``."""
    # Python-number coefficients go into one fused op (add/sub with alpha): fewer kernels
    # and fewer saved tensors per step than separate mul + add.
    scalar_beta = not isinstance(beta, torch.Tensor)
    scalar_thr = not isinstance(thr, torch.Tensor)
    h = torch.add(x, v, alpha=beta) if scalar_beta else beta * v + x
    if refractory_steps > 0:
        frozen = ref > 0
        h = torch.where(frozen, v, h)
        s = surrogate(h - thr) * (~frozen).to(h.dtype)
    else:
        s = surrogate(h - thr)
    sr = s.detach() if detach_reset else s
    if reset == "soft":
        v_new = torch.sub(h, sr, alpha=thr) if scalar_thr else h - thr * sr
    elif reset == "hard":
        v_new = h * (1.0 - sr) + v_reset * sr
    else:
        v_new = h
    if refractory_steps > 0:
        # A spike (re)starts the counter; otherwise count down to zero.
        ref = torch.where(s.detach() > 0, torch.full_like(ref, refractory_steps), (ref - 1).clamp_min(0))
    return s, h, v_new, ref


def lif_step(
    x: torch.Tensor, state: LIFState | None, p: LIFParams, *, validate: bool = True
) -> tuple[torch.Tensor, LIFState]:
    """Advance one time step. ``x``: input current ``[B, ...]`` (threshold units).

    Returns ``(spikes, new_state)`` with spikes 0./1. in ``x``'s dtype. ``validate=False``
    skips the argument checks (for hot loops that checked once).
    """
    if validate:
        check_tensor("x", x, min_ndim=1)
        check_lif_params(p)
    state = _prepare_state(state, x)
    s, _, v, ref = _core_step(
        x, state.v, state.refractory, p.beta, p.threshold, p.reset, p.v_reset,
        p.refractory_steps, p.surrogate, p.detach_reset,
    )
    return s, LIFState(v, ref)


def lif(
    x_seq: torch.Tensor,
    state: LIFState | None = None,
    p: LIFParams | None = None,
    *,
    return_membrane: bool = False,
    fused: bool = True,
):
    """Run the LIF neuron over a time-first input ``x_seq`` ``[T, B, ...]``.

    ``p`` defaults to ``LIFParams(beta=0.9)`` (tau_mem ~ 9.5 ms at dt = 1 ms). Returns
    ``(spikes [T, B, ...], final_state)``, or ``(spikes, final_state, membrane)`` with
    ``return_membrane=True`` where ``membrane`` is the pre-reset ``h_t`` ``[T, B, ...]``.
    Passing ``final_state`` back continues the run exactly.

    Without a refractory period, a scalar threshold and no membrane to return, the whole
    sequence runs in one fused kernel (:func:`snnbench.neurons.fused.lif_multistep_fused`,
    same values and gradients); ``fused=False`` forces the reference loop below.
    """
    _check_seq(x_seq)
    p = LIFParams(beta=0.9) if p is None else check_lif_params(p)
    if fused and p.refractory_steps == 0 and not return_membrane and not isinstance(p.threshold, torch.Tensor):
        from .fused import lif_multistep_fused

        start = _prepare_state(state, x_seq.detach()[0])
        spikes, v = lif_multistep_fused(
            x_seq, start.v, p.beta, float(p.threshold), p.reset, float(p.v_reset), p.surrogate, p.detach_reset
        )
        return spikes, LIFState(v, start.refractory)
    xs = x_seq.unbind(0)  # unbind, not x[t]: indexing a grad tensor makes backward O(T^2)
    v, ref = _prepare_state(state, xs[0])
    beta, thr, reset, v_reset = p.beta, p.threshold, p.reset, float(p.v_reset)
    n_ref, sg, det = p.refractory_steps, p.surrogate, p.detach_reset
    spikes, mems = [], []
    for x in xs:
        s, h, v, ref = _core_step(x, v, ref, beta, thr, reset, v_reset, n_ref, sg, det)
        spikes.append(s)
        if return_membrane:
            mems.append(h)
    out = torch.stack(spikes)
    if return_membrane:
        return out, LIFState(v, ref), torch.stack(mems)
    return out, LIFState(v, ref)


# ---------------------------------------------------------------------------------------
# IF = LIF with beta = 1


def if_params(
    threshold: TensorLike = 1.0,
    reset: str = "soft",
    v_reset: float = 0.0,
    refractory_steps: int = 0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
) -> LIFParams:
    """Integrate-and-fire params: ``LIFParams`` with ``beta = 1`` (no leak)."""
    return check_lif_params(
        LIFParams(
            beta=1.0, threshold=threshold, reset=reset, v_reset=v_reset,
            refractory_steps=refractory_steps, surrogate=get_surrogate(surrogate),
            detach_reset=detach_reset,
        )
    )


def if_neuron(
    x_seq: torch.Tensor,
    state: LIFState | None = None,
    p: LIFParams | None = None,
    *,
    return_membrane: bool = False,
):
    """IF neuron ``h_t = v_{t-1} + x_t`` over ``[T, B, ...]``; ``p`` must have ``beta == 1``.

    Same returns as :func:`lif`; ``p`` defaults to :func:`if_params`.
    """
    p = if_params() if p is None else p
    if isinstance(p.beta, torch.Tensor) or float(p.beta) != 1.0:
        raise ValueError(f"beta must be 1.0 for an IF neuron (use lif for a leak), got {p.beta!r}")
    return lif(x_seq, state, p, return_membrane=return_membrane)
