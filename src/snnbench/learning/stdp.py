r"""STDP-family learning rules, written once in terms of pre/post traces and spikes.

Traces (``dt`` and ``tau`` in ms) decay exponentially and jump on a spike::

    x_t = x_{t-1} * exp(-dt / tau) + s_t         trace_mode="add"
    x_t = 1 if s_t else x_{t-1} * exp(-dt / tau) trace_mode="set"   (nearest-spike)

One step of every rule uses the traces *after* this step's spikes were added, so a pair
pre at ``t0`` / post at ``t0 + d`` (d > 0) gives ``+nu_post * exp(-d / tau_pre)`` and the
reverse order ``-nu_pre * exp(-d / tau_post)``; a simultaneous pair gives both terms.
For a linear connection with weight ``W`` [out, in] (batch summed)::

    pot = nu_post * s_post^T x_pre        (potentiation on post spikes)
    dep = nu_pre  * x_post^T s_pre        (depression on pre spikes)
    rule="stdp":              dW = pot - dep
    rule="weight_dependent":  dW = pot * (wmax - W) - dep * (W - wmin)   (soft bounds)
    rule="hebbian":           dW = pot + dep                             (never depresses)

Triplet potentiation (``tau_post2`` set; the form of Diehl & Cook's published code): each
post spike's potentiation is scaled by a second, slower post trace ``x_post2`` read just
before that spike, ``pot = nu_post * (s_post * x_post2_before)^T x_pre``, so a neuron's
first spike after a silence barely potentiates.

A rule is any object with ``check()``, ``init_state(pre_spikes, post_spikes, dtype)``,
``step(weight, pre_spikes, post_spikes, state, conv) -> (dW, state)`` and ``wmin``/``wmax``
(:class:`Rule`); :class:`STDPParams` is one. :func:`stdp_sequence` and :class:`STDP` run
any rule, so a new one (e.g. reward-modulated STDP: an eligibility trace in the state, dW
= reward x eligibility) is a new class and nothing else changes. The online event backend
of the same equations is :mod:`snnbench.learning.stdp_online`.

Convolutions use the same equations on unfolded patches (``F.unfold``): every output
position is a post neuron sharing the kernel, so the update is summed over positions.
An update can be applied in place (online STDP, clipped to ``[wmin, wmax]``) or written
into ``.grad`` (as ``-dW``) so that any torch optimizer applies it (SGD with lr 1 applies
exactly ``dW``). Supervised STDP replaces the post spikes by a teacher signal in which the
neuron of the label is forced to fire.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive, check_tensor

__all__ = [
    "RULES",
    "Rule",
    "STDPParams",
    "STDPState",
    "check_stdp_params",
    "trace_step",
    "trace_sequence",
    "stdp_delta",
    "stdp_delta_conv",
    "stdp_step",
    "stdp_sequence",
    "apply_update",
    "clamp_weights",
    "normalize_weights",
    "teacher_spikes",
    "teacher_force",
    "STDP",
]

RULES = ("stdp", "weight_dependent", "hebbian")
TRACE_MODES = ("add", "set")


class STDPParams(NamedTuple):
    """Rule parameters. ``nu_pre`` (A-) scales depression on pre spikes, ``nu_post`` (A+)
    potentiation on post spikes; taus and ``dt`` in ms; weights kept in ``[wmin, wmax]``."""

    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20.0
    tau_post: float = 20.0
    dt: float = 1.0
    wmin: float = 0.0
    wmax: float = 1.0
    rule: str = "stdp"
    trace_mode: str = "add"
    tau_post2: float | None = None  # ms; set = triplet potentiation (see the module doc)

    def check(self) -> STDPParams:
        return check_stdp_params(self)

    def init_state(self, pre_spikes: torch.Tensor, post_spikes: torch.Tensor, dtype: torch.dtype) -> STDPState:
        return STDPState(torch.zeros_like(pre_spikes, dtype=dtype), torch.zeros_like(post_spikes, dtype=dtype),
                         torch.zeros_like(post_spikes, dtype=dtype) if self.tau_post2 is not None else None)

    def step(self, weight: torch.Tensor, pre_spikes: torch.Tensor, post_spikes: torch.Tensor,
             state: STDPState | None, conv: dict | None = None) -> tuple[torch.Tensor, STDPState]:
        return stdp_step(weight, pre_spikes, post_spikes, state, self, conv)


class STDPState(NamedTuple):
    """Pre traces (shaped like the pre spikes), post traces (like the post spikes) and,
    for triplet rules, the slow post traces."""

    pre: torch.Tensor
    post: torch.Tensor
    post2: torch.Tensor | None = None


class Rule(Protocol):
    """What :func:`stdp_sequence` and :class:`STDP` need of a plasticity rule."""

    wmin: float
    wmax: float

    def check(self) -> Any: ...

    def init_state(self, pre_spikes: torch.Tensor, post_spikes: torch.Tensor, dtype: torch.dtype) -> Any: ...

    def step(self, weight: torch.Tensor, pre_spikes: torch.Tensor, post_spikes: torch.Tensor,
             state: Any, conv: dict | None = None) -> tuple[torch.Tensor, Any]: ...


def check_stdp_params(p: STDPParams) -> STDPParams:
    """Validate every field; raises ValueError naming the field, value and allowed range."""
    check_positive("nu_pre", p.nu_pre, allow_zero=True)
    check_positive("nu_post", p.nu_post, allow_zero=True)
    check_positive("tau_pre", p.tau_pre)
    check_positive("tau_post", p.tau_post)
    check_positive("dt", p.dt)
    for name in ("wmin", "wmax"):
        v = float(getattr(p, name))
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if not p.wmin < p.wmax:
        raise ValueError(
            f"wmin must be < wmax (weight bounds inverted or empty), got wmin={p.wmin}, wmax={p.wmax}"
        )
    check_choice("rule", p.rule, RULES)
    check_choice("trace_mode", p.trace_mode, TRACE_MODES)
    if p.tau_post2 is not None:
        check_positive("tau_post2", p.tau_post2)
    return p


def trace_step(
    trace: torch.Tensor, spikes: torch.Tensor, tau: float, dt: float = 1.0, mode: str = "add"
) -> torch.Tensor:
    """One step of an exponential trace: decay by ``exp(-dt/tau)``, then add (or set to 1 at) spikes."""
    decay = math.exp(-check_positive("dt", dt) / check_positive("tau", tau))
    check_choice("mode", mode, TRACE_MODES)
    decayed = trace * decay
    if mode == "add":
        return decayed + spikes
    return torch.where(spikes > 0, torch.ones_like(decayed), decayed)


def trace_sequence(
    spikes_seq: torch.Tensor,
    tau: float,
    dt: float = 1.0,
    mode: str = "add",
    trace: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Traces of a ``[T, ...]`` spike train: returns (traces ``[T, ...]``, last trace)."""
    check_tensor("spikes_seq", spikes_seq, min_ndim=1)
    x = torch.zeros_like(spikes_seq[0]) if trace is None else trace
    out = []
    for s in spikes_seq.unbind(0):
        x = trace_step(x, s, tau, dt, mode)
        out.append(x)
    return torch.stack(out), x


