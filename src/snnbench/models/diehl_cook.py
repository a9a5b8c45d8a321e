r"""Diehl & Cook (2015) unsupervised STDP network, simulated one sample at a time.

Network: ``n_inputs`` spike sources (pixels) -> all-to-all plastic weights ``W`` ->
``n_neurons`` excitatory neurons with lateral inhibition (the inhibitory layer of the paper
reduced to its effect: a spike of neuron ``j`` lowers every other membrane by
``inhibition_mv``). Settings: :class:`snnbench.experiments.diehl_cook_config.DiehlCookConfig`
(any object with its fields works); labels: :mod:`snnbench.learning.labels`; the run
(epochs, assignment, test, files): :mod:`snnbench.experiments.stdp_runner`.

Excitatory membrane (mV, ``dt`` and every ``tau`` in ms), current-based synapses, each step::

    v_t = v_rest + (v_{t-1} - v_rest) * exp(-dt / tau_mem) + gain * sum_i W[i, :] * s_i,t
    theta_t = theta_{t-1} * exp(-dt / tau_theta)           (adaptive threshold, while learning)
    spike when v_t >= v_thresh + theta_t;  v <- v_reset, refractory for refrac_ms;
    theta_t += theta_plus

Plasticity: the STDP rules of :mod:`snnbench.learning.stdp` (``rule``: additive,
weight-dependent or Hebbian; ``trace_mode`` nearest or all-to-all; ``tau_post2`` the
triplet potentiation of Diehl & Cook's published code), run by the event backend
:mod:`snnbench.learning.stdp_online`, so a presentation costs only the input spikes that
happen. After every presentation each neuron's incoming weights are rescaled to sum to
``weight_norm`` (78.4 for 784 inputs, as in the paper).

The rest period between samples is simulated as its effect: membrane, refractory counters
and traces are reset, and ``theta`` decays by ``exp(-rest_ms / tau_theta)``. ``theta``
persists across samples during training and is frozen (no decay, no increments) for
evaluation.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numba
import numpy as np
import torch
from numba import njit

from .._signature import takes_options_of
from .._validation import check_tensor
from ..encoding.spike_events import ENCODING_CODES, encode_events as _encode_csr, encode_into, sort_events
from ..learning.stdp_online import (
    RULE_CODES,
    depress_on_pre,
    normalize_all,
    normalize_columns,
    potentiate_on_post,
    spike_trace,
)

__all__ = [
    "DiehlCookState",
    "init_state",
    "encode_events",
    "present",
    "train_epoch",
    "respond",
]

# Index of each float parameter in the packed array the compiled loop reads (_params_array).
_V_REST, _V_RESET, _V_THRESH, _DV, _REFRAC, _THETA_PLUS, _INH, _GAIN = range(8)
_NU_PRE, _NU_POST, _DPRE, _DPOST, _WMIN, _WMAX, _DTHETA, _DPOST2, _THETA_REST, _ALL2ALL = range(8, 18)


class DiehlCookState(NamedTuple):
    """Learned state, updated in place by training: ``weights`` [n_inputs, n_neurons]
    (float64, C order, so a presynaptic spike reads one contiguous row) and the adaptive
    thresholds ``theta`` [n_neurons] in mV."""

    weights: np.ndarray
    theta: np.ndarray


# --------------------------------------------------------------------------- numba core


@njit(cache=True, inline="always")
def _inputs(W, t, ptr, idx, xpre, cur, act_pre, seen_pre, n_act_pre, all_to_all):
    """Input spikes of step ``t``: pre traces jump, currents add up; the inputs seen so far
    (their trace may be nonzero) are listed in ``act_pre``. Returns their number."""
    N = W.shape[1]
    if ptr[t + 1] == ptr[t]:
        for j in range(N):
            cur[j] = 0.0
    for e in range(ptr[t], ptr[t + 1]):
        i = idx[e]
        xpre[i] = spike_trace(xpre[i], all_to_all)
        if not seen_pre[i]:
            seen_pre[i] = True
            act_pre[n_act_pre] = i
            n_act_pre += 1
        if e == ptr[t]:  # the first row is copied, not added to zeros (same value, one pass less)
            for j in range(N):
                cur[j] = W[i, j]
        else:
            for j in range(N):
                cur[j] += W[i, j]
    return n_act_pre


@njit(cache=True, inline="always")
def _membranes(theta, v, refr, cur, prm, learn, winners):
    """Leak, input and threshold test of every neuron; neurons over threshold go to
    ``winners``. Returns (their number, the most depolarised one)."""
    v_rest, dv, gain, v_thresh = prm[_V_REST], prm[_DV], prm[_GAIN], prm[_V_THRESH]
    # theta decays every step while learning, before the threshold test (x 1.0 is exact)
    dtheta = prm[_DTHETA] if learn else 1.0
    # Pass 1 has no branch and no list, so it vectorises; a crossing is rare (a few per
    # presentation), so pass 2 usually does not run.
    crossed = False
    for j in range(v.shape[0]):
        th = theta[j] * dtheta
        theta[j] = th
        r = refr[j]
        vj = v_rest + (v[j] - v_rest) * dv
        vj = vj if r > 0 else vj + gain * cur[j]
        refr[j] = r - 1 if r > 0 else r
        v[j] = vj
        crossed |= vj - (v_thresh + th) >= 0.0
    if not crossed:
        return 0, -1
    n_win = 0
    best = -1
    best_over = -1e300
    for j in range(v.shape[0]):
        over = v[j] - (v_thresh + theta[j])
        if over >= 0.0:
            winners[n_win] = j
            n_win += 1
            if over > best_over:
                best_over = over
                best = j
    return n_win, best


@njit(cache=True, inline="always")
def _fire(theta, v, refr, counts, xpost, xpost2, post2_before, winners, n_win, prm, learn,
          spiked, is_spiked, n_spiked, raster, t):
    """Spikes of ``winners[:n_win]``: reset, refractory, post traces, theta, inhibition.
    Returns the number of neurons that have fired in this presentation (``spiked``)."""
    triplet = prm[_DPOST2] > 0.0
    all_to_all = prm[_ALL2ALL] > 0.0
    for k in range(n_win):
        j = winners[k]
        v[j] = prm[_V_RESET]
        refr[j] = int(prm[_REFRAC])
        counts[j] += 1
        xpost[j] = spike_trace(xpost[j], all_to_all)
        # the slow trace as it was before this spike scales potentiation (triplet)
        post2_before[k] = xpost2[j] if triplet else 1.0
        xpost2[j] = spike_trace(xpost2[j], all_to_all)
        if learn:
            theta[j] += prm[_THETA_PLUS]
        if not is_spiked[j]:
            is_spiked[j] = True
            spiked[n_spiked] = j
            n_spiked += 1
        if raster.shape[0] > 0:
            raster[t, j] = 1
    inh = prm[_INH]
    if inh > 0.0:
        # Each spike drives its inhibitory partner, which hits every other neuron.
        for j in range(v.shape[0]):
            v[j] -= inh * n_win
        for k in range(n_win):
            v[winners[k]] += inh
    return n_spiked


@njit(cache=True, inline="always")
def _plasticity(W, t, ptr, idx, xpre, act_pre, n_act_pre, xpost, spiked, n_spiked, winners,
                n_win, post2_before, prm, rule):
    """STDP of step ``t``: depression along the rows of this step's input spikes (only on
    neurons that have fired: the others' post trace is 0), then potentiation along the
    columns of this step's output spikes (only on inputs seen so far)."""
    wmin, wmax = prm[_WMIN], prm[_WMAX]
    for e in range(ptr[t], ptr[t + 1]):
        depress_on_pre(W, idx[e], spiked, n_spiked, xpost, prm[_NU_PRE], rule, wmin, wmax)
    for k in range(n_win):
        nu_j = prm[_NU_POST] * post2_before[k]
        if nu_j != 0.0:
            potentiate_on_post(W, winners[k], act_pre, n_act_pre, xpre, nu_j, rule, wmin, wmax)


