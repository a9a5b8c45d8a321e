"""``nn.Module`` wrappers around the functional neuron cores.

Every module takes ``(x_seq [T, B, *shape], state=None)`` and returns
``(spikes [T, B, *shape], state)``; nothing survives between calls unless the caller passes
``state`` back. With ``record=True`` the pre-reset membrane of the last call is kept
(detached) in ``module.last_membrane``.

Learnable time constant (PLIF, Fang et al. 2021): ``learn_tau=True`` stores a parameter
``w`` with ``beta = sigmoid(w)`` (so ``beta`` stays in (0, 1) under any update); one scalar
per layer, or one per neuron with ``per_neuron=True`` (needs ``shape``).

``backend`` (LIF, IF, AdaptiveLIF, CubaLIF) picks the kernel backend of
:mod:`snnbench.neurons.kernels` (``"auto"``: C or numba on the CPU, Triton on CUDA).
``check_finite=False`` skips the per-call scan of the input for NaN/inf: a model that
validated its own input once passes it to every layer (about 5 % of a conv step).
``overwrite_input=True`` (LIF, IF) says the caller never reads the input current again, so
the kernel may keep the membrane in its buffer (see :func:`snnbench.neurons.lif`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive
from ._checks import check_unit_interval, decay_from_tau
from .adaptive import ALIFParams, alif, check_alif_params, theta_decay_from_tau
from .cuba import CubaLIFParams, check_cuba_params, cuba_lif
from .izhikevich import (
    IzhikevichParams,
    IzhikevichState,
    check_izhikevich_params,
    izhikevich,
    izhikevich_preset,
)
from .kernels import BACKENDS
from .lif import LIFParams, beta_from_tau, check_lif_params, lif
from .surrogate import Surrogate, get_surrogate


def _normalize_shape(shape: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if shape is None:
        return None
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    for d in dims:
        check_int("shape", d, minimum=1)
    return dims


def _check_input_shape(x_seq: torch.Tensor, shape: tuple[int, ...] | None) -> None:
    if shape is not None and isinstance(x_seq, torch.Tensor) and tuple(x_seq.shape[2:]) != shape:
        raise ValueError(
            f"x_seq must have shape [T, B, {', '.join(map(str, shape))}] (neuron shape {shape}), "
            f"got {tuple(x_seq.shape)}"
        )


class _NeuronModule(nn.Module):
    """Shared plumbing: neuron shape, surrogate, membrane recording, beta/tau handling."""

    def __init__(
        self,
        shape: int | Sequence[int] | None,
        surrogate: str | Surrogate,
        alpha: float | None,
        record: bool,
        backend: str = "auto",
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        self.shape = _normalize_shape(shape)
        self.surrogate = get_surrogate(surrogate, alpha)
        self.record = bool(record)
        self.last_membrane: torch.Tensor | None = None
        self.backend = check_choice("backend", backend, BACKENDS)
        self.check_finite = bool(check_finite)

    def _init_lif(self, shape, options: dict) -> None:
        """The constructor of a LIF-type kind from the options of :class:`LIF` (checked
        by the kind's ``check_*_params`` at the end of its constructor)."""
        o = options
        _NeuronModule.__init__(self, shape, o["surrogate"], o["alpha"], o["record"],
                               o.get("backend", "auto"), o["check_finite"])
        self._init_beta(o["beta"], o["tau_mem"], o["dt"], o["learn_tau"], o["per_neuron"])
        self._init_membrane(o["threshold"], o["reset"], o["v_reset"], o["refractory_steps"],
                            o["detach_reset"])

    def _init_membrane(self, threshold, reset, v_reset, refractory_steps, detach_reset) -> None:
        """The LIF-type fields every membrane module stores (checked by the kind's
        ``check_*_params`` at the end of its constructor)."""
        self.threshold = threshold
        self.reset = reset
        self.v_reset = v_reset
        self.refractory_steps = refractory_steps
        self.detach_reset = detach_reset

    def _lif_params(self) -> LIFParams:
        return LIFParams(
            beta=self.beta, threshold=self.threshold, reset=self.reset, v_reset=self.v_reset,
            refractory_steps=self.refractory_steps, surrogate=self.surrogate,
            detach_reset=self.detach_reset,
        )

    def _run_kw(self) -> dict:
        """Keywords every kind's multi-step function takes."""
        return dict(return_membrane=self.record, backend=self.backend,
                    check_finite=self.check_finite)

    def _init_beta(
        self,
        beta: float | None,
        tau_mem: float | None,
        dt: float,
        learn_tau: bool,
        per_neuron: bool,
    ) -> None:
        self.dt = check_positive("dt", dt)
        if beta is not None and tau_mem is not None:
            raise ValueError(f"give beta or tau_mem, not both (got beta={beta!r}, tau_mem={tau_mem!r})")
        if beta is None:
            beta = 0.9 if tau_mem is None else beta_from_tau(tau_mem, self.dt)
        check_unit_interval("beta", beta)
        self.learn_tau = bool(learn_tau)
        if per_neuron and self.shape is None:
            raise ValueError("per_neuron=True needs the neuron shape: pass shape=(...)")
        if per_neuron and not learn_tau:
            raise ValueError("per_neuron=True only applies with learn_tau=True")
        if self.learn_tau:
            b = float(beta)
            if not 0.0 < b < 1.0:
                raise ValueError(f"beta must be in (0, 1) open with learn_tau=True, got {beta!r}")
            w0 = math.log(b / (1.0 - b))  # inverse sigmoid, so that beta starts where asked
            size = self.shape if per_neuron else ()
            self.w = nn.Parameter(torch.full(size, w0))
        else:
            self._beta = float(beta)

    @property
    def beta(self) -> float | torch.Tensor:
        """Current membrane decay per step (a tensor when learnable)."""
        return torch.sigmoid(self.w) if self.learn_tau else self._beta

    @property
    def tau_mem(self) -> float | torch.Tensor:
        """Membrane time constant in ms, ``-dt / log(beta)``."""
        b = self.beta
        if isinstance(b, torch.Tensor):
            return -self.dt / torch.log(b)
        return math.inf if b == 1.0 else (-self.dt / math.log(b) if b > 0 else 0.0)

    def forward(self, x_seq: torch.Tensor, state: NamedTuple | None = None) -> tuple[torch.Tensor, NamedTuple]:
        """``(spikes, state)`` of the kind's multi-step function ``_run`` (its state type)."""
        _check_input_shape(x_seq, self.shape)
        return self._finish(type(self)._run(x_seq, state, self.params(), **self._run_kw()))

    def _finish(self, out):
        if self.record:
            spikes, state, mem = out
            self.last_membrane = mem.detach()
            return spikes, state
        return out


class LIF(_NeuronModule):
    """LIF layer: ``h_t = beta v_{t-1} + x_t``, spike when ``h_t >= threshold``, then reset.

    Give ``beta`` or ``tau_mem`` (ms, with ``dt`` ms; ``beta = exp(-dt/tau_mem)``); the
    default is ``beta = 0.9``. ``shape`` is the neuron shape without time and batch; when
    given, inputs are checked against it.
    """

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        beta: float | None = None,
        tau_mem: float | None = None,
        dt: float = 1.0,
        threshold: float = 1.0,
        reset: str = "soft",
        v_reset: float = 0.0,
        refractory_steps: int = 0,
        surrogate: str | Surrogate = "atan",
        alpha: float | None = None,
        detach_reset: bool = False,
        learn_tau: bool = False,
        per_neuron: bool = False,
        record: bool = False,
        backend: str = "auto",
        check_finite: bool = True,
        overwrite_input: bool = False,
    ) -> None:
        super().__init__(shape, surrogate, alpha, record, backend, check_finite)
        self.overwrite_input = bool(overwrite_input)
        self._init_beta(beta, tau_mem, dt, learn_tau, per_neuron)
        self._init_membrane(threshold, reset, v_reset, refractory_steps, detach_reset)
        check_lif_params(self.params())  # fail at construction, not at the first batch

    _run = staticmethod(lif)

    def _run_kw(self) -> dict:
        return {**super()._run_kw(), "overwrite_input": self.overwrite_input}

    def params(self) -> LIFParams:
        """The ``LIFParams`` the next forward uses (beta a tensor when learnable)."""
        return self._lif_params()

    def extra_repr(self) -> str:
        beta = "learned" if self.learn_tau else f"{self._beta:.4g}"
        return (
            f"shape={self.shape}, beta={beta}, threshold={self.threshold}, reset={self.reset!r}, "
            f"refractory_steps={self.refractory_steps}, surrogate={self.surrogate}"
        )


