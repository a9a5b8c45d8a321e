"""Input spike events of one presentation, compiled with numba (the online STDP path).

An image (intensities in [0, 1], one per input) becomes the list of its input spikes, so a
simulation costs the spikes that happen rather than ``T x n_inputs``. Codes
(``ENCODING_CODES``): ``poisson`` a continuous-time Poisson process per input at
``x * rate_per_step`` spikes per step (exponential intervals, binned: two spikes of one input
in one step are two events); ``bernoulli`` each step independently with probability
``x * p_step`` (sampled by geometric skips); ``rank_order`` one spike per nonzero input at
step ``round((1 - x) (T - 1))``; ``poisson_intervals`` BindsNET's ``poisson`` encoder
(integer intervals ~ Poisson(mean 1 / (x * rate_per_step)), zeros raised to 1).
Events are sorted into CSR form: ``ptr`` [T + 1] and ``idx`` (input of each event).
numba draws from its own per-thread generator, seeded by :func:`seed_numba`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["ENCODING_CODES", "encode_into", "sort_events", "seed_numba", "encode_events"]

ENCODING_CODES = {"poisson": 0, "bernoulli": 1, "rank_order": 2, "poisson_intervals": 3}


@njit(cache=True)
def encode_into(x, n_steps, enc, p_step, rate_per_step, buf_t, buf_i):
    """Input spike events of one presentation, unsorted: (step, pixel) pairs.

    Poisson: a continuous-time Poisson process per pixel (exponential inter-spike intervals,
    binned; two spikes of one pixel in one step appear as two events). Bernoulli: each step
    independently with probability p (sampled by geometric skips, so the cost is per spike,
    not per step). Rank order: one spike per nonzero pixel at step (1 - x) * (T - 1).
    Poisson intervals: BindsNET's ``poisson`` encoder (see below).
    Returns the number of events, or -needed when the buffers are too small.
    """
    n = 0
    cap = buf_t.shape[0]
    for i in range(x.shape[0]):
        xi = x[i]
        if xi <= 0.0:
            continue
        if enc == 2:
            if n < cap:
                buf_t[n] = int((1.0 - min(xi, 1.0)) * (n_steps - 1) + 0.5)
                buf_i[n] = i
            n += 1
        elif enc == 3:
            # BindsNET's poisson(): integer intervals ~ Poisson(mean 1 / lam) steps, zeros
            # raised to 1, the first spike one interval after the start. Far more regular
            # than a Poisson process (interval s.d. sqrt(mean) instead of mean).
            m = 1.0 / (xi * rate_per_step)
            c = 0
            while True:
                k = np.random.poisson(m)
                c += k if k > 0 else 1
                if c > n_steps:
                    break
                if n < cap:
                    buf_t[n] = c - 1
                    buf_i[n] = i
                n += 1
        elif enc == 0:
            lam = xi * rate_per_step  # expected spikes per step
            t = -math.log(1.0 - np.random.random()) / lam
            while t < n_steps:
                if n < cap:
                    buf_t[n] = int(t)
                    buf_i[n] = i
                n += 1
                t += -math.log(1.0 - np.random.random()) / lam
        else:
            p = xi * p_step
            if p >= 1.0:
                for s in range(n_steps):
                    if n < cap:
                        buf_t[n] = s
                        buf_i[n] = i
                    n += 1
            else:
                lq = math.log(1.0 - p)
                s = int(math.log(1.0 - np.random.random()) / lq)
                while s < n_steps:
                    if n < cap:
                        buf_t[n] = s
                        buf_i[n] = i
                    n += 1
                    s += 1 + int(math.log(1.0 - np.random.random()) / lq)
    if n > cap:
        return -n
    return n


@njit(cache=True)
def sort_events(n, n_steps, buf_t, buf_i, ptr, idx):
    """Counting sort of events by step into CSR form (ptr [T+1], idx)."""
    for s in range(n_steps + 1):
        ptr[s] = 0
    for e in range(n):
        ptr[buf_t[e] + 1] += 1
    for s in range(n_steps):
        ptr[s + 1] += ptr[s]
    fill = ptr[:n_steps].copy()
    for e in range(n):
        s = buf_t[e]
        idx[fill[s]] = buf_i[e]
        fill[s] += 1


@njit(cache=True)
def seed_numba(seed):
    """Seed numba's generator of the calling thread."""
    np.random.seed(seed)


def encode_events(
    x: np.ndarray, n_steps: int, code: int, p_step: float, rate_per_step: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes of one sample ``x`` [n_inputs] (float64) as CSR events ``(ptr, idx)``."""
    cap = 4096
    while True:
        bt = np.empty(cap, np.int64)
        bi = np.empty(cap, np.int64)
        seed_numba(seed)
        n = encode_into(x, n_steps, code, p_step, rate_per_step, bt, bi)
        if n >= 0:
            break
        cap = -n
    ptr = np.empty(n_steps + 1, np.int64)
    idx = np.empty(max(n, 1), np.int64)
    sort_events(n, n_steps, bt, bi, ptr, idx)
    return ptr, idx[:n]