def _combine(pot: torch.Tensor, dep: torch.Tensor, weight: torch.Tensor, p: STDPParams) -> torch.Tensor:
    if p.rule == "stdp":
        return pot - dep
    if p.rule == "weight_dependent":
        return pot * (p.wmax - weight) - dep * (weight - p.wmin)
    return pot + dep


def _as_batch(name: str, x: torch.Tensor, ndim: int) -> torch.Tensor:
    check_tensor(name, x, ndim=(ndim - 1, ndim))
    return x.unsqueeze(0) if x.ndim == ndim - 1 else x


def _batched_step_inputs(weight, ndim, pre_spikes, post_spikes, pre_trace, post_trace, post_gate):
    """Check ``weight`` has ``ndim`` dims and give spikes, traces and gate a batch dim:
    ``(s_pre, s_post, x_pre, x_post, gate or None)``."""
    check_tensor("weight", weight, ndim=ndim)
    named = (("pre_spikes", pre_spikes), ("post_spikes", post_spikes),
             ("pre_trace", pre_trace), ("post_trace", post_trace))
    out = [_as_batch(name, x, ndim) for name, x in named]
    gate = None if post_gate is None else _as_batch("post_gate", post_gate, ndim)
    return (*out, gate)


def stdp_delta(
    weight: torch.Tensor,
    pre_spikes: torch.Tensor,
    post_spikes: torch.Tensor,
    pre_trace: torch.Tensor,
    post_trace: torch.Tensor,
    p: STDPParams,
    post_gate: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weight change of a linear connection ``W`` [out, in] for one step (batch summed).

    Spikes and traces are ``[B, in]`` / ``[B, out]`` (or unbatched ``[in]`` / ``[out]``);
    traces must already include this step's spikes (see :func:`trace_step`). ``post_gate``
    (shaped like the post spikes) scales each post spike's potentiation (triplet rules).
    """
    s_pre, s_post, x_pre, x_post, gate = _batched_step_inputs(
        weight, 2, pre_spikes, post_spikes, pre_trace, post_trace, post_gate)
    n_out, n_in = weight.shape
    if s_pre.shape[-1] != n_in or x_pre.shape[-1] != n_in:
        raise ValueError(
            f"pre_spikes and pre_trace must have {n_in} features (weight is [out, in] = "
            f"{tuple(weight.shape)}), got {tuple(s_pre.shape)} and {tuple(x_pre.shape)}"
        )
    if s_post.shape[-1] != n_out or x_post.shape[-1] != n_out:
        raise ValueError(
            f"post_spikes and post_trace must have {n_out} features (weight is [out, in] = "
            f"{tuple(weight.shape)}), got {tuple(s_post.shape)} and {tuple(x_post.shape)}"
        )
    dt_ = weight.dtype
    if gate is not None:
        s_post = s_post * gate
    pot = p.nu_post * (s_post.to(dt_).T @ x_pre.to(dt_))
    dep = p.nu_pre * (x_post.to(dt_).T @ s_pre.to(dt_))
    return _combine(pot, dep, weight, p)


@takes_options_of(stdp_delta, drop=("post_gate",), positional=True)  # the same step inputs
def stdp_delta_conv(
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    post_gate: torch.Tensor | None = None,
    **step: torch.Tensor | STDPParams,
) -> torch.Tensor:
    """Weight change of a Conv2d kernel ``W`` [C_out, C_in, kh, kw] for one step.

    Pre spikes/traces ``[B, C_in, H, W]``, post ``[B, C_out, H_out, W_out]``. Each output
    position is a post neuron; patches come from ``F.unfold`` with the conv's geometry, so
    the linear rule applies unchanged and the shared kernel sums over positions.
    """
    weight, pre_spikes, post_spikes, pre_trace, post_trace, p = (
        step[k] for k in ("weight", "pre_spikes", "post_spikes", "pre_trace", "post_trace", "p"))
    s_pre, s_post, x_pre, x_post, gate = _batched_step_inputs(
        weight, 4, pre_spikes, post_spikes, pre_trace, post_trace, post_gate)
    c_out, c_in, kh, kw = weight.shape
    if gate is not None:
        s_post = s_post * gate
    if s_pre.shape[1] != c_in or s_post.shape[1] != c_out:
        raise ValueError(
            f"pre_spikes must have {c_in} channels and post_spikes {c_out} (weight "
            f"{tuple(weight.shape)}), got {tuple(s_pre.shape)} and {tuple(s_post.shape)}"
        )
    geo = dict(kernel_size=(kh, kw), dilation=dilation, padding=padding, stride=stride)
    dt_ = weight.dtype
    u_spk = F.unfold(s_pre.to(dt_), **geo)  # [B, C_in*kh*kw, L]
    u_tr = F.unfold(x_pre.to(dt_), **geo)
    L = u_spk.shape[-1]
    if s_post.shape[2] * s_post.shape[3] != L:
        raise ValueError(
            f"post_spikes spatial size {tuple(s_post.shape[2:])} does not match the conv "
            f"output for this input and geometry ({L} positions)"
        )
    po_s = s_post.reshape(s_post.shape[0], c_out, L).to(dt_)
    po_x = x_post.reshape(x_post.shape[0], c_out, L).to(dt_)
    pot = p.nu_post * torch.einsum("bol,bkl->ok", po_s, u_tr).reshape(weight.shape)
    dep = p.nu_pre * torch.einsum("bol,bkl->ok", po_x, u_spk).reshape(weight.shape)
    return _combine(pot, dep, weight, p)


def _delta(weight, s_pre, s_post, x_pre, x_post, p, conv, gate=None):
    if conv is None:
        return stdp_delta(weight, s_pre, s_post, x_pre, x_post, p, gate)
    return stdp_delta_conv(weight, s_pre, s_post, x_pre, x_post, p, **conv, post_gate=gate)


def stdp_step(
    weight: torch.Tensor,
    pre_spikes: torch.Tensor,
    post_spikes: torch.Tensor,
    state: STDPState | None,
    p: STDPParams,
    conv: dict | None = None,
) -> tuple[torch.Tensor, STDPState]:
    """Advance the traces by one step and return ``(dW, new_state)``.

    ``conv`` (``dict(stride=, padding=, dilation=)``) selects the convolutional form.
    """
    if state is None:
        state = p.init_state(pre_spikes, post_spikes, weight.dtype)
    s_post = post_spikes.to(weight.dtype)
    x_pre = trace_step(state.pre, pre_spikes.to(weight.dtype), p.tau_pre, p.dt, p.trace_mode)
    x_post = trace_step(state.post, s_post, p.tau_post, p.dt, p.trace_mode)
    gate, x_post2 = None, None
    if p.tau_post2 is not None:  # triplet: the slow trace just before this step's spikes
        post2 = torch.zeros_like(s_post) if state.post2 is None else state.post2
        gate = post2 * math.exp(-p.dt / p.tau_post2)
        x_post2 = trace_step(post2, s_post, p.tau_post2, p.dt, p.trace_mode)
    dw = _delta(weight, pre_spikes, post_spikes, x_pre, x_post, p, conv, gate)
    return dw, STDPState(x_pre, x_post, x_post2)


def clamp_weights(weight: torch.Tensor, p: STDPParams) -> torch.Tensor:
    """Clip to ``[wmin, wmax]`` in place (call after an optimizer step in ``grad`` mode)."""
    with torch.no_grad():
        weight.clamp_(p.wmin, p.wmax)
    return weight


def apply_update(
    weight: torch.Tensor, dw: torch.Tensor, p: STDPParams, mode: str = "inplace"
) -> torch.Tensor:
    """Apply ``dW``: ``"inplace"`` adds and clips; ``"grad"`` accumulates ``-dW`` into ``.grad``."""
    check_choice("mode", mode, ("inplace", "grad"))
    if dw.shape != weight.shape:
        raise ValueError(f"dw must have the weight's shape {tuple(weight.shape)}, got {tuple(dw.shape)}")
    if mode == "inplace":
        with torch.no_grad():
            weight.add_(dw).clamp_(p.wmin, p.wmax)
    else:
        # Gradient descent moves against .grad, so storing -dW makes an optimizer step +dW.
        g = (-dw).detach().to(weight.dtype)
        weight.grad = g if weight.grad is None else weight.grad + g
    return weight


def stdp_sequence(
    weight: torch.Tensor,
    pre_seq: torch.Tensor,
    post_seq: torch.Tensor,
    p: Rule,
    state: Any = None,
    *,
    online: bool = True,
    conv: dict | None = None,
) -> tuple[torch.Tensor, Any]:
    """Run a rule (e.g. :class:`STDPParams`) over ``[T, B, ...]`` spike trains.

    ``online=True`` applies and clips every step's update in place (the published rule)
    and returns the total change; ``online=False`` leaves ``weight`` untouched and returns
    the summed updates computed against the initial weight.
    """
    check_tensor("pre_seq", pre_seq, min_ndim=2)
    check_tensor("post_seq", post_seq, min_ndim=2)
    if pre_seq.shape[0] != post_seq.shape[0]:
        raise ValueError(
            f"pre_seq and post_seq must have the same number of steps, got {pre_seq.shape[0]} and {post_seq.shape[0]}"
        )
    p.check()
    w0 = weight.detach().clone()
    total = torch.zeros_like(w0)
    with torch.no_grad():  # a learning rule, not a differentiable op: keep no graph
        for s_pre, s_post in zip(pre_seq.unbind(0), post_seq.unbind(0)):
            dw, state = p.step(weight.detach() if online else w0, s_pre, s_post, state, conv)
            if online:
                apply_update(weight, dw, p, "inplace")
            else:
                total += dw
    if online:
        total = weight.detach() - w0
    return total, state


def normalize_weights(weight: torch.Tensor, target: float) -> torch.Tensor:
    """Rescale each output neuron's incoming weights (all dims but 0) to sum to ``target``.

    In place; neurons whose weights sum to zero are left alone (nothing to rescale).
    Diehl & Cook keep 78 (0.1 per input) for 784 inputs.
    """
    check_positive("target", target)
    check_tensor("weight", weight, min_ndim=2)
    with torch.no_grad():
        s = weight.reshape(weight.shape[0], -1).sum(1)
        f = torch.where(s > 0, target / torch.where(s > 0, s, torch.ones_like(s)), torch.ones_like(s))
        weight.mul_(f.reshape((-1,) + (1,) * (weight.ndim - 1)))
    return weight


def teacher_spikes(
    labels: torch.Tensor,
    n_out: int,
    num_steps: int,
    *,
    rate_hz: float = 200.0,
    dt: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Teacher train ``[T, B, n_out]``: the label's neuron fires as a Poisson process of
    ``rate_hz`` (per-step probability ``rate_hz * dt / 1000``, capped at 1), others silent."""
    check_int("n_out", n_out)
    check_int("num_steps", num_steps)
    check_positive("rate_hz", rate_hz)
    check_positive("dt", dt)
    labels = torch.as_tensor(labels).long().reshape(-1)
    if labels.numel() and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError(f"labels must be in [0, {n_out - 1}] (n_out={n_out}), got range "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    prob = min(rate_hz * dt / 1000.0, 1.0)
    fire = torch.rand(num_steps, labels.numel(), generator=generator) < prob
    out = torch.zeros(num_steps, labels.numel(), n_out)
    out[:, torch.arange(labels.numel()), labels] = fire.float()
    return out


def teacher_force(post_spikes: torch.Tensor, teacher: torch.Tensor, *, suppress_others: bool = True) -> torch.Tensor:
    """Post spikes seen by supervised STDP: the teacher's spikes, plus the network's own
    spikes of non-label neurons unless ``suppress_others`` (then only the label fires)."""
    if post_spikes.shape != teacher.shape:
        raise ValueError(
            f"teacher must have the shape of post_spikes {tuple(post_spikes.shape)}, got {tuple(teacher.shape)}"
        )
    if suppress_others:
        return teacher.to(post_spikes.dtype)
    return torch.maximum(post_spikes, teacher.to(post_spikes.dtype))


class STDP(nn.Module):
    """Learn the weight of an ``nn.Linear`` or ``nn.Conv2d`` with an STDP-family rule
    (``params``: :class:`STDPParams` or any :class:`Rule`).

    ``forward(pre_seq, post_seq, state=None, teacher=None) -> state`` applies the rule over
    ``[T, B, ...]`` spike trains of that connection's input and output (``teacher``, same
    shape as ``post_seq``, makes it supervised STDP). ``mode="inplace"`` updates every step
    (online); ``mode="grad"`` writes the summed update into ``weight.grad`` for an optimizer.
    ``normalize_to`` rescales each output neuron's weights after the sequence.
    """

    def __init__(
        self,
        connection: nn.Linear | nn.Conv2d,
        params: Rule = STDPParams(),
        *,
        mode: str = "inplace",
        normalize_to: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(connection, (nn.Linear, nn.Conv2d)):
            raise ValueError(f"connection must be nn.Linear or nn.Conv2d, got {type(connection).__name__}")
        self.connection = connection
        self.params = params
        params.check()
        self.mode = check_choice("mode", mode, ("inplace", "grad"))
        self.normalize_to = None if normalize_to is None else check_positive("normalize_to", normalize_to)

    def _conv(self) -> dict | None:
        c = self.connection
        if isinstance(c, nn.Linear):
            return None
        if not isinstance(c.padding, tuple):
            raise ValueError(f"padding must be numeric for STDP, got {c.padding!r}")
        return dict(stride=c.stride, padding=c.padding, dilation=c.dilation)

    def forward(
        self,
        pre_seq: torch.Tensor,
        post_seq: torch.Tensor,
        state: Any = None,
        teacher: torch.Tensor | None = None,
    ) -> Any:
        if teacher is not None:
            post_seq = teacher_force(post_seq, teacher)
        dw, state = stdp_sequence(
            self.connection.weight, pre_seq, post_seq, self.params, state,
            online=self.mode == "inplace", conv=self._conv(),
        )
        if self.mode == "grad":
            apply_update(self.connection.weight, dw, self.params, "grad")
        if self.normalize_to is not None and self.mode == "inplace":
            normalize_weights(self.connection.weight.data, self.normalize_to)
        return state
