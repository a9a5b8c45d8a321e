r"""Izhikevich (2003) simple spiking neuron: functional core.

.. code-block:: text

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I      (v in mV, t in ms, I in the paper's units)
    du/dt = a (b v - u)
    if v >= v_peak (30 mV):  v <- c,  u <- u + d

One call of :func:`izhikevich_step` advances ``dt`` ms. Two integration schemes
(``scheme``), which give different spike trains:

- ``"euler"`` (default): ``substeps`` simultaneous forward-Euler steps of ``dt / substeps``
  (both ``v`` and ``u`` from the values at the start of the substep), with the spike test
  and reset after every substep; the output is 1 when the neuron fired in any substep.
  The default (dt = 1 ms, ``substeps=2``) is simultaneous Euler at 0.5 ms, i.e. Brian2's
  ``method="euler"`` at dt = 0.5 ms (tested against Brian2). It is *not* the paper's code.
- ``"izhikevich2003"``: the paper's published loop: ``v`` advanced in ``substeps`` steps
  of ``dt / substeps`` with ``u`` held, then ``u`` advanced once by ``dt`` from the new
  ``v``, then the spike test and reset (dt = 1 ms, ``substeps=2`` is the paper's). The
  paper's loop tests ``v >= 30`` at the start of the next millisecond and records the
  spike there; here the spike is reported in the step that reached ``v_peak`` and the
  reset applied at its end, which gives the same ``(v, u)`` trajectory (tested against a
  transcription of the paper's loop).

The spike test uses a surrogate on ``(v - v_peak) / v_scale``.

Presets (a, b, c, d) from Izhikevich 2003, Fig. 2: regular spiking (RS), intrinsically
bursting (IB), chattering (CH, "bursting"), fast spiking (FS), low-threshold spiking (LTS),
thalamo-cortical (TC), resonator (RZ).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._validation import check_choice, check_int, check_positive
from ._checks import TensorLike, check_state_shape, check_surrogate
from ._scan import Kind, run_kind, step_kind
from .surrogate import ATan, Surrogate

V_INIT = -65.0  # mV, the resting potential the paper starts every neuron from

PRESETS: dict[str, tuple[float, float, float, float]] = {
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
    "thalamo_cortical": (0.02, 0.25, -65.0, 0.05),
    "resonator": (0.1, 0.26, -65.0, 2.0),
}
PRESETS["bursting"] = PRESETS["chattering"]
SCHEMES = ("euler", "izhikevich2003")


class IzhikevichParams(NamedTuple):
    """Izhikevich parameters; ``a, b, c, d`` may be floats or tensors broadcastable to the
    neuron shape (a mixed population). ``dt`` in ms, ``v_peak``/``c``/``v_scale`` in mV;
    ``scheme`` is the integration scheme (module docstring)."""

    a: TensorLike = 0.02
    b: TensorLike = 0.2
    c: TensorLike = -65.0
    d: TensorLike = 8.0
    dt: float = 1.0
    substeps: int = 2
    v_peak: float = 30.0
    v_scale: float = 10.0
    surrogate: Surrogate = ATan(2.0)
    scheme: str = "euler"


class IzhikevichState(NamedTuple):
    """Membrane potential ``v`` (mV) and recovery variable ``u``."""

    v: torch.Tensor
    u: torch.Tensor


def izhikevich_preset(name: str, **kwargs) -> IzhikevichParams:
    """Params for a named cell class (see ``PRESETS``); ``kwargs`` override other fields."""
    check_choice("preset", name, tuple(PRESETS))
    a, b, c, d = PRESETS[name]
    return check_izhikevich_params(IzhikevichParams(a=a, b=b, c=c, d=d, **kwargs))


def regular_spiking(**kwargs) -> IzhikevichParams:
    """RS cortical cell: tonic spiking with spike-frequency adaptation."""
    return izhikevich_preset("regular_spiking", **kwargs)


def intrinsically_bursting(**kwargs) -> IzhikevichParams:
    """IB cell: an initial burst, then tonic single spikes."""
    return izhikevich_preset("intrinsically_bursting", **kwargs)


def chattering(**kwargs) -> IzhikevichParams:
    """CH cell: repetitive bursts of closely spaced spikes."""
    return izhikevich_preset("chattering", **kwargs)


bursting = chattering


def fast_spiking(**kwargs) -> IzhikevichParams:
    """FS interneuron: high-frequency spiking with little adaptation."""
    return izhikevich_preset("fast_spiking", **kwargs)


def _check_finite(name: str, value: TensorLike) -> None:
    if isinstance(value, torch.Tensor):
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be finite, got a tensor containing NaN/inf")
        return
    try:
        ok = math.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def check_izhikevich_params(p: IzhikevichParams) -> IzhikevichParams:
    """Validate every field of ``p``; return it unchanged."""
    if not isinstance(p, IzhikevichParams):
        raise ValueError(f"p must be IzhikevichParams, got {type(p).__name__}")
    for name in ("a", "b", "c", "d", "v_peak"):
        _check_finite(name, getattr(p, name))
    check_positive("dt", p.dt)
    check_int("substeps", p.substeps, minimum=1)
    check_positive("v_scale", p.v_scale)
    with torch.no_grad():
        c_max = float(torch.as_tensor(p.c).max())
    if c_max >= p.v_peak:
        raise ValueError(f"c must be < v_peak={p.v_peak} mV (reset below the peak), got {p.c!r}")
    check_surrogate(p.surrogate)
    check_choice("scheme", p.scheme, SCHEMES)
    return p


def izhikevich_initial_state(x: torch.Tensor, p: IzhikevichParams) -> IzhikevichState:
    """Paper's start: ``v = -65`` mV, ``u = b v``; shaped like one step ``x``."""
    v = torch.full_like(x, V_INIT)
    return IzhikevichState(v, p.b * v)