class IF(LIF):
    """Integrate-and-fire layer: LIF with ``beta = 1`` (no leak)."""

    @takes_options_of(LIF.__init__, drop=("beta", "tau_mem", "dt", "learn_tau", "per_neuron"))
    def __init__(self, shape: int | Sequence[int] | None = None, **lif_options) -> None:
        super().__init__(shape, beta=1.0, **lif_options)


class AdaptiveLIF(_NeuronModule):
    """LIF with an adaptive threshold ``threshold + theta`` (Diehl & Cook 2015).

    ``theta`` rises by ``theta_plus`` per spike and decays with ``tau_theta`` ms (default
    1e7 ms as in Diehl & Cook: practically no decay). Pass the returned state back to keep
    ``theta`` across samples (homeostasis spans the whole training run).
    ``theta_decays_first`` selects the order of decay and threshold test
    (:mod:`snnbench.neurons.adaptive`). Runs the fused ``"alif"`` kernel unless
    ``refractory_steps``, ``record`` or ``theta_decays_first`` need the reference loop.
    """

    @takes_options_of(LIF.__init__, drop=("overwrite_input",), after="shape")
    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        theta_plus: float = 0.05,
        tau_theta: float = 1e7,
        theta_decays_first: bool = False,
        **lif_options,
    ) -> None:
        self._init_lif(shape, lif_options)
        self.theta_plus = theta_plus
        self.tau_theta = check_positive("tau_theta", tau_theta)
        self.theta_decays_first = theta_decays_first
        check_alif_params(self.params())

    _run = staticmethod(alif)

    def params(self) -> ALIFParams:
        """The ``ALIFParams`` the next forward uses."""
        return ALIFParams(
            beta=self.beta, threshold=self.threshold, theta_plus=self.theta_plus,
            theta_decay=theta_decay_from_tau(self.tau_theta, self.dt), reset=self.reset,
            v_reset=self.v_reset, refractory_steps=self.refractory_steps,
            surrogate=self.surrogate, detach_reset=self.detach_reset,
            theta_decays_first=self.theta_decays_first,
        )

    def extra_repr(self) -> str:
        beta = "learned" if self.learn_tau else f"{self._beta:.4g}"
        return (
            f"shape={self.shape}, beta={beta}, threshold={self.threshold}, "
            f"theta_plus={self.theta_plus}, tau_theta={self.tau_theta}, reset={self.reset!r}, "
            f"refractory_steps={self.refractory_steps}, surrogate={self.surrogate}"
        )


