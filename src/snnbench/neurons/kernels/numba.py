r"""The ``"numba"`` backend: the LIF, adaptive LIF and current-based LIF kernels in numba.

Arrays are 2-D ``[T, N]`` views of contiguous torch buffers (N = all neurons of all
samples). The parallel loop gives each thread one contiguous slice of neurons (fewest
fork/joins; measured faster than 2,048-neuron blocks) and each slice walks time
sequentially, so every inner loop is a contiguous 1-D loop over neurons that vectorises;
loops are split by (save, reset) so each is branch-free (a merged loop with an ``if save``
inside did not vectorise). Neurons are independent, so results do not depend on the
thread count. Scalars are passed typed like the arrays, so float32 kernels never promote
to float64. The C backend (``_lif_kernels.c``) repeats the LIF and adaptive LIF loops
with the same order of operations: float32 results are bit-identical (tested).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from ..._native import numba_threads
from ._contract import register, sg_consts
from ._flat import FlatKernel

# error_model="numpy": no Python-style zero-division checks, which would block SIMD.
_jit = dict(cache=True, error_model="numpy")


@numba.njit(inline="always", **_jit)
def _sg_row(hb, thr, kind, alpha, c0, c1, zero, one, d):
    """d[j] = surrogate derivative at hb[j] - thr; one branch-free loop per kind."""
    n = hb.shape[0]
    if kind == 0:
        for j in range(n):
            z = c1 * (hb[j] - thr)
            d[j] = c0 / (one + z * z)
    elif kind == 1:
        for j in range(n):
            z = one + alpha * abs(hb[j] - thr)
            d[j] = one / (z * z)
    elif kind == 2:
        for j in range(n):
            z = one - alpha * abs(hb[j] - thr)
            d[j] = alpha * z if z > zero else zero
    else:
        for j in range(n):
            sg = one / (one + math.exp(-alpha * (hb[j] - thr)))
            d[j] = alpha * sg * (one - sg)

@numba.njit(inline="always", **_jit)
def _span(b, n_items, csz):
    """Thread ``b``'s contiguous slice ``[lo, hi)`` of ``n_items`` neurons cut into slices
    of ``csz`` (the last one shorter or empty). The slice size is computed outside the
    parallel loop: computed inside, numba generated different machine code."""
    lo = min(n_items, b * csz)
    return lo, min(n_items, lo + csz)



@numba.njit(parallel=True, **_jit)
def _nb_lif_fwd(x, v, beta, thr, vr, zero, one, mode, save, s_out, h_out, nthreads):
    """x, s_out: [T, N]; h_out: [T, N] when save else unused; v: [N] holds v0 on
    entry and v_T on exit."""
    T, N = x.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        n = hi - lo
        vb = v[lo:hi]
        bb = beta[lo:hi]
        for t in range(T):
            xt = x[t, lo:hi]
            st = s_out[t, lo:hi]
            # one fused pass per step; loops split by (save, reset) so each is
            # branch-free (a merged loop with an `if save` inside did not vectorise)
            if save:
                ht = h_out[t, lo:hi]
                if mode == 0:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        sp = one if hh >= thr else zero
                        ht[j] = hh
                        st[j] = sp
                        vb[j] = hh - thr * sp
                elif mode == 1:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        sp = hh >= thr
                        ht[j] = hh
                        st[j] = one if sp else zero
                        vb[j] = vr if sp else hh
                else:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        ht[j] = hh
                        st[j] = one if hh >= thr else zero
                        vb[j] = hh
            else:
                if mode == 0:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        sp = one if hh >= thr else zero
                        st[j] = sp
                        vb[j] = hh - thr * sp
                elif mode == 1:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        sp = hh >= thr
                        st[j] = one if sp else zero
                        vb[j] = vr if sp else hh
                else:
                    for j in range(n):
                        hh = bb[j] * vb[j] + xt[j]
                        st[j] = one if hh >= thr else zero
                        vb[j] = hh

@numba.njit(parallel=True, **_jit)
def _nb_lif_bwd(
    h, gs, gv, v0, beta, thr, vr, zero, one, mode, detach, kind, alpha, c0, c1, dpre,
    need_beta, gx, gbeta, nthreads,
):
    """Reverse recurrence. gv: [N] holds dL/dv_T on entry and dL/dv0 on exit.

    dpre is the precomputed surrogate derivative [T, N] when kind < 0 (custom
    surrogate); gbeta [N] accumulates sum_t gh_t v_{t-1} when need_beta."""
    T, N = h.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        n = hi - lo
        gvb = gv[lo:hi]
        bb = beta[lo:hi]
        d = np.empty(n, dtype=h.dtype)  # block-local surrogate derivative, stays in L1
        for t in range(T - 1, -1, -1):
            ht = h[t, lo:hi]
            gst = gs[t, lo:hi]
            gxt = gx[t, lo:hi]
            if kind < 0:
                d[:] = dpre[t, lo:hi]
            else:
                _sg_row(ht, thr, kind, alpha, c0, c1, zero, one, d)
            # gxt[j] = dL/dh_t; loops split by (reset, detach) so each is branch-free
            if mode == 0 and not detach:
                for j in range(n):
                    g = gvb[j]
                    gxt[j] = g + (gst[j] - thr * g) * d[j]
            elif mode == 1 and not detach:
                for j in range(n):
                    g = gvb[j]
                    hh = ht[j]
                    keep = zero if hh >= thr else g
                    gxt[j] = keep + (gst[j] + g * (vr - hh)) * d[j]
            elif mode == 1:
                for j in range(n):
                    keep = zero if ht[j] >= thr else gvb[j]
                    gxt[j] = keep + gst[j] * d[j]
            else:  # soft with detach_reset, or no reset
                for j in range(n):
                    gxt[j] = gvb[j] + gst[j] * d[j]
            if need_beta:
                gbb = gbeta[lo:hi]
                if t == 0:
                    v0b = v0[lo:hi]
                    for j in range(n):
                        gbb[j] += gxt[j] * v0b[j]
                else:
                    hp = h[t - 1, lo:hi]
                    if mode == 0:
                        for j in range(n):
                            q = hp[j]
                            gbb[j] += gxt[j] * (q - thr if q >= thr else q)
                    elif mode == 1:
                        for j in range(n):
                            q = hp[j]
                            gbb[j] += gxt[j] * (vr if q >= thr else q)
                    else:
                        for j in range(n):
                            gbb[j] += gxt[j] * hp[j]
            for j in range(n):
                gvb[j] = bb[j] * gxt[j]

@numba.njit(parallel=True, **_jit)
def _nb_alif_fwd(
    x, v, a, beta, rho, thr, tplus, vr, zero, one, mode, save, s_out, h_out, a_out, nthreads
):
    """Adaptive LIF forward; v and a: [N] hold the initial state on entry, final on
    exit. a_out[t] = a_{t-1}, the adaptation in step t's threshold. Without ``save``,
    h_out and a_out are one row that every step overwrites (inference stores nothing).
    Row slices and one branch-free loop per reset mode, as in _nb_lif_fwd, so each
    loop vectorises."""
    T, N = x.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        n = hi - lo
        vb = v[lo:hi]
        ab = a[lo:hi]
        bb = beta[lo:hi]
        rb = rho[lo:hi]
        for t in range(T):
            xt = x[t, lo:hi]
            row = t if save else 0
            ht = h_out[row, lo:hi]
            att = a_out[row, lo:hi]
            st = s_out[t, lo:hi]
            if mode == 0:
                for j in range(n):
                    hh = bb[j] * vb[j] + xt[j]
                    ap = ab[j]
                    th = thr + ap
                    sp = one if hh >= th else zero
                    ht[j] = hh
                    att[j] = ap
                    st[j] = sp
                    vb[j] = hh - th * sp
                    ab[j] = rb[j] * ap + tplus * sp
            elif mode == 1:
                for j in range(n):
                    hh = bb[j] * vb[j] + xt[j]
                    ap = ab[j]
                    fire = hh >= thr + ap
                    sp = one if fire else zero
                    ht[j] = hh
                    att[j] = ap
                    st[j] = sp
                    vb[j] = vr if fire else hh
                    ab[j] = rb[j] * ap + tplus * sp
            else:
                for j in range(n):
                    hh = bb[j] * vb[j] + xt[j]
                    ap = ab[j]
                    sp = one if hh >= thr + ap else zero
                    ht[j] = hh
                    att[j] = ap
                    st[j] = sp
                    vb[j] = hh
                    ab[j] = rb[j] * ap + tplus * sp

@numba.njit(inline="always", **_jit)
def _alif_gbeta_row(gbb, gxt, h, at, v0b, t, lo, hi, thr, vr, mode):
    """dL/dbeta += dL/dh_t v_{t-1} for one slice of the adaptive LIF (v_{t-1} rebuilt from
    h_{t-1} and its threshold thr + a_{t-2})."""
    n = hi - lo
    if t == 0:
        for j in range(n):
            gbb[j] += gxt[j] * v0b[j]
        return
    hp = h[t - 1, lo:hi]
    ap = at[t - 1, lo:hi]
    if mode == 0:
        for j in range(n):
            thp = thr + ap[j]
            q2 = hp[j]
            gbb[j] += gxt[j] * (q2 - thp if q2 >= thp else q2)
    elif mode == 1:
        for j in range(n):
            q2 = hp[j]
            gbb[j] += gxt[j] * (vr if q2 >= thr + ap[j] else q2)
    else:
        for j in range(n):
            gbb[j] += gxt[j] * hp[j]


@numba.njit(inline="always", **_jit)
def _alif_sg_row(ht, att, dp, u, thr, kind, alpha, c0, c1, zero, one, d):
    """d[j] = sigma'(h - (thr + a)) of one slice, or the precomputed row dp (kind < 0)."""
    if kind < 0:
        d[:] = dp
        return
    for j in range(ht.shape[0]):
        u[j] = ht[j] - att[j]  # _sg_row subtracts thr: d at h - (thr + a)
    _sg_row(u, thr, kind, alpha, c0, c1, zero, one, d)


