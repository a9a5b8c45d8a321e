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
for a hard reset) and cannot spike. Counting: a spike at step t freezes steps t+1 ..
t+refractory_steps, so the next spike comes at step t + refractory_steps + 1 at the
earliest. A refractory *time* ``t_ref`` (ms) in Brian2's schedule (the neuron is
refractory while ``t - lastspike < t_ref``, and the spike's own step counts) freezes
``round(t_ref / dt) - 1`` steps: :func:`refractory_steps_from_ms` converts, e.g. 5 ms at
dt = 1 ms -> ``refractory_steps=4`` (tested against Brian2).

The whole-sequence :func:`lif` runs a registered kernel (:mod:`snnbench.neurons.kernels`,
backend ``"auto"``: C, numba, Triton or torch) when there is no refractory period, the
threshold is a number and no membrane trace is asked for; otherwise the reference step
:func:`_core_step` in a loop. Both give the same values and gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._validation import check_choice, check_positive
from ._checks import (
    RESETS,
    TensorLike,
    check_membrane_params,
    check_state_shape,
    decay_from_tau,
)
from ._scan import Kind, run_fused, run_kind, step_kind
from .surrogate import ATan, Surrogate, get_surrogate

__all__ = ["LIFParams", "LIFState", "RESETS", "beta_from_tau", "check_lif_params", "if_neuron",
           "if_params", "lif", "lif_initial_state", "lif_step", "refractory_steps_from_ms"]


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


def beta_from_tau(tau_mem: float, dt: float = 1.0) -> float:
    """``beta = exp(-dt / tau_mem)``; both in ms, both > 0."""
    return decay_from_tau(tau_mem, dt, name="tau_mem")


def refractory_steps_from_ms(t_ref: float, dt: float = 1.0, *, convention: str = "brian2") -> int:
    """``refractory_steps`` for a refractory time ``t_ref`` ms at step ``dt`` ms.

    ``convention="brian2"``: the neuron is refractory while ``t - t_spike < t_ref``, the
    spike's own step included, so ``round(t_ref / dt) - 1`` later steps are frozen (5 ms at
    dt = 1 ms -> 4; the next spike at the earliest 5 steps after the last).
    ``convention="frozen_steps"``: ``t_ref`` counts only the frozen steps after the spike
    (``round(t_ref / dt)``; 5 ms -> 5, next spike 6 steps later).
    """
    check_positive("t_ref", t_ref, allow_zero=True)
    check_positive("dt", dt)
    check_choice("convention", convention, ("brian2", "frozen_steps"))
    n = round(t_ref / dt)
    return max(0, n - 1) if convention == "brian2" else n


def lif_initial_state(x: torch.Tensor) -> LIFState:
    """Resting state (``v = 0``, not refractory) shaped like one time step ``x`` ``[B, ...]``."""
    return LIFState(
        v=torch.zeros_like(x),
        refractory=torch.zeros(x.shape, dtype=torch.int32, device=x.device),
    )


def check_lif_params(p: LIFParams) -> LIFParams:
    """Validate every field of ``p``; return it unchanged."""
    if not isinstance(p, LIFParams):
        raise ValueError(f"p must be LIFParams, got {type(p).__name__}")
    check_membrane_params(p)
    return p


def _prepare_state(state: LIFState | None, x: torch.Tensor) -> LIFState:
    if state is None:
        return lif_initial_state(x)
    if not isinstance(state, tuple) or len(state) != 2:
        raise ValueError(f"state must be LIFState(v, refractory) or None, got {type(state).__name__}")
    v, ref = state
    check_state_shape("state.v", v, x.shape)
    if ref is None:
        ref = torch.zeros(x.shape, dtype=torch.int32, device=x.device)
    check_state_shape("state.refractory", ref, x.shape)
    return LIFState(v, ref)


# ---------------------------------------------------------------------------------------
# the reference step, shared by LIF, IF, adaptive LIF and the recurrent layer


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


