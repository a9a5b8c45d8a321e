"""The current-based LIF (``"cuba"``) in the ``"numba"`` backend (see
:mod:`snnbench.neurons.kernels.numba` for the layout). One loop per slice and step with the
reset mode tested inside: this kind is not (yet) on a hot path, so it was not split into
branch-free loops like the LIF's.
"""

from __future__ import annotations

import numba
import numpy as np

from ._contract import register
from .numba import TwoStateKernel, _jit, _sg_row, _span


@numba.njit(parallel=True, **_jit)
def _nb_cuba_fwd(x, i, v, alpha, beta, thr, vr, zero, one, mode, save, s_out, h_out, i_out,
                 nthreads):
    """Current-based LIF forward: i_t = alpha i_{t-1} + x_t, h_t = beta v_{t-1} + i_t. i, v:
    [N] state in and out; h_out, i_out get h_t and i_t ([T, N] with save, else one scratch
    row)."""
    T, N = x.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        ib, vb, ab, bb = i[lo:hi], v[lo:hi], alpha[lo:hi], beta[lo:hi]
        for t in range(T):
            xt, st = x[t, lo:hi], s_out[t, lo:hi]
            row = t if save else 0
            ht, it = h_out[row, lo:hi], i_out[row, lo:hi]
            for j in range(hi - lo):
                cur = ab[j] * ib[j] + xt[j]
                hh = bb[j] * vb[j] + cur
                sp = one if hh >= thr else zero
                ib[j] = cur
                it[j] = cur
                ht[j] = hh
                st[j] = sp
                if mode == 0:
                    vb[j] = hh - thr * sp
                elif mode == 1:
                    vb[j] = vr if hh >= thr else hh
                else:
                    vb[j] = hh


@numba.njit(parallel=True, **_jit)
def _nb_cuba_bwd(h, cur, gs, gq, gv, i0, v0, alpha, beta, thr, vr, zero, one, mode, detach,
                 kind, sa, c0, c1, dpre, need_alpha, need_beta, gx, galpha, gbeta, nthreads):
    """Reverse recurrence of the current-based LIF: gh = dL/dh_t as for the LIF,
    q = dL/di_t = gh + gq (gq = alpha q_{t+1}); dL/dx_t = q. gq, gv: [N] final-state
    gradients in, initial-state gradients out."""
    T, N = h.shape
    nblk = max(1, nthreads)
    csz = (N + nblk - 1) // nblk
    for b in numba.prange(nblk):
        lo, hi = _span(b, N, csz)
        n = hi - lo
        gqb, gvb, ab, bb = gq[lo:hi], gv[lo:hi], alpha[lo:hi], beta[lo:hi]
        d = np.empty(n, dtype=h.dtype)
        for t in range(T - 1, -1, -1):
            ht, gst, gxt = h[t, lo:hi], gs[t, lo:hi], gx[t, lo:hi]
            if kind < 0:
                d[:] = dpre[t, lo:hi]
            else:
                _sg_row(ht, thr, kind, sa, c0, c1, zero, one, d)
            for j in range(n):
                g = gvb[j]
                hh = ht[j]
                if mode == 0:
                    gh = g + (gst[j] if detach else gst[j] - thr * g) * d[j]
                elif mode == 1:
                    keep = zero if hh >= thr else g
                    gh = keep + (gst[j] if detach else gst[j] + g * (vr - hh)) * d[j]
                else:
                    gh = g + gst[j] * d[j]
                q = gh + gqb[j]
                gxt[j] = q
                if need_beta:
                    if t == 0:
                        vp = v0[lo + j]
                    else:
                        hp = h[t - 1, lo + j]
                        vp = (hp - thr if hp >= thr else hp) if mode == 0 else (
                            (vr if hp >= thr else hp) if mode == 1 else hp)
                    gbeta[lo + j] += gh * vp
                if need_alpha:
                    galpha[lo + j] += q * (i0[lo + j] if t == 0 else cur[t - 1, lo + j])
                gvb[j] = bb[j] * gh
                gqb[j] = ab[j] * q


CUBA = TwoStateKernel(_nb_cuba_fwd, _nb_cuba_bwd, lambda c, npt: (npt(c.thr), npt(c.vr)),
                      lambda h, cur, c: h - c.thr)


register("cuba", "numba", CUBA)