class Izhikevich(_NeuronModule):
    """Izhikevich 2003 layer driven by an input current (paper units); one step = ``dt`` ms.

    Pick a ``preset`` (``"regular_spiking"``, ``"fast_spiking"``, ``"chattering"`` /
    ``"bursting"``, ``"intrinsically_bursting"``, ...) or give all of ``a, b, c, d``.
    ``last_membrane`` (with ``record=True``) is ``v`` in mV, drawn at ``v_peak`` on spikes.
    """

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        preset: str = "regular_spiking",
        a: float | None = None,
        b: float | None = None,
        c: float | None = None,
        d: float | None = None,
        dt: float = 1.0,
        substeps: int = 2,
        v_peak: float = 30.0,
        v_scale: float = 10.0,
        scheme: str = "euler",
        surrogate: str | Surrogate = "atan",
        alpha: float | None = None,
        record: bool = False,
        check_finite: bool = True,
    ) -> None:
        super().__init__(shape, surrogate, alpha, record, check_finite=check_finite)
        given = [v is not None for v in (a, b, c, d)]
        if any(given) and not all(given):
            raise ValueError(f"give all of a, b, c, d or none of them, got a={a}, b={b}, c={c}, d={d}")
        if all(given):
            p = IzhikevichParams(a, b, c, d, dt, substeps, v_peak, v_scale, self.surrogate, scheme)
            self.preset = None
        else:
            p = izhikevich_preset(
                preset, dt=dt, substeps=substeps, v_peak=v_peak, v_scale=v_scale,
                surrogate=self.surrogate, scheme=scheme,
            )
            self.preset = preset
        self.p = check_izhikevich_params(p)

    def params(self) -> IzhikevichParams:
        return self.p

    def forward(
        self, x_seq: torch.Tensor, state: IzhikevichState | None = None
    ) -> tuple[torch.Tensor, IzhikevichState]:
        _check_input_shape(x_seq, self.shape)
        return self._finish(izhikevich(x_seq, state, self.p, return_membrane=self.record,
                                       check_finite=self.check_finite))

    def extra_repr(self) -> str:
        name = self.preset or "custom"
        return f"shape={self.shape}, preset={name!r}, a={self.p.a}, b={self.p.b}, c={self.p.c}, d={self.p.d}, dt={self.p.dt}"