def _lif_core(x: torch.Tensor, st: LIFState, p: LIFParams):
    """The reference step on ``LIFParams``: ``(spikes, h, state)``."""
    s, h, v, ref = _core_step(x, st.v, st.refractory, p.beta, p.threshold, p.reset,
                              float(p.v_reset), p.refractory_steps, p.surrogate, p.detach_reset)
    return s, h, LIFState(v, ref)


def _lif_kernel(x_seq: torch.Tensor, st: LIFState, p: LIFParams, backend: str,
                overwrite_input: bool):
    spikes, v = run_fused("lif", x_seq, (st.v,), {"beta": p.beta}, p, backend,
                          overwrite_input=overwrite_input)
    return spikes, LIFState(v, st.refractory)


def _lif_rest(x: torch.Tensor) -> LIFState:
    """The resting state as zeros broadcast to one step ``x`` (no buffer: the kernels read
    one value for every neuron)."""
    return LIFState(v=x.new_zeros(()).expand(x.shape),
                    refractory=torch.zeros((), dtype=torch.int32, device=x.device).expand(x.shape))


# the kernels have no refractory counter and take the threshold as a number
_LIF = Kind(
    default=lambda: LIFParams(beta=0.9), check=check_lif_params,
    prepare=lambda state, x, p: _prepare_state(state, x), core=_lif_core, kernel=_lif_kernel,
    fits_kernel=lambda p: p.refractory_steps == 0 and not isinstance(p.threshold, torch.Tensor),
    rest=_lif_rest,
)


def lif_step(x: torch.Tensor, state: LIFState | None, p: LIFParams, *,
             validate: bool = True) -> tuple[torch.Tensor, LIFState]:
    """Advance one time step. ``x``: input current ``[B, ...]`` (threshold units).

    Returns ``(spikes, new_state)`` with spikes 0./1. in ``x``'s dtype. ``validate=False``
    skips the argument checks (for hot loops that checked once).
    """
    return step_kind(_LIF, x, state, p, validate)


def lif(x_seq: torch.Tensor, state: LIFState | None = None, p: LIFParams | None = None, *,
        return_membrane: bool = False, fused: bool = True, backend: str = "auto",
        check_finite: bool = True, overwrite_input: bool = False):
    """Run the LIF neuron over a time-first input ``x_seq`` ``[T, B, ...]``.

    ``p`` defaults to ``LIFParams(beta=0.9)`` (tau_mem ~ 9.5 ms at dt = 1 ms). Returns
    ``(spikes [T, B, ...], final_state)``, or ``(spikes, final_state, membrane)`` with
    ``return_membrane=True`` where ``membrane`` is the pre-reset ``h_t`` ``[T, B, ...]``.
    Passing ``final_state`` back continues the run exactly.

    Without a refractory period, a scalar threshold and no membrane to return, the whole
    sequence runs in one registered kernel of ``backend`` (``"auto"``, ``"c"``,
    ``"numba"``, ``"torch"``, ``"triton"``; same values and gradients); ``fused=False``
    forces the reference loop. ``check_finite=False`` skips the scan of ``x_seq`` for
    NaN/inf (for a model that checked its own input once; the layers between cannot create
    them from finite weights).

    ``overwrite_input=True`` says the caller never reads ``x_seq`` again (the output of the
    layer before, as for ``nn.ReLU(inplace=True)``): the C kernel then keeps ``h_t`` in
    ``x_seq``'s buffer and writes the input gradient over it, so the layer allocates no
    ``[T, B, ...]`` buffer besides its spikes. Only for an ``x_seq`` that is an
    intermediate result of autograd (never a leaf); its values afterwards are unspecified,
    an operation that saved it for backward raises there, and a second backward
    (``retain_graph``) raises. Other backends ignore it.
    """
    return run_kind(_LIF, x_seq, state, p, return_membrane, fused, backend, check_finite,
                    overwrite_input)


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
