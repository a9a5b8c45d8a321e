r"""Online STDP on spike events, compiled with numba: the fast backend of the rules of
:mod:`snnbench.learning.stdp` for simulations that present one sample at a time.

The equations are those of :mod:`snnbench.learning.stdp` (``RULE_CODES`` numbers its
``rule`` names); only the work differs: a pre spike of input ``i`` updates row ``W[i, :]``
on the post neurons whose trace can be nonzero, a post spike of neuron ``j`` updates column
``W[:, j]`` on the inputs whose trace can be nonzero, so a presentation costs the spikes
that happen. Weights are ``[n_inputs, n_neurons]`` here (C order: a pre spike reads one
contiguous row), the transpose of ``nn.Linear``'s ``[out, in]``. Every update is clipped to
``[wmin, wmax]``::

    pre spike i:   W[i, j] -= nu_pre  * x_post[j] * f_minus(W[i, j])    (hebbian: +=)
    post spike j:  W[i, j] += nu      * x_pre[i]  * f_plus(W[i, j])

``f = 1`` (additive, ``rule 0`` and ``hebbian`` 2) or the soft bounds ``f_minus = w - wmin``,
``f_plus = wmax - w`` (multiplicative, ``weight_dependent`` 1). ``nu`` is ``nu_post``, or for
the triplet form ``nu_post * x_post2`` with the slow post trace read before the spike.
Traces jump by :func:`spike_trace` (set to 1: nearest spike; add 1: all-to-all).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "RULE_CODES",
    "spike_trace",
    "depress_on_pre",
    "potentiate_on_post",
    "normalize_all",
    "normalize_columns",
]

RULE_CODES = {"stdp": 0, "weight_dependent": 1, "hebbian": 2}


@njit(cache=True, inline="always")
def spike_trace(x, all_to_all):
    """A trace's value after a spike: ``x + 1`` (all-to-all) or ``1`` (nearest spike)."""
    return x + 1.0 if all_to_all else 1.0


@njit(cache=True, inline="always")
def _update_on_spike(W, fixed, others, n_others, trace, nu, rule, wmin, wmax, pre):
    """``W[fixed, o]`` (``pre``: a pre spike of input ``fixed``, depression) or ``W[o, fixed]``
    (a post spike of neuron ``fixed``, potentiation) for ``o`` in ``others[:n_others]``:
    ``nu * trace[o]`` times the rule's bound, clipped to ``[wmin, wmax]``. ``pre`` is a
    constant at each inlined call, so the compiled loops are those of two separate helpers."""
    for k in range(n_others):
        o = others[k]
        i, j = (fixed, o) if pre else (o, fixed)
        w = W[i, j]
        if pre:
            if rule == 0:
                w -= nu * trace[o]
            elif rule == 1:
                w -= nu * trace[o] * (w - wmin)
            else:
                w += nu * trace[o]
        elif rule == 1:
            w += nu * trace[o] * (wmax - w)
        else:
            w += nu * trace[o]
        W[i, j] = min(max(w, wmin), wmax)


@njit(cache=True, inline="always")
def depress_on_pre(W, i, posts, n_posts, x_post, nu_pre, rule, wmin, wmax):
    """Pre spike of input ``i``: update ``W[i, j]`` for ``j`` in ``posts[:n_posts]``."""
    _update_on_spike(W, i, posts, n_posts, x_post, nu_pre, rule, wmin, wmax, True)


@njit(cache=True, inline="always")
def potentiate_on_post(W, j, pres, n_pres, x_pre, nu, rule, wmin, wmax):
    """Post spike of neuron ``j``: update ``W[i, j]`` for ``i`` in ``pres[:n_pres]``."""
    _update_on_spike(W, j, pres, n_pres, x_pre, nu, rule, wmin, wmax, False)


@njit(cache=True)
def normalize_all(W, norm):
    """Rescale every column (a neuron's incoming weights) to sum to ``norm``; columns
    summing to zero are left alone. The event form of
    :func:`snnbench.learning.stdp.normalize_weights`."""
    n_in, N = W.shape
    s = np.zeros(N)
    for i in range(n_in):
        for j in range(N):
            s[j] += W[i, j]
    for j in range(N):
        s[j] = norm / s[j] if s[j] > 0 else 1.0
    for i in range(n_in):
        for j in range(N):
            W[i, j] *= s[j]


@njit(cache=True)
def normalize_columns(W, norm, cols, n_cols):
    """Rescale only the listed columns: plasticity touches only neurons that fired (their
    post trace is the only nonzero one), so every other column is still normalised."""
    n_in = W.shape[0]
    for k in range(n_cols):
        j = cols[k]
        s = 0.0
        for i in range(n_in):
            s += W[i, j]
        if s > 0:
            f = norm / s
            for i in range(n_in):
                W[i, j] *= f