class CubaLIF(_NeuronModule):
    """Current-based LIF layer (:mod:`snnbench.neurons.cuba`): a synaptic current decaying
    with ``tau_syn`` feeds a LIF membrane decaying with ``tau_mem`` (ms, step ``dt`` ms).

    Give ``alpha``/``tau_syn`` and ``beta``/``tau_mem`` (defaults: ``alpha = 0.8``,
    ``beta = 0.9``); ``learn_decays=True`` makes both per-layer learnable decays stored as
    ``sigmoid(w)`` (one per neuron with ``per_neuron=True``). Returns
    ``(spikes, CubaLIFState(i, v))``.
    """

    @takes_options_of(LIF.__init__, drop=("refractory_steps", "learn_tau", "overwrite_input"),
                      after="tau_syn")
    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        alpha: float | None = None,
        tau_syn: float | None = None,
        slope: float | None = None,
        learn_decays: bool = False,
        **lif_options,
    ) -> None:
        o = lif_options  # alpha is the synaptic decay here, slope the surrogate's
        super().__init__(shape, o["surrogate"], slope, o["record"], o["backend"], o["check_finite"])
        self.dt = dt = check_positive("dt", o["dt"])
        a = _decay(alpha, tau_syn, dt, 0.8, "alpha", "tau_syn")
        b = _decay(o["beta"], o["tau_mem"], dt, 0.9, "beta", "tau_mem")
        per_neuron = o["per_neuron"]
        self._init_membrane(o["threshold"], o["reset"], o["v_reset"], 0, o["detach_reset"])
        if per_neuron and (self.shape is None or not learn_decays):
            raise ValueError("per_neuron=True needs learn_decays=True and the neuron shape")
        self.learn_decays = bool(learn_decays)
        if self.learn_decays:
            size = self.shape if per_neuron else ()
            for name, d in (("alpha", a), ("beta", b)):
                if not 0.0 < d < 1.0:
                    raise ValueError(f"{name} must be in (0, 1) open with learn_decays=True, got {d!r}")
            self.w = nn.Parameter(torch.tensor([math.log(a / (1 - a)), math.log(b / (1 - b))])
                                  .view(2, *([1] * len(size))).repeat(1, *size))
        else:
            self._decays = (a, b)
        check_cuba_params(self.params())

    _run = staticmethod(cuba_lif)

    def params(self) -> CubaLIFParams:
        """The ``CubaLIFParams`` the next forward uses (decays tensors when learnable)."""
        a, b = torch.sigmoid(self.w).unbind(0) if self.learn_decays else self._decays
        return CubaLIFParams(alpha=a, beta=b, threshold=self.threshold, reset=self.reset,
                             v_reset=self.v_reset, surrogate=self.surrogate,
                             detach_reset=self.detach_reset)

    def extra_repr(self) -> str:
        decays = "learned" if self.learn_decays else f"alpha={self._decays[0]:.4g}, beta={self._decays[1]:.4g}"
        return f"shape={self.shape}, {decays}, threshold={self.threshold}, reset={self.reset!r}"


def _decay(value, tau, dt, default, name, tau_name) -> float:
    """A decay per step from itself or its time constant (one of the two, or the default)."""
    if value is not None and tau is not None:
        raise ValueError(f"give {name} or {tau_name}, not both (got {value!r}, {tau!r})")
    d = default if value is None and tau is None else (
        value if tau is None else decay_from_tau(tau, dt, name=tau_name))
    check_unit_interval(name, d)
    return float(d)


__all__ = ["LIF", "IF", "AdaptiveLIF", "Izhikevich", "CubaLIF"]
