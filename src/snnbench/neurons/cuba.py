r"""Current-based LIF (CUBA LIF): a synaptic current with its own time constant feeding a
LIF membrane. Functional core; the module is :class:`snnbench.neurons.modules.CubaLIF`.

.. code-block:: text

    i_t = alpha * i_{t-1} + x_t          alpha = exp(-dt / tau_syn)
    h_t = beta  * v_{t-1} + i_t          beta  = exp(-dt / tau_mem)    (dt, taus in ms)
    s_t = Theta(h_t - threshold)         (surrogate gradient backward)
    v_t = reset(h_t, s_t)                as in snnbench.neurons.lif (soft / hard / none)

``x_t`` is the charge arriving in step t (threshold units). This is the discrete form of
snnTorch's ``Synaptic`` neuron. It is also the exact integration of the continuous model
``tau_syn di/dt = -i``, ``tau_mem dv/dt = -v + R i`` when the input arrives as jumps of
``i`` at the start of each step and ``R`` is chosen so that a current ``i`` adds ``i`` to
``v`` over one step (``R = 1 / k``, ``k = tau_syn (alpha - beta) / (tau_syn - tau_mem)``);
``tests/neurons/test_brian2_neurons.py`` checks that against Brian2. NIR's ``CubaLIF``
node writes the same continuous model with ``v_leak``, ``r``, ``w_in`` and
``v_threshold``.

The whole-sequence :func:`cuba_lif` runs the ``"cuba"`` kernel of
:mod:`snnbench.neurons.kernels` (torch or numba backend) unless a membrane trace is asked
for or ``fused=False``; :func:`_cuba_core` is the reference step.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import (
    TensorLike,
    check_membrane_params,
    check_state_shape,
    check_unit_interval,
    decay_from_tau,
)
from ._scan import Kind, run_fused, run_kind, step_kind
from .surrogate import ATan, Surrogate

__all__ = ["CubaLIFParams", "CubaLIFState", "check_cuba_params", "cuba_lif", "cuba_lif_step",
           "cuba_initial_state"]


class CubaLIFParams(NamedTuple):
    """Current-based LIF parameters: ``alpha`` (synaptic decay per step) and ``beta``
    (membrane decay per step), each a float in [0, 1] or a tensor broadcastable to the
    neuron shape (learnable); the rest as in ``LIFParams``."""

    alpha: TensorLike
    beta: TensorLike
    threshold: float = 1.0
    reset: str = "soft"
    v_reset: float = 0.0
    surrogate: Surrogate = ATan(2.0)
    detach_reset: bool = False

    @classmethod
    def from_tau(cls, tau_syn: float, tau_mem: float, dt: float = 1.0, **kwargs) -> CubaLIFParams:
        """``alpha = exp(-dt/tau_syn)``, ``beta = exp(-dt/tau_mem)`` (all in ms)."""
        return cls(alpha=decay_from_tau(tau_syn, dt, name="tau_syn"),
                   beta=decay_from_tau(tau_mem, dt, name="tau_mem"), **kwargs)


class CubaLIFState(NamedTuple):
    """Synaptic current ``i`` and post-reset membrane ``v`` ``[B, ...]``."""

    i: torch.Tensor
    v: torch.Tensor


def cuba_initial_state(x: torch.Tensor) -> CubaLIFState:
    """Rest (``i = 0``, ``v = 0``) shaped like one step ``x``."""
    return CubaLIFState(torch.zeros_like(x), torch.zeros_like(x))


def check_cuba_params(p: CubaLIFParams) -> CubaLIFParams:
    """Validate every field of ``p``; return it unchanged."""
    if not isinstance(p, CubaLIFParams):
        raise ValueError(f"p must be CubaLIFParams, got {type(p).__name__}")
    check_unit_interval("alpha", p.alpha)
    check_membrane_params(p)
    if isinstance(p.threshold, torch.Tensor):
        raise ValueError("threshold must be a number for the current-based LIF, got a tensor")
    return p


def _prepare_state(state, x: torch.Tensor) -> CubaLIFState:
    if state is None:
        return cuba_initial_state(x)
    if not isinstance(state, tuple) or len(state) != 2:
        raise ValueError(f"state must be CubaLIFState(i, v) or None, got {type(state).__name__}")
    check_state_shape("state.i", state[0], x.shape)
    check_state_shape("state.v", state[1], x.shape)
    return CubaLIFState(*state)


def _cuba_core(x, st: CubaLIFState, p: CubaLIFParams):
    """The reference step (autograd through every op); returns ``(s, h, state)``. Multiply
    then add, as the kernels, so that float32 values agree bit for bit."""
    i = p.alpha * st.i + x
    h = p.beta * st.v + i
    s = p.surrogate(h - p.threshold)
    sr = s.detach() if p.detach_reset else s
    if p.reset == "soft":
        v = h - p.threshold * sr
    elif p.reset == "hard":
        v = h * (1.0 - sr) + p.v_reset * sr
    else:
        v = h
    return s, h, CubaLIFState(i, v)


def _cuba_kernel(x_seq: torch.Tensor, st: CubaLIFState, p: CubaLIFParams, backend: str,
                 overwrite_input: bool):
    s, i, v = run_fused("cuba", x_seq, (st.i, st.v), {"alpha": p.alpha, "beta": p.beta}, p,
                        backend, overwrite_input=overwrite_input)
    return s, CubaLIFState(i, v)


_CUBA = Kind(
    default=lambda: CubaLIFParams(alpha=0.8, beta=0.9), check=check_cuba_params,
    prepare=lambda state, x, p: _prepare_state(state, x), core=_cuba_core, kernel=_cuba_kernel,
)


def cuba_lif_step(x: torch.Tensor, state: CubaLIFState | None, p: CubaLIFParams, *,
                  validate: bool = True) -> tuple[torch.Tensor, CubaLIFState]:
    """Advance one step; ``x`` ``[B, ...]``. Returns ``(spikes, new_state)``."""
    return step_kind(_CUBA, x, state, p, validate)


def cuba_lif(x_seq: torch.Tensor, state: CubaLIFState | None = None,
             p: CubaLIFParams | None = None, *, return_membrane: bool = False,
             fused: bool = True, backend: str = "auto", check_finite: bool = True):
    """Run the current-based LIF over ``x_seq`` ``[T, B, ...]``.

    ``p`` defaults to ``CubaLIFParams(alpha=0.8, beta=0.9)``. Returns ``(spikes, state)`` or,
    with ``return_membrane=True``, ``(spikes, state, membrane)`` (pre-reset ``h_t``).
    ``fused``, ``backend`` and ``check_finite`` as in :func:`snnbench.neurons.lif.lif`.
    """
    return run_kind(_CUBA, x_seq, state, p, return_membrane, fused, backend, check_finite)