@njit(cache=True)
def _present(
    W, theta, ptr, idx, n_steps, learn, prm, rule, one_spike, counts, v, refr, xpre, xpost,
    xpost2, cur, spiked, raster,
):
    """Run one presentation given its sorted input events.

    Returns (total output spikes, number of distinct neurons that fired, listed in
    ``spiked[:n]``); only those neurons' weights and thresholds can have changed.

    ``prm`` packs the float parameters (see ``_params_array``). ``counts`` [N] receives spike
    counts, ``raster`` ([T, N] or [0, 0]) the spikes when recording. Order within a step:
    input spikes (pre traces, currents) -> membranes and output spikes (post traces) ->
    weight updates, so both traces include this step's spikes, as in
    :func:`snnbench.learning.stdp.stdp_delta`.
    """
    n_in, N = W.shape
    v[:] = prm[_V_REST]
    refr[:] = 0
    xpost[:] = 0.0
    xpost2[:] = 0.0
    counts[:] = 0
    xpre[:] = 0.0
    # Inputs that have spiked (their trace may be nonzero) and neurons that have spiked:
    # decay and plasticity only visit these, so cost follows activity.
    act_pre = np.empty(n_in, np.int64)
    seen_pre = np.zeros(n_in, np.bool_)
    is_spiked = np.zeros(N, np.bool_)
    winners = np.empty(N, np.int64)
    post2_before = np.ones(N)
    n_act_pre = 0
    n_spiked = 0
    total = 0
    for t in range(n_steps):
        for k in range(n_act_pre):
            xpre[act_pre[k]] *= prm[_DPRE]
        for k in range(n_spiked):
            xpost[spiked[k]] *= prm[_DPOST]
            xpost2[spiked[k]] *= prm[_DPOST2]
        n_act_pre = _inputs(W, t, ptr, idx, xpre, cur, act_pre, seen_pre, n_act_pre, prm[_ALL2ALL] > 0.0)
        n_win, best = _membranes(theta, v, refr, cur, prm, learn, winners)
        if n_win > 0:
            if one_spike:
                # Winner-take-all within a step: only the most depolarised neuron fires.
                winners[0] = best
                n_win = 1
            n_spiked = _fire(theta, v, refr, counts, xpost, xpost2, post2_before, winners, n_win,
                             prm, learn, spiked, is_spiked, n_spiked, raster, t)
            total += n_win
        if learn:
            _plasticity(W, t, ptr, idx, xpre, act_pre, n_act_pre, xpost, spiked, n_spiked,
                        winners, n_win, post2_before, prm, rule)
    if learn:
        for j in range(N):
            theta[j] *= prm[_THETA_REST]  # the rest period after the presentation
    # spiked[:n_spiked] lists the neurons that fired (read by the caller)
    return total, n_spiked