@numba.njit(parallel=True, **_jit)
def _nb_alif_bwd(
    h, at, gs, gv, ga, v0, a0, beta, rho, thr, tplus, vr, zero, one, mode, detach, kind,
    alpha, c0, c1, dpre, need_beta, need_rho, gx, gbeta, grho, nthreads,
):
    """Reverse recurrence of the adaptive LIF. Per neuron, with th = thr + a_{t-1}, d =
    sigma'(h - th), g = dL/dv_t, q = dL/da_t: gsj = dL/ds_t + q tplus (+ the reset path);
    dL/dh_t = (path through v) + gsj d; dL/da_{t-1} = rho q + (reset path via th) - gsj d.
    One branch-free loop per (reset, detach), so each vectorises."""
    T, N = h.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        n = hi - lo
        gvb = gv[lo:hi]
        gab = ga[lo:hi]
        bb = beta[lo:hi]
        rb = rho[lo:hi]
        d = np.empty(n, dtype=h.dtype)
        u = np.empty(n, dtype=h.dtype)
        for t in range(T - 1, -1, -1):
            ht = h[t, lo:hi]
            att = at[t, lo:hi]
            gst = gs[t, lo:hi]
            gxt = gx[t, lo:hi]
            _alif_sg_row(ht, att, dpre[t, lo:hi] if kind < 0 else ht, u, thr, kind, alpha, c0,
                         c1, zero, one, d)
            if need_rho:  # dL/drho += dL/da_t a_{t-1}, before gab becomes dL/da_{t-1}
                grb = grho[lo:hi]
                for j in range(n):
                    grb[j] += gab[j] * att[j]
            if mode == 0 and not detach:
                for j in range(n):
                    g = gvb[j]
                    q = gab[j]
                    th = thr + att[j]
                    sp = one if ht[j] >= th else zero
                    gsj = gst[j] + tplus * q - th * g
                    gxt[j] = g + gsj * d[j]
                    gab[j] = rb[j] * q - g * sp - gsj * d[j]
            elif mode == 0:
                for j in range(n):
                    g = gvb[j]
                    q = gab[j]
                    sp = one if ht[j] >= thr + att[j] else zero
                    gsj = gst[j] + tplus * q
                    gxt[j] = g + gsj * d[j]
                    gab[j] = rb[j] * q - g * sp - gsj * d[j]
            elif mode == 1 and not detach:
                for j in range(n):
                    g = gvb[j]
                    q = gab[j]
                    hh = ht[j]
                    keep = zero if hh >= thr + att[j] else g
                    gsj = gst[j] + tplus * q + g * (vr - hh)
                    gxt[j] = keep + gsj * d[j]
                    gab[j] = rb[j] * q - gsj * d[j]
            elif mode == 1:
                for j in range(n):
                    g = gvb[j]
                    q = gab[j]
                    keep = zero if ht[j] >= thr + att[j] else g
                    gsj = gst[j] + tplus * q
                    gxt[j] = keep + gsj * d[j]
                    gab[j] = rb[j] * q - gsj * d[j]
            else:
                for j in range(n):
                    g = gvb[j]
                    q = gab[j]
                    gsj = gst[j] + tplus * q
                    gxt[j] = g + gsj * d[j]
                    gab[j] = rb[j] * q - gsj * d[j]
            if need_beta:
                _alif_gbeta_row(gbeta[lo:hi], gx[t, lo:hi], h, at, v0[lo:hi], t, lo, hi, thr,
                                vr, mode)
            for j in range(n):
                gvb[j] = bb[j] * gxt[j]