def _prepare_state(state, x, p) -> IzhikevichState:
    if state is None:
        return izhikevich_initial_state(x, p)
    if not isinstance(state, tuple) or len(state) != 2:
        raise ValueError(f"state must be IzhikevichState(v, u) or None, got {type(state).__name__}")
    check_state_shape("state.v", state[0], x.shape)
    check_state_shape("state.u", state[1], x.shape)
    return IzhikevichState(*state)


def _izh_core(I: torch.Tensor, v: torch.Tensor, u: torch.Tensor, p: IzhikevichParams):
    """One unchecked step of ``dt`` ms; returns ``(spikes, membrane_for_plots, v, u)``."""
    h = p.dt / p.substeps
    a, b, c, d = p.a, p.b, p.c, p.d
    if p.scheme == "izhikevich2003":
        for _ in range(p.substeps):  # v with u held, as the paper's two half-ms updates
            # 0.04 * (v * v): the paper's 0.04*v.^2, so its published loop is matched to
            # the last bit (the dynamics amplify a rounding difference 1e5-fold in 100 ms)
            v = v + h * (0.04 * (v * v) + 5.0 * v + 140.0 - u + I)
        u = u + p.dt * (a * (b * v - u))
        s = p.surrogate((v - p.v_peak) / p.v_scale)
        v = v * (1.0 - s) + c * s
        u = u + d * s
        return s, torch.where(s.detach() > 0, torch.full_like(v, p.v_peak), v), v, u
    quiet = None  # product of (1 - s_k): 1 where no substep fired
    for _ in range(p.substeps):
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + I
        du = a * (b * v - u)
        v = v + h * dv
        u = u + h * du
        s = p.surrogate((v - p.v_peak) / p.v_scale)
        v = v * (1.0 - s) + c * s
        u = u + d * s
        quiet = 1.0 - s if quiet is None else quiet * (1.0 - s)
    spikes = 1.0 - quiet
    # Plots show the spike as a line to v_peak, as in the paper's figures.
    membrane = torch.where(spikes.detach() > 0, torch.full_like(v, p.v_peak), v)
    return spikes, membrane, v, u


def _izh_step(x: torch.Tensor, st: IzhikevichState, p: IzhikevichParams):
    s, m, v, u = _izh_core(x, st.v, st.u, p)
    return s, m, IzhikevichState(v, u)


_IZH = Kind(default=regular_spiking, check=check_izhikevich_params, prepare=_prepare_state,
            core=_izh_step)


def izhikevich_step(I: torch.Tensor, state: IzhikevichState | None, p: IzhikevichParams, *,
                    validate: bool = True) -> tuple[torch.Tensor, IzhikevichState]:
    """Advance ``p.dt`` ms with input current ``I`` ``[B, ...]``; returns ``(spikes, state)``.

    ``validate=False`` skips the argument checks (for hot loops that checked once)."""
    return step_kind(_IZH, I, state, p, validate, name="I")


def izhikevich(x_seq: torch.Tensor, state: IzhikevichState | None = None,
               p: IzhikevichParams | None = None, *, return_membrane: bool = False,
               check_finite: bool = True):
    """Run over an input current ``x_seq`` ``[T, B, ...]`` (one step = ``p.dt`` ms).

    ``p`` defaults to :func:`regular_spiking`. Returns ``(spikes, state)`` or, with
    ``return_membrane=True``, ``(spikes, state, membrane)`` where the membrane is ``v`` in
    mV after each step, drawn at ``v_peak`` on steps with a spike.
    """
    return run_kind(_IZH, x_seq, state, p, return_membrane, False, "auto", check_finite)