@njit(cache=True)
def _show(W, theta, x, seed, learn, prm, rule, one_spike, enc, n_steps, p_step, rate_per_step,
          min_spikes, boost_factor_step, max_repeats, bufs, counts, work, spiked):
    """One sample with Diehl & Cook's repeat rule: fewer than ``min_spikes`` output spikes
    -> raise the input rate by ``rate_boost_hz`` (rank order: the synaptic gain by the same
    ratio) and show it again, at most ``max_repeats`` times. Returns (repeats, number of
    neurons that fired in any of the presentations, listed in ``work``'s ``changed``, the
    event buffers, grown if a presentation needed more room)."""
    buf_t, buf_i, idx, ptr = bufs
    v, refr, xpre, xpost, xpost2, cur, raster, prm_k, changed, changed_flag = work
    np.random.seed(seed)
    rate = rate_per_step
    pst = p_step
    gain = prm[_GAIN]
    rep = 0
    n_changed = 0
    while True:
        n = encode_into(x, n_steps, enc, pst, rate, buf_t, buf_i)
        if n < 0:
            cap = 2 * (-n)
            buf_t = np.empty(cap, np.int64)
            buf_i = np.empty(cap, np.int64)
            idx = np.empty(cap, np.int64)
            np.random.seed(seed + 7777 * (rep + 1))
            continue
        sort_events(n, n_steps, buf_t, buf_i, ptr, idx)
        prm_k[_GAIN] = gain
        tot, n_sp = _present(W, theta, ptr, idx, n_steps, learn, prm_k, rule, one_spike,
                             counts, v, refr, xpre, xpost, xpost2, cur, spiked, raster)
        for q in range(n_sp):
            j = spiked[q]
            if not changed_flag[j]:
                changed_flag[j] = True
                changed[n_changed] = j
                n_changed += 1
        if tot >= min_spikes or rep >= max_repeats:
            break
        rep += 1
        if enc == 2:
            gain = gain * (1.0 + boost_factor_step)
        else:
            rate += boost_factor_step * rate_per_step
            pst += boost_factor_step * p_step
    return rep, n_changed, (buf_t, buf_i, idx, ptr)