def _a(t: torch.Tensor, rows: int | None = None) -> np.ndarray:
    """A zero-copy numpy view: flat, or [rows, N] for a [T, ...] buffer."""
    return t.numpy() if rows is None else t.view(rows, -1).numpy()


def _dpre(c, u, kind: int, npt) -> np.ndarray:
    """The custom surrogate's derivative at ``u()`` (kind < 0), or a placeholder never read.
    ``u`` is a thunk: the argument is a whole [T, N] tensor, only worth building when read."""
    if kind < 0:
        arg = u()
        return c.surrogate.derivative(arg).contiguous().view(arg.shape[0], -1).numpy()
    return np.zeros((1, 1), dtype=npt)


def _acc(t: torch.Tensor | None, npt) -> np.ndarray:
    return t.numpy() if t is not None else np.zeros(1, dtype=npt)


class LIF(FlatKernel):
    def reads_states0(self, c, param_grads: bool) -> bool:
        return param_grads  # v0 is read for dL/dbeta only

    def fwd(self, x, states, params, c, save, s):
        T, npt = x.shape[0], x.numpy().dtype.type
        h = torch.empty_like(x) if save else None
        s2 = _a(s, T)
        _nb_lif_fwd(_a(x, T), _a(states[0]), _a(params[0]), npt(c.thr), npt(c.vr), npt(0),
                    npt(1), c.mode, bool(save), s2, _a(h, T) if save else s2[:1],
                    numba_threads())
        return (h,)

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        (h,) = saved
        T, npt = h.shape[0], h.numpy().dtype.type
        kind, sa, c0, c1 = sg_consts(c.surrogate)
        _nb_lif_bwd(_a(h, T), _a(gs, T), _a(g[0]), _a(states0[0]), _a(params[0]), npt(c.thr),
                    npt(c.vr), npt(0), npt(1), c.mode, bool(c.detach), kind, npt(sa), npt(c0),
                    npt(c1), _dpre(c, lambda: h - c.thr, kind, npt), gparams[0] is not None,
                    _a(gx, T), _acc(gparams[0], npt), numba_threads())


