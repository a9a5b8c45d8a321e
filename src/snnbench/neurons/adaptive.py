r"""Adaptive-threshold LIF (homeostasis of Diehl & Cook 2015): functional core.

Each neuron carries an extra threshold ``theta`` that rises at every spike and decays
slowly, so a neuron that fires a lot becomes harder to excite:

.. code-block:: text

    h_t     = beta * v_{t-1} + x_t                 beta = exp(-dt / tau_mem)
    thr_t   = threshold + theta_{t-1}
    s_t     = Theta(h_t - thr_t)
    v_t     = reset(h_t, s_t)                      soft: h_t - thr_t * s_t; hard: v_reset
    theta_t = theta_{t-1} * theta_decay + theta_plus * s_t
                                                   theta_decay = exp(-dt / tau_theta)

``dt``, ``tau_mem`` and ``tau_theta`` in ms; ``theta`` and ``theta_plus`` in threshold units.
Refractory steps behave as in :mod:`snnbench.neurons.lif`; ``theta`` keeps decaying.

Order of decay and threshold test (simulators differ): by default (``theta_decays_first=
False``) the test at step t uses ``theta_{t-1}`` and the decay comes after it, as above.
With ``theta_decays_first=True`` theta decays first and the test uses the decayed value,
``thr_t = threshold + theta_{t-1} * theta_decay``, then ``theta_t = that + theta_plus * s_t``:
Brian2's schedule (state update, then threshold, then reset) with ``dtheta/dt =
-theta / tau_theta`` and ``theta += theta_plus`` on reset, and Diehl & Cook's code.

Without a refractory period, with a scalar threshold, no membrane trace and the default
order, :func:`alif` runs a registered kernel (``"alif"`` in :mod:`snnbench.neurons.kernels`);
otherwise the reference step in a loop. Both give the same values and gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._validation import check_positive, check_range
from ._checks import (
    TensorLike,
    check_membrane_params,
    check_state_shape,
    decay_from_tau,
)
from ._scan import Kind, run_fused, run_kind, step_kind
from .lif import _core_step, beta_from_tau
from .surrogate import ATan, Surrogate


class ALIFParams(NamedTuple):
    """Adaptive LIF parameters; ``theta_decay = exp(-dt / tau_theta)`` per step."""

    beta: TensorLike
    threshold: TensorLike = 1.0
    theta_plus: float = 0.05
    theta_decay: float = 1.0
    reset: str = "soft"
    v_reset: float = 0.0
    refractory_steps: int = 0
    surrogate: Surrogate = ATan(2.0)
    detach_reset: bool = False
    theta_decays_first: bool = False

    @classmethod
    def from_tau(
        cls, tau_mem: float, tau_theta: float, dt: float = 1.0, **kwargs
    ) -> ALIFParams:
        """``beta = exp(-dt/tau_mem)``, ``theta_decay = exp(-dt/tau_theta)`` (all in ms).

        Diehl & Cook 2015 use ``tau_theta = 1e7`` ms: theta barely decays within a run.
        """
        return cls(
            beta=beta_from_tau(tau_mem, dt),
            theta_decay=theta_decay_from_tau(tau_theta, dt),
            **kwargs,
        )


class ALIFState(NamedTuple):
    """Post-reset membrane ``v``, adaptive threshold ``theta`` and refractory counter."""

    v: torch.Tensor
    theta: torch.Tensor
    refractory: torch.Tensor


def theta_decay_from_tau(tau_theta: float, dt: float = 1.0) -> float:
    """``exp(-dt / tau_theta)``; both in ms, both > 0."""
    return decay_from_tau(tau_theta, dt, name="tau_theta")


def alif_initial_state(x: torch.Tensor) -> ALIFState:
    """Rest: ``v = 0``, ``theta = 0``, not refractory; shaped like one step ``x``."""
    return ALIFState(
        torch.zeros_like(x),
        torch.zeros_like(x),
        torch.zeros(x.shape, dtype=torch.int32, device=x.device),
    )


def check_alif_params(p: ALIFParams) -> ALIFParams:
    """Validate every field of ``p``; return it unchanged."""
    if not isinstance(p, ALIFParams):
        raise ValueError(f"p must be ALIFParams, got {type(p).__name__}")
    check_membrane_params(p)
    check_positive("theta_plus", p.theta_plus, allow_zero=True)
    check_range("theta_decay", p.theta_decay, 0.0, 1.0)
    if not isinstance(p.theta_decays_first, bool):
        raise ValueError(f"theta_decays_first must be True or False, got {p.theta_decays_first!r}")
    return p


def _prepare_state(state: ALIFState | None, x: torch.Tensor) -> ALIFState:
    if state is None:
        return alif_initial_state(x)
    if not isinstance(state, tuple) or len(state) != 3:
        raise ValueError(
            f"state must be ALIFState(v, theta, refractory) or None, got {type(state).__name__}"
        )
    v, theta, ref = state
    if ref is None:
        ref = torch.zeros(x.shape, dtype=torch.int32, device=x.device)
    for name, t in (("state.v", v), ("state.theta", theta), ("state.refractory", ref)):
        check_state_shape(name, t, x.shape)
    return ALIFState(v, theta, ref)


def _alif_core(x, state: ALIFState, p: ALIFParams):
    """The reference step of both orders (see the module docstring)."""
    v, theta, ref = state
    if p.theta_decays_first:
        theta = theta * p.theta_decay
    thr = p.threshold + theta
    s, h, v, ref = _core_step(
        x, v, ref, p.beta, thr, p.reset, float(p.v_reset), p.refractory_steps,
        p.surrogate, p.detach_reset,
    )
    theta = (theta if p.theta_decays_first else theta * p.theta_decay) + p.theta_plus * s
    return s, h, ALIFState(v, theta, ref)


def _alif_kernel(x_seq: torch.Tensor, st: ALIFState, p: ALIFParams, backend: str,
                 overwrite_input: bool):
    s, v, theta = run_fused("alif", x_seq, (st.v, st.theta),
                            {"beta": p.beta, "theta_decay": p.theta_decay}, p, backend,
                            (float(p.theta_plus),), overwrite_input)
    return s, ALIFState(v, theta, st.refractory)


# the kernel has no refractory counter, takes the threshold as a number and decays theta
# after the threshold test
_ALIF = Kind(
    default=lambda: ALIFParams(beta=0.9), check=check_alif_params,
    prepare=lambda state, x, p: _prepare_state(state, x), core=_alif_core, kernel=_alif_kernel,
    fits_kernel=lambda p: (p.refractory_steps == 0 and not p.theta_decays_first
                           and not isinstance(p.threshold, torch.Tensor)),
)


def alif_step(x: torch.Tensor, state: ALIFState | None, p: ALIFParams, *,
              validate: bool = True) -> tuple[torch.Tensor, ALIFState]:
    """Advance one step; ``x`` ``[B, ...]``. Returns ``(spikes, new_state)``.

    ``validate=False`` skips the argument checks (for hot loops that checked once)."""
    return step_kind(_ALIF, x, state, p, validate)


def alif(x_seq: torch.Tensor, state: ALIFState | None = None, p: ALIFParams | None = None, *,
         return_membrane: bool = False, fused: bool = True, backend: str = "auto",
         check_finite: bool = True):
    """Run the adaptive LIF over ``x_seq`` ``[T, B, ...]``.

    ``p`` defaults to ``ALIFParams(beta=0.9)``. Returns ``(spikes, state)`` or, with
    ``return_membrane=True``, ``(spikes, state, membrane)`` (pre-reset ``h_t``).
    ``fused``, ``backend`` and ``check_finite`` as in :func:`snnbench.neurons.lif.lif`.
    """
    return run_kind(_ALIF, x_seq, state, p, return_membrane, fused, backend, check_finite)