@njit(cache=True, nogil=True)
def _run_samples(
    W, theta, X, order, seeds, learn, prm, rule, one_spike, enc, n_steps, p_step,
    rate_per_step, min_spikes, boost_factor_step, max_repeats, norm, counts_out, repeats_out,
):
    """Sequential presentations (training: learn=True) in ``order``; fills counts_out."""
    n_in, N = W.shape
    cap = 4096
    bufs = (np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
            np.empty(n_steps + 1, np.int64))
    changed = np.empty(N, np.int64)
    changed_flag = np.zeros(N, np.bool_)
    work = (np.empty(N), np.empty(N, np.int64), np.empty(n_in), np.empty(N), np.empty(N),
            np.empty(N), np.zeros((0, 0), np.uint8), prm.copy(), changed, changed_flag)
    spiked = np.empty(N, np.int64)
    counts = np.empty(N, np.int64)
    for k in range(order.shape[0]):
        rep, n_changed, bufs = _show(
            W, theta, X[order[k]], seeds[k], learn, prm, rule, one_spike, enc, n_steps, p_step,
            rate_per_step, min_spikes, boost_factor_step, max_repeats, bufs, counts, work, spiked)
        if learn and norm > 0:
            normalize_columns(W, norm, changed, n_changed)
        for q in range(n_changed):
            changed_flag[changed[q]] = False
        for j in range(N):
            counts_out[k, j] = counts[j]
        repeats_out[k] = rep


# --------------------------------------------------------------------------- python API


def _params_array(cfg: Any) -> np.ndarray:
    no_leak = cfg.neuron == "if"
    adaptive = cfg.neuron == "adaptive_lif"
    prm = np.zeros(18, dtype=np.float64)
    prm[[_V_REST, _V_RESET, _V_THRESH]] = cfg.v_rest, cfg.v_reset, cfg.v_thresh
    prm[_DV] = 1.0 if no_leak else math.exp(-cfg.dt / cfg.tau_mem)
    prm[_REFRAC] = float(int(round(cfg.refrac_ms / cfg.dt)))
    prm[_THETA_PLUS] = cfg.theta_plus if adaptive else 0.0
    prm[_INH], prm[_GAIN] = cfg.inhibition_mv, cfg.input_gain
    prm[_NU_PRE], prm[_NU_POST] = cfg.nu_pre, cfg.nu_post
    prm[_DPRE], prm[_DPOST] = math.exp(-cfg.dt / cfg.tau_pre), math.exp(-cfg.dt / cfg.tau_post)
    prm[_WMIN], prm[_WMAX] = cfg.wmin, cfg.wmax
    # theta decays every step of a presentation, then over the rest period
    prm[_DTHETA] = math.exp(-cfg.dt / cfg.tau_theta) if adaptive else 1.0
    prm[_THETA_REST] = math.exp(-cfg.rest_ms / cfg.tau_theta) if adaptive else 1.0
    # second post trace (triplet potentiation); 0 = pair rule
    prm[_DPOST2] = math.exp(-cfg.dt / cfg.tau_post2) if cfg.tau_post2 is not None else 0.0
    prm[_ALL2ALL] = 1.0 if cfg.trace_mode == "add" else 0.0
    return prm