class TwoStateKernel(FlatKernel):
    """The marshalling of a kind with two states, two decays and two saved buffers (the
    adaptive LIF: ``v, a`` / ``beta, rho`` / ``h, a_{t-1}``; the current-based LIF: ``i, v``
    / ``alpha, beta`` / ``h, i``) onto its numba forward and backward kernels, which take
    ``consts(c, npt)`` (the kind's scalar constants) after the decays; ``shift(h, b, c)`` is
    the surrogate's argument ``h - threshold`` from the saved ``h, b``."""

    def __init__(self, fwd_kernel, bwd_kernel, consts, shift) -> None:
        self.fwd_kernel, self.bwd_kernel = fwd_kernel, bwd_kernel
        self.consts, self.shift = consts, shift

    def fwd(self, x, states, params, c, save, s):
        T, npt = x.shape[0], x.numpy().dtype.type
        # without a gradient to come, both saved buffers are one scratch row per step
        rows = T if save else 1
        h = torch.empty((rows, *x.shape[1:]), dtype=x.dtype)
        b = torch.empty_like(h)
        self.fwd_kernel(_a(x, T), _a(states[0]), _a(states[1]), _a(params[0]), _a(params[1]),
                        *self.consts(c, npt), npt(0), npt(1), c.mode, bool(save), _a(s, T),
                        _a(h, rows), _a(b, rows), numba_threads())
        return h, b

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        h, b = saved
        T, npt = h.shape[0], h.numpy().dtype.type
        kind, sa, c0, c1 = sg_consts(c.surrogate)
        g0, g1 = gparams
        self.bwd_kernel(_a(h, T), _a(b, T), _a(gs, T), _a(g[0]), _a(g[1]), _a(states0[0]),
                        _a(states0[1]), _a(params[0]), _a(params[1]), *self.consts(c, npt),
                        npt(0), npt(1), c.mode, bool(c.detach), kind, npt(sa), npt(c0),
                        npt(c1), _dpre(c, lambda: self.shift(h, b, c), kind, npt), g0 is not None,
                        g1 is not None, _a(gx, T), _acc(g0, npt), _acc(g1, npt),
                        numba_threads())


# the adaptive threshold: constants (thr, theta_plus, v_reset), surrogate at h - (thr + a_{t-1})
ALIF = TwoStateKernel(_nb_alif_fwd, _nb_alif_bwd,
                      lambda c, npt: (npt(c.thr), npt(c.extra[0]), npt(c.vr)),
                      lambda h, at, c: h - (at + c.thr))


register("lif", "numba", LIF())
register("alif", "numba", ALIF)

