"""How every neuron kind runs a sequence: the reference loop (its autograd step applied
over time) or one registered kernel of a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

from .._validation import check_tensor
from . import kernels
from ._checks import as_tensor, check_broadcast, check_seq


def scan(step: Callable, xs: Sequence[torch.Tensor], state, return_membrane: bool):
    """Apply ``step(x_t, state) -> (s_t, membrane_t, state)`` over ``xs`` (the steps of an
    input, from ``x_seq.unbind(0)``: indexing ``x_seq[t]`` of a tensor that requires grad
    makes backward O(T^2)). Returns ``(spikes [T, ...], state)``, or ``(spikes, state,
    membrane [T, ...])`` with ``return_membrane``."""
    spikes, mems = [], []
    for x in xs:
        s, m, state = step(x, state)
        spikes.append(s)
        if return_membrane:
            mems.append(m)
    out = torch.stack(spikes)
    return (out, state, torch.stack(mems)) if return_membrane else (out, state)


def run_fused(kind: str, x_seq: torch.Tensor, states: tuple, decays: dict, p, backend: str,
              extra: tuple[float, ...] = (), overwrite_input: bool = False):
    """Run ``x_seq`` through the ``kind`` kernel of ``backend``: ``decays`` (name -> a
    number or a per-neuron tensor, each checked to broadcast to the neuron shape) are the
    kernel's parameters, ``p`` gives threshold, reset, ``detach_reset`` and surrogate.
    Returns the kernel's ``(spikes, *final_states)``; ``overwrite_input`` as in
    :func:`snnbench.neurons.kernels.run`."""
    params = []
    for name, value in decays.items():
        t = as_tensor(value, x_seq)
        check_broadcast(name, t, x_seq.shape[1:])
        params.append(t)
    c = kernels.Consts(float(p.threshold), float(p.v_reset), kernels.RESET_CODE[p.reset],
                       bool(p.detach_reset), p.surrogate, extra)
    return kernels.run(kind, kernels.resolve(x_seq, backend, kind), x_seq, states, tuple(params), c,
                       overwrite_input)


class Kind(NamedTuple):
    """What :func:`run_kind` and :func:`step_kind` need of a neuron kind.

    ``default()`` gives the parameters used when ``p`` is None; ``check(p)`` validates
    them (and returns them); ``prepare(state, x, p)`` turns ``state`` (or None: rest) into
    the kind's state shaped like one step ``x``; ``core(x, state, p) -> (s, h, state)``
    is the reference step; ``kernel(x_seq, state, p, backend, overwrite_input) -> (spikes,
    state)`` runs the whole sequence in a registered kernel, when ``fits_kernel(p)`` (None:
    no kernel; ``overwrite_input`` as in :func:`snnbench.neurons.kernels.run`). ``rest(x)``, when given, is the kernel's resting state as
    broadcast zeros (no ``[B, ...]`` buffers for a state the kernel reads as one value).
    """

    default: Callable[[], Any]
    check: Callable[[Any], Any]
    prepare: Callable[[Any, torch.Tensor, Any], Any]
    core: Callable
    kernel: Callable | None = None
    fits_kernel: Callable[[Any], bool] = lambda p: True
    rest: Callable[[torch.Tensor], Any] | None = None


def step_kind(kind: Kind, x: torch.Tensor, state, p, validate: bool, name: str = "x"):
    """One step of ``kind``: ``(spikes, new_state)``; ``validate=False`` skips the checks."""
    if validate:
        check_tensor(name, x, min_ndim=1)
        kind.check(p)
    s, _, new = kind.core(x, kind.prepare(state, x, p), p)
    return s, new


def run_kind(kind: Kind, x_seq: torch.Tensor, state, p, return_membrane: bool, fused: bool,
             backend: str, check_finite: bool, overwrite_input: bool = False):
    """The multi-step function of every kind (``lif``, ``alif``, ``cuba_lif``,
    ``izhikevich``): validate once, then the kind's kernel when the call fits it (no
    membrane trace asked for), else the reference step in :func:`scan`."""
    check_seq(x_seq, finite=check_finite)
    p = kind.default() if p is None else kind.check(p)
    if fused and not return_membrane and kind.kernel is not None and kind.fits_kernel(p):
        x0 = x_seq.detach()[0]
        st = kind.rest(x0) if state is None and kind.rest is not None else kind.prepare(state, x0, p)
        return kind.kernel(x_seq, st, p, backend, overwrite_input)
    xs = x_seq.unbind(0)
    return scan(lambda x, st: kind.core(x, st, p), xs, kind.prepare(state, xs[0], p),
                return_membrane)