def _encoding_args(cfg: Any) -> tuple[int, float, float, float]:
    rate_per_step = cfg.max_rate_hz * cfg.dt / 1000.0
    p_step = cfg.bernoulli_max_prob if cfg.bernoulli_max_prob is not None else min(rate_per_step, 1.0)
    boost = cfg.rate_boost_hz / cfg.max_rate_hz
    return ENCODING_CODES[cfg.encoding], p_step, rate_per_step, boost


def as_inputs(name: str, x: torch.Tensor | np.ndarray, n_inputs: int) -> np.ndarray:
    """[N, n_inputs] (or [N, C, H, W] flattening to n_inputs) in [0, 1] -> float64 array."""
    t = torch.as_tensor(x)
    check_tensor(name, t, min_ndim=2, low=0.0, high=1.0)
    t = t.reshape(t.shape[0], -1)
    if t.shape[1] != n_inputs:
        raise ValueError(
            f"{name} must have {n_inputs} values per sample (n_inputs, e.g. 28x28 images), "
            f"got shape {tuple(torch.as_tensor(x).shape)} with {t.shape[1]} per sample"
        )
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


def _scale_inputs(cfg: Any, X: np.ndarray) -> np.ndarray:
    if cfg.input_norm is None:
        return X
    ink = X.sum(1, keepdims=True)
    return np.ascontiguousarray(X * (cfg.input_norm / np.where(ink > 0, ink, 1.0)))


def _seed_stream(generator: torch.Generator, n: int) -> np.ndarray:
    return torch.randint(0, 2**31 - 1, (n,), generator=generator).numpy().astype(np.int64)


def init_state(cfg: Any, generator: torch.Generator) -> DiehlCookState:
    """Uniform weights in [wmin, w_init_max], normalised; theta = 0."""
    w = cfg.wmin + (cfg.w_init_max - cfg.wmin) * torch.rand(
        cfg.n_inputs, cfg.n_neurons, generator=generator, dtype=torch.float64
    )
    W = np.ascontiguousarray(w.numpy())
    if cfg.weight_norm is not None:
        normalize_all(W, float(cfg.weight_norm))
    return DiehlCookState(weights=W, theta=np.zeros(cfg.n_neurons))


def encode_events(cfg: Any, x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Input spikes of one sample as CSR events: ``ptr`` [T+1], ``idx`` (pixel per event)."""
    enc, p_step, rate, _ = _encoding_args(cfg)
    xr = _scale_inputs(cfg, as_inputs("x", np.asarray(x).reshape(1, -1), cfg.n_inputs))[0]
    return _encode_csr(xr, cfg.num_steps, enc, p_step, rate, seed)


def present(
    cfg: Any,
    state: DiehlCookState,
    ptr: np.ndarray,
    idx: np.ndarray,
    *,
    learn: bool,
    record: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One presentation of given input events (no repeat, no normalisation).

    Updates ``state`` in place when ``learn``; returns spike counts [N] and, with
    ``record``, the raster [T, N] (uint8).
    """
    N = cfg.n_neurons
    T = cfg.num_steps
    counts = np.zeros(N, np.int64)
    raster = np.zeros((T, N), np.uint8) if record else np.zeros((0, 0), np.uint8)
    _present(
        state.weights, state.theta, np.ascontiguousarray(ptr, dtype=np.int64),
        np.ascontiguousarray(idx, dtype=np.int64) if len(idx) else np.zeros(1, np.int64),
        T, learn, _params_array(cfg), RULE_CODES[cfg.rule], cfg.one_spike, counts,
        np.empty(N), np.empty(N, np.int64), np.empty(cfg.n_inputs), np.empty(N), np.empty(N),
        np.empty(N), np.empty(N, np.int64), raster,
    )
    return counts, (raster if record else None)


def train_epoch(
    cfg: Any,
    state: DiehlCookState,
    x: torch.Tensor | np.ndarray,
    generator: torch.Generator,
) -> dict[str, Any]:
    """One epoch of online learning, one sample at a time in a shuffled order.

    Updates ``state`` in place. Returns ``counts`` [n, N] (online responses, in the order of
    ``x``), ``order``, ``repeats`` [n] and ``seconds``.
    """
    X = _scale_inputs(cfg, as_inputs("x", x, cfg.n_inputs))
    n = X.shape[0]
    order = torch.randperm(n, generator=generator).numpy().astype(np.int64)
    seeds = _seed_stream(generator, n)
    enc, p_step, rate, boost = _encoding_args(cfg)
    counts = np.zeros((n, cfg.n_neurons), np.int64)
    repeats = np.zeros(n, np.int64)
    t0 = time.perf_counter()
    _run_samples(
        state.weights, state.theta, X, order, seeds, True, _params_array(cfg),
        RULE_CODES[cfg.rule], cfg.one_spike, enc, cfg.num_steps, p_step, rate, cfg.min_spikes,
        boost, cfg.max_repeats, float(cfg.weight_norm or 0.0), counts, repeats,
    )
    secs = time.perf_counter() - t0
    back = np.empty_like(counts)
    back[order] = counts
    rep_back = np.empty_like(repeats)
    rep_back[order] = repeats
    return {"counts": back, "order": order, "repeats": rep_back, "seconds": secs}


@takes_options_of(train_epoch, positional=True)  # the same inputs, learning off
def respond(**inputs: Any) -> dict[str, Any]:
    """Learning-off spike counts [n, N] (weights and theta frozen), samples in parallel."""
    cfg, state, x, generator = (inputs[k] for k in ("cfg", "state", "x", "generator"))
    X = _scale_inputs(cfg, as_inputs("x", x, cfg.n_inputs))
    n = X.shape[0]
    seeds = _seed_stream(generator, n)
    enc, p_step, rate, boost = _encoding_args(cfg)
    counts = np.zeros((n, cfg.n_neurons), np.int64)
    repeats = np.zeros(n, np.int64)
    prm = _params_array(cfg)
    if cfg.eval_inhibition_mv is not None:
        prm[_INH] = cfg.eval_inhibition_mv
    one = cfg.one_spike if cfg.eval_one_spike is None else cfg.eval_one_spike
    t0 = time.perf_counter()
    # Samples are independent with learning off: split them over threads that each run the
    # compiled loop without the GIL (theta copied per chunk, weights only read).
    n_threads = max(1, min(numba.config.NUMBA_NUM_THREADS, n))
    bounds = np.linspace(0, n, n_threads + 1).astype(np.int64)
    args = (prm, 0, one, enc, cfg.num_steps, p_step, rate, cfg.min_spikes, boost, cfg.max_repeats, 0.0)

    def chunk(lo: int, hi: int, seeds: np.ndarray) -> None:
        if hi > lo:
            _run_samples(state.weights, state.theta.copy(), X, np.arange(lo, hi), seeds[lo:hi],
                         False, *args, counts_k[lo:hi], rep_k[lo:hi])

    with ThreadPoolExecutor(n_threads) as pool:
        for k in range(cfg.eval_presentations):
            if k > 0:
                seeds = _seed_stream(generator, n)
            counts_k = np.zeros((n, cfg.n_neurons), np.int64)
            rep_k = np.zeros(n, np.int64)
            list(pool.map(chunk, bounds[:-1], bounds[1:], [seeds] * n_threads))
            counts += counts_k
            repeats += rep_k
    return {"counts": counts, "repeats": repeats, "seconds": time.perf_counter() - t0}
