r"""Fused multi-step neurons: the whole time loop forward and backward in one kernel.

The reference neurons (``snnbench.neurons.lif``) run a Python loop over time with
autograd recording every elementwise op; on the CPU that loop, not the matmuls, is what
makes an SNN slower than the same network with a ReLU. Here the forward pass writes
spikes into preallocated buffers without autograd, saves only the pre-reset membrane
:math:`h_t` (everything else backward needs is a function of it), and backward runs the
reverse recurrence once.

Discrete LIF (dimensionless input current, threshold units, one step = ``dt`` ms):

.. math::

    h_t = \beta v_{t-1} + x_t, \qquad s_t = \Theta(h_t - \vartheta)

    v_t = h_t - \vartheta s_t \ (\text{soft}),\quad
    v_t = h_t (1 - s_t) + v_r s_t \ (\text{hard}),\quad
    v_t = h_t \ (\text{none})

Backward, with :math:`\sigma'` the surrogate derivative at :math:`u_t = h_t - \vartheta`,
:math:`g^s_t = \partial L/\partial s_t` (from the layer above) and
:math:`g^v_t = \partial L/\partial v_t` (from step :math:`t+1`, or the final state):

.. math::

    g^h_t = g^s_t \sigma'(u_t) + g^v_t \, \frac{d v_t}{d h_t},\qquad
    \frac{\partial L}{\partial x_t} = g^h_t,\qquad
    g^v_{t-1} = \beta g^h_t,\qquad
    \frac{\partial L}{\partial \beta} = \sum_t g^h_t v_{t-1}

where :math:`dv_t/dh_t` includes the path through the spike unless ``detach_reset``:
soft :math:`1 - \vartheta\sigma'`, hard :math:`(1 - s_t) + (v_r - h_t)\sigma'`, none 1.

Adaptive LIF (threshold :math:`\vartheta + a_{t-1}`, adaptation decays by ``rho`` per
step and rises by ``theta_plus`` per spike) follows the same pattern with a second state.

Backends: ``"c"`` (CPU: the numba kernels' loops in C, compiled at install time,
``native_lif``; bit-identical to numba and without numba's ~60 MiB JIT start-up),
``"numba"`` (CPU, parallel over neurons, float32/float64, zero-copy views of the torch
buffers), ``"triton"`` (CUDA: one kernel launch per sequence, ``fused_triton``) and
``"torch"`` (in-place torch ops under ``no_grad``, one Python step per time step; any device
and dtype). ``"auto"`` picks c (else numba) for CPU float32/float64 tensors, triton for CUDA
tensors when triton imports, else torch.
"""

from __future__ import annotations

import functools
import math
import os

import torch

from .._validation import check_choice, check_int, check_positive, check_tensor
from . import native_lif
from .surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle, get_surrogate

try:  # numba is a declared dependency, but keep the torch path usable without it
    import numba
    import numpy as np

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _HAVE_NUMBA = False

__all__ = [
    "RESETS",
    "BACKENDS",
    "lif_multistep_fused",
    "if_multistep_fused",
    "alif_multistep_fused",
    "lif_multistep_chunked",
    "fused_backend",
    "FusedLIF",
]

RESETS = ("soft", "hard", "none")
_TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
BACKENDS = ("auto", "c", "numba", "torch", "triton")
_RESET_CODE = {"soft": 0, "hard": 1, "none": 2}
# Surrogates with a closed form the numba kernels evaluate inline; any other Surrogate
# subclass works too, its derivative is then evaluated by torch over the whole sequence.
_SG_CODE: dict[type, int] = {ATan: 0, FastSigmoid: 1, Triangle: 2, Sigmoid: 3}


@functools.lru_cache(maxsize=1)
def _have_triton() -> bool:
    """Whether triton imports (checked once: importing it is slow, and it cannot change)."""
    try:
        import triton  # noqa: F401
    except Exception:  # missing, or broken beside this torch build
        return False
    return True


def _triton_interpreted() -> bool:
    # Triton's CPU interpreter runs the same kernels on CPU tensors (used by the tests on
    # machines without a GPU); it reads this variable when the kernels are defined.
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def fused_backend(x: torch.Tensor, backend: str = "auto") -> str:
    """Resolve ``backend`` for tensor ``x``: ``"c"`` for CPU float32/float64 tensors when
    the compiled kernels were built, else ``"numba"`` when numba is installed; ``"triton"``
    for CUDA floating tensors when triton is installed; ``"torch"`` otherwise."""
    check_choice("backend", backend, BACKENDS)
    cpu_ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    gpu_ok = x.device.type == "cuda" and x.dtype in _TRITON_DTYPES
    if backend == "c":
        if not native_lif.available():
            raise ValueError("backend='c' needs the compiled kernels, which were not built at "
                             "install time (no C compiler?); reinstall snnbench or use 'numba'")
        if not cpu_ok:
            raise ValueError(
                f"backend='c' needs a CPU float32/float64 tensor, got {x.dtype} on {x.device}"
            )
        return "c"
    if backend == "auto" and cpu_ok and native_lif.available():
        return "c"
    if backend == "triton":
        if not _have_triton():
            raise ValueError("backend='triton' needs the triton package (it comes with CUDA "
                             "builds of PyTorch); install it or use 'torch'")
        interp_ok = _triton_interpreted() and x.device.type == "cpu" and x.dtype in _TRITON_DTYPES
        if not (gpu_ok or interp_ok):
            raise ValueError(
                f"backend='triton' needs a CUDA tensor of dtype float16/bfloat16/float32/float64 "
                f"(or TRITON_INTERPRET=1 for CPU tensors), got {x.dtype} on {x.device}"
            )
        return "triton"
    if backend == "auto" and gpu_ok and _have_triton():
        return "triton"
    if backend == "numba":
        if not _HAVE_NUMBA:
            raise ValueError("backend='numba' needs the numba package; install it or use 'torch'")
        if not cpu_ok:
            raise ValueError(
                f"backend='numba' needs a CPU float32/float64 tensor, got {x.dtype} on {x.device}"
            )
        return "numba"
    if backend == "torch":
        return "torch"
    return "numba" if (_HAVE_NUMBA and cpu_ok) else "torch"


# --------------------------------------------------------------------------------------
# numba kernels. Arrays are 2-D [T, N] views of contiguous torch buffers (N = all neurons
# of all samples). The parallel loop gives each thread one contiguous slice of neurons
# (fewest fork/joins; measured faster than 2,048-neuron blocks) and each slice walks time
# sequentially, so every inner loop is a contiguous 1-D loop over neurons that vectorises.
# Neurons are independent, so results do not depend on the thread count.
# --------------------------------------------------------------------------------------
if _HAVE_NUMBA:

    # error_model="numpy": no Python-style zero-division checks, which would block SIMD.
    _jit = dict(cache=True, error_model="numpy")

    @numba.njit(inline="always", **_jit)
    def _sg(u, kind, alpha, c0, c1, zero, one):
        # c0, c1 are per-surrogate constants precomputed in the array dtype (see
        # _sg_consts) so float32 kernels never promote to float64.
        if kind == 0:  # ATan: (alpha/2) / (1 + (pi/2 alpha u)^2)
            z = c1 * u
            return c0 / (one + z * z)
        if kind == 1:  # FastSigmoid: 1 / (1 + alpha |u|)^2
            z = one + alpha * abs(u)
            return one / (z * z)
        if kind == 2:  # Triangle: alpha * max(0, 1 - alpha |u|)
            z = one - alpha * abs(u)
            return alpha * z if z > zero else zero
        # Sigmoid: alpha * sig(alpha u) (1 - sig(alpha u))
        sg = one / (one + math.exp(-alpha * u))
        return alpha * sg * (one - sg)

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

    @numba.njit(parallel=True, **_jit)
    def _nb_lif_fwd(x, v, beta, thr, vr, zero, one, mode, save, s_out, h_out, nthreads):
        """x, s_out: [T, N]; h_out: [T, N] when save else unused; v: [N] holds v0 on
        entry and v_T on exit."""
        T, N = x.shape
        nblk = max(1, nthreads)
        csz = (N + nblk - 1) // nblk
        for b in numba.prange(nblk):
            lo = min(N, b * csz)
            hi = min(N, lo + csz)
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
            lo = min(N, b * csz)
            hi = min(N, lo + csz)
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
            lo = min(N, b * csz)
            hi = min(N, lo + csz)
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

    @numba.njit(parallel=True, **_jit)
    def _nb_alif_bwd(
        h, at, gs, gv, ga, v0, a0, beta, rho, thr, tplus, vr, zero, one, mode, detach, kind,
        alpha, c0, c1, dpre, need_beta, need_rho, gx, gbeta, grho, nthreads,
    ):
        """Reverse recurrence of the adaptive LIF (see alif_multistep_fused). Per step and
        neuron, with th = thr + a_{t-1}, d the surrogate derivative at h - th, g = dL/dv_t
        and q = dL/da_t: the gradient reaching s_t is q tplus + dL/ds_t + the reset path;
        dL/dh_t = (path through v) + (that) d; dL/da_{t-1} = rho q + (reset path through th)
        - (that) d. Row slices and one branch-free loop per (reset, detach), so each
        vectorises."""
        T, N = h.shape
        nblk = max(1, nthreads)
        csz = (N + nblk - 1) // nblk
        for b in numba.prange(nblk):
            lo = min(N, b * csz)
            hi = min(N, lo + csz)
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
                if kind < 0:
                    d[:] = dpre[t, lo:hi]
                else:
                    for j in range(n):
                        u[j] = ht[j] - att[j]  # _sg_row subtracts thr: d at h - (thr + a)
                    _sg_row(u, thr, kind, alpha, c0, c1, zero, one, d)
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
                    gbb = gbeta[lo:hi]
                    if t == 0:
                        v0b = v0[lo:hi]
                        for j in range(n):
                            gbb[j] += gxt[j] * v0b[j]
                    else:
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
                for j in range(n):
                    gvb[j] = bb[j] * gxt[j]


def _sg_consts(surrogate: Surrogate) -> tuple[int, float, float, float]:
    """(kind code, alpha, c0, c1) for the numba kernels; kind -1 = custom surrogate."""
    kind = _SG_CODE.get(type(surrogate), -1)
    alpha = float(surrogate.alpha)
    c0 = alpha / 2 if kind == 0 else 0.0
    c1 = math.pi / 2 * alpha if kind == 0 else 0.0
    return kind, alpha, c0, c1


def _flat(
    t: torch.Tensor, shape: torch.Size, dtype: torch.dtype, copy: bool = False
) -> torch.Tensor:
    """Broadcast a per-neuron tensor to ``shape`` as a contiguous 1-D tensor; ``copy``
    guarantees fresh storage (for buffers the kernels write into)."""
    t = t.detach().to(dtype).expand(shape)
    if copy:
        return t.clone(memory_format=torch.contiguous_format).view(-1)
    return t.reshape(-1).contiguous()


def _reduce_to(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Sum a gradient of broadcast shape back to the shape of ``like`` (autograd rule)."""
    if g.shape == like.shape:
        return g
    return g.sum_to_size(like.shape) if like.dim() else g.sum()


def _reset_v(h: torch.Tensor, thr: float | torch.Tensor, mode: int, vr: float) -> torch.Tensor:
    """v_t from h_t for the given reset mode (no autograd)."""
    if mode == 0:
        return torch.where(h >= thr, h - thr, h)
    if mode == 1:
        return torch.where(h >= thr, torch.full_like(h, vr), h)
    return h


# --------------------------------------------------------------------------------------
# LIF / IF
# --------------------------------------------------------------------------------------
class _LIFFn(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x, v0, beta, thr, mode, vr, surrogate, detach, backend, need_grad
    ):
        T = x.shape[0]
        nshape = x.shape[1:]
        dtype = x.dtype
        xc = x.detach().contiguous()
        s = torch.empty_like(xc)
        if backend == "triton":
            from . import fused_triton

            cd = fused_triton.compute_dtype(dtype)  # state in float32 for half inputs
            v = _flat(v0, nshape, cd, copy=True)
            h = torch.empty(xc.shape, dtype=cd, device=xc.device) if need_grad else None
            fused_triton.lif_forward(xc, v, fused_triton.periodic(beta, nshape, cd), thr, vr,
                                     mode, bool(need_grad), s, h)
            v = v.to(dtype)
        elif backend == "c":
            v = _flat(v0, nshape, dtype, copy=True)
            h = torch.empty_like(xc) if need_grad else None
            native_lif.lif_forward(xc, v, _flat(beta, nshape, dtype), thr, vr, mode,
                                   bool(need_grad), s, h)
        elif backend == "numba":
            v = _flat(v0, nshape, dtype, copy=True)
            b = _flat(beta, nshape, dtype)
            h = torch.empty_like(xc) if need_grad else None
            npt = xc.numpy().dtype.type  # scalars typed like the arrays: no float64 promotion
            x2 = xc.view(T, -1).numpy()
            s2 = s.view(T, -1).numpy()
            h2 = h.view(T, -1).numpy() if need_grad else s2[:1]  # placeholder, never read
            _nb_lif_fwd(x2, v.numpy(), b.numpy(), npt(thr), npt(vr), npt(0), npt(1), mode,
                        bool(need_grad), s2, h2, numba.get_num_threads())
        else:
            v = _flat(v0, nshape, dtype, copy=True)
            b = _flat(beta, nshape, dtype)
            h = torch.empty_like(xc) if need_grad else None
            vv = v.view(nshape)
            bb = b.view(nshape)
            for t in range(T):
                ht = h[t] if need_grad else torch.empty_like(vv)
                # mul then add, not addcmul: a fused multiply-add would round differently
                # from the reference (beta * v + x) and flip spikes at threshold ties
                torch.mul(bb, vv, out=ht).add_(xc[t])
                _spike_and_reset_(ht, thr, mode, vr, s[t], vv)
        vT = v.view(nshape)
        if need_grad:
            ctx.save_for_backward(h, v0, beta)
            ctx.cfg = (thr, mode, vr, surrogate, detach, backend, dtype)
        return s, vT

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gs, gvT):  # type: ignore[override]
        h, v0, beta = ctx.saved_tensors
        thr, mode, vr, surrogate, detach, backend, xdtype = ctx.cfg
        T = h.shape[0]
        nshape = h.shape[1:]
        dtype = h.dtype
        need_beta = ctx.needs_input_grad[2]
        if backend == "triton":
            return _lif_backward_triton(ctx, h, v0, beta, gs, gvT, xdtype)
        gs = torch.zeros_like(h) if gs is None else gs.to(dtype).contiguous()
        gv = torch.zeros(nshape, dtype=dtype, device=h.device) if gvT is None else gvT.to(dtype)
        gv = gv.expand(nshape).reshape(-1).clone()
        b = _flat(beta, nshape, dtype)
        v0f = _flat(v0, nshape, dtype)
        gx = torch.empty_like(h)
        gbeta = torch.zeros_like(v0f) if need_beta else None
        kind, alpha, c0, c1 = _sg_consts(surrogate)
        if backend == "c":
            dpre = surrogate.derivative(h - thr).contiguous() if kind < 0 else None
            native_lif.lif_backward(h, gs, gv, v0f, b, thr, vr, mode, bool(detach), kind, alpha,
                                    c0, c1, dpre, gx, gbeta)
        elif backend == "numba":
            npt = h.numpy().dtype.type
            dpre = (surrogate.derivative(h - thr).contiguous().view(T, -1).numpy()
                    if kind < 0 else np.zeros((1, 1), dtype=npt))
            gb = gbeta.numpy() if need_beta else np.zeros(1, dtype=npt)
            _nb_lif_bwd(h.view(T, -1).numpy(), gs.view(T, -1).numpy(), gv.numpy(),
                        v0f.numpy(), b.numpy(), npt(thr), npt(vr), npt(0), npt(1), mode,
                        bool(detach), kind, npt(alpha), npt(c0), npt(c1), dpre, bool(need_beta),
                        gx.view(T, -1).numpy(), gb,
                        numba.get_num_threads())
        else:
            gvv = gv.view(nshape)
            bb = b.view(nshape)
            gbb = gbeta.view(nshape) if need_beta else None
            for t in range(T - 1, -1, -1):
                # per step, not over the whole [T, ...] at once: the temporaries of
                # derivative() would otherwise each be as large as h
                ht = h[t]
                d = surrogate.derivative(ht - thr)
                if mode == 0:
                    gh = gvv + (gs[t] if detach else gs[t] - thr * gvv) * d
                elif mode == 1:
                    spk = ht >= thr
                    keep = gvv.masked_fill(spk, 0)
                    gh = keep + (gs[t] if detach else gs[t] + gvv * (vr - ht)) * d
                else:
                    gh = gvv + gs[t] * d
                gx[t] = gh
                if need_beta:
                    vp = _reset_v(h[t - 1], thr, mode, vr) if t > 0 else v0f.view(nshape)
                    gbb.add_(gh * vp)
                torch.mul(bb, gh, out=gvv)
        gv0 = _reduce_to(gv.view(nshape), v0) if ctx.needs_input_grad[1] else None
        gbeta_out = _reduce_to(gbeta.view(nshape), beta) if need_beta else None
        return gx, gv0, gbeta_out, None, None, None, None, None, None, None


def _lif_backward_triton(ctx, h, v0, beta, gs, gvT, xdtype):
    """_LIFFn.backward on the triton backend (h in the kernels' compute dtype)."""
    from . import fused_triton

    thr, mode, vr, surrogate, detach = ctx.cfg[:5]
    nshape = h.shape[1:]
    cd = h.dtype
    gs = torch.zeros_like(h) if gs is None else gs.contiguous()
    gv = _flat(torch.zeros((), dtype=cd, device=h.device) if gvT is None else gvT, nshape, cd,
               copy=True)
    kind, alpha, c0, c1 = _sg_consts(surrogate)
    dpre = surrogate.derivative(h - thr).contiguous() if kind < 0 else None
    gx = torch.empty(h.shape, dtype=xdtype, device=h.device)
    gbeta = torch.empty_like(gv) if ctx.needs_input_grad[2] else None
    fused_triton.lif_backward(h, gs, gv, fused_triton.periodic(v0, nshape, cd),
                              fused_triton.periodic(beta, nshape, cd), thr, vr, mode, bool(detach),
                              kind, (alpha, c0, c1), dpre, gx, gbeta)
    gv0 = _reduce_to(gv.view(nshape), v0).to(v0.dtype) if ctx.needs_input_grad[1] else None
    gb = _reduce_to(gbeta.view(nshape), beta).to(beta.dtype) if gbeta is not None else None
    return gx, gv0, gb, None, None, None, None, None, None, None


def _spike_and_reset_(h: torch.Tensor, thr: float, mode: int, vr: float, s_out: torch.Tensor,
                      v_out: torch.Tensor) -> None:
    """One step of the torch backends in place: ``s_out = 1[h >= thr]`` (0./1. in h's
    dtype) and ``v_out = reset(h, s)``."""
    torch.ge(h, thr, out=s_out)
    if mode == 0:
        torch.sub(h, s_out, alpha=thr, out=v_out)
    elif mode == 1:
        torch.where(s_out.bool(), torch.full_like(h, vr), h, out=v_out)
    else:
        v_out.copy_(h)


def _check_common(x_seq, v0, beta, threshold, reset, v_reset, surrogate, backend):
    check_tensor("x_seq", x_seq, min_ndim=1, finite=False)
    if not x_seq.is_floating_point():
        raise ValueError(f"x_seq must be a floating-point tensor, got dtype {x_seq.dtype}")
    check_int("x_seq.shape[0] (time steps T)", int(x_seq.shape[0]), minimum=1)
    check_positive("threshold", threshold)
    check_choice("reset", reset, RESETS)
    try:
        vr = float(v_reset)
    except (TypeError, ValueError):
        raise ValueError(f"v_reset must be a number, got {v_reset!r}") from None
    if not math.isfinite(vr):
        raise ValueError(f"v_reset must be finite, got {v_reset!r}")
    v0 = _initial_state("v0", v0, x_seq)
    beta = _decay_factor("beta", beta, x_seq)
    sg = get_surrogate(surrogate)
    be = fused_backend(x_seq, backend)
    return v0, beta, float(threshold), _RESET_CODE[reset], vr, sg, be


def _initial_state(name: str, t: torch.Tensor | None, x_seq: torch.Tensor) -> torch.Tensor:
    """A state tensor broadcastable to the neuron shape; ``None`` is a zero scalar."""
    if t is None:
        return torch.zeros((), dtype=x_seq.dtype, device=x_seq.device)
    check_tensor(name, t, finite=False)
    _check_broadcast(name, t, x_seq.shape[1:])
    return t


def _decay_factor(name: str, d: float | torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """A per-step decay in [0, 1] (float) or a tensor broadcastable to the neuron shape."""
    if isinstance(d, torch.Tensor):
        _check_broadcast(name, d, x_seq.shape[1:])
        return d
    b = float(d)
    if not (math.isfinite(b) and 0.0 <= b <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {d!r}")
    # torch.full, not torch.tensor: on a GPU a fill is queued, a host copy blocks
    return torch.full((), b, dtype=x_seq.dtype, device=x_seq.device)


def _check_broadcast(name: str, t: torch.Tensor, nshape: torch.Size) -> None:
    try:
        out = torch.broadcast_shapes(t.shape, nshape)
    except RuntimeError:
        out = None
    if out != nshape:
        raise ValueError(
            f"{name} must be broadcastable to the neuron shape {tuple(nshape)} "
            f"(x_seq.shape[1:]), got shape {tuple(t.shape)}"
        )


def lif_multistep_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    beta: float | torch.Tensor = 0.9,
    threshold: float = 1.0,
    reset: str = "soft",
    v_reset: float = 0.0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run a LIF layer over a whole sequence in one fused kernel.

    :math:`h_t = \beta v_{t-1} + x_t`, :math:`s_t = \Theta(h_t - \vartheta)`, reset
    ``"soft"`` (:math:`v_t = h_t - \vartheta s_t`), ``"hard"`` (:math:`v_t = v_r` on a
    spike) or ``"none"``; one step is ``dt`` ms and :math:`\beta = e^{-dt/\tau_{mem}}`.

    Args:
        x_seq: input current ``[T, B, ...]`` (threshold units), float.
        v0: initial membrane, broadcastable to ``x_seq.shape[1:]``; ``None`` = zeros.
        beta: decay per step in [0, 1], a float or a tensor broadcastable to the neuron
            shape (learnable: its gradient is returned when it requires grad).
        threshold, reset, v_reset, surrogate, detach_reset: as in ``LIFParams``.
        backend: ``"auto"``, ``"numba"`` (CPU) or ``"torch"`` (any device).

    Returns:
        ``(spikes [T, B, ...], v_T [B, ...])``. Gradients flow to ``x_seq``, ``v0`` and a
        tensor ``beta``; values and gradients match the reference loop. Only ``h`` (one
        float per neuron and step) is saved for backward.
    """
    v0, beta, thr, mode, vr, sg, be = _check_common(
        x_seq, v0, beta, threshold, reset, v_reset, surrogate, backend
    )
    # Save h for backward only when a gradient can be asked for (inference skips the store).
    need_grad = torch.is_grad_enabled() and (
        x_seq.requires_grad or v0.requires_grad or beta.requires_grad
    )
    return _LIFFn.apply(x_seq, v0, beta, thr, mode, vr, sg, bool(detach_reset), be, need_grad)


def if_multistep_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    threshold: float = 1.0,
    reset: str = "soft",
    v_reset: float = 0.0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Integrate-and-fire: :func:`lif_multistep_fused` with :math:`\beta = 1` (no leak)."""
    return lif_multistep_fused(
        x_seq, v0, 1.0, threshold, reset, v_reset, surrogate, detach_reset, backend
    )


def lif_multistep_chunked(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    beta: float | torch.Tensor = 0.9,
    threshold: float = 1.0,
    reset: str = "soft",
    v_reset: float = 0.0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
    chunk: int = 25,
    pre: torch.nn.Module | None = None,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Memory-saving LIF for long sequences: checkpoint over chunks of ``chunk`` steps.

    If ``pre`` is given (e.g. the ``nn.Linear`` feeding this layer) the layer computes
    ``LIF(pre(x_seq))`` and ``x_seq`` is that module's input. Each chunk keeps only its
    input and the membrane at its start; backward recomputes ``pre`` and the neuron over
    the chunk. Saved memory: the pre-reset membrane (and ``pre``'s output) of all steps,
    i.e. two ``[T, B, H]`` float tensors become two ``[chunk, B, H]`` ones. Cost: one
    extra forward of ``pre`` and of the neuron per training step (about +1/3 of the
    layer's compute: forward is ~1/3 of forward + backward).
    """
    chunk = check_int("chunk", chunk, minimum=1)
    T = int(x_seq.shape[0])

    def run(xc, vc, b):
        cur = pre(xc) if pre is not None else xc
        return lif_multistep_fused(cur, vc, b, threshold, reset, v_reset, surrogate,
                                   detach_reset, backend)

    outs = []
    v = v0
    for t0 in range(0, T, chunk):
        xc = x_seq[t0:t0 + chunk]
        if torch.is_grad_enabled():
            if v is None:
                v = torch.zeros((), dtype=xc.dtype, device=xc.device)
            s, v = torch.utils.checkpoint.checkpoint(run, xc, v, beta, use_reentrant=False)
        else:
            s, v = run(xc, v, beta)
        outs.append(s)
    return torch.cat(outs, 0), v


# --------------------------------------------------------------------------------------
# Adaptive LIF
# --------------------------------------------------------------------------------------
class _ALIFFn(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x, v0, a0, beta, rho, thr, tplus, mode, vr, surrogate, detach, backend, need_grad
    ):
        T = x.shape[0]
        nshape = x.shape[1:]
        dtype = x.dtype
        xc = x.detach().contiguous()
        v = _flat(v0, nshape, dtype, copy=True)
        a = _flat(a0, nshape, dtype, copy=True)
        if backend != "triton":  # the triton kernels read beta and rho unexpanded
            b = _flat(beta, nshape, dtype)
            r = _flat(rho, nshape, dtype)
        s = torch.empty_like(xc)
        if backend == "triton":
            from . import fused_triton

            cd = fused_triton.compute_dtype(dtype)
            v, a = v.to(cd), a.to(cd)
            h = torch.empty(xc.shape, dtype=cd, device=xc.device) if need_grad else None
            at = torch.empty_like(h) if need_grad else None
            fused_triton.alif_forward(xc, v, a, fused_triton.periodic(beta, nshape, cd),
                                      fused_triton.periodic(rho, nshape, cd), thr, tplus, vr,
                                      mode, bool(need_grad), s, h, at)
            v, a = v.to(dtype), a.to(dtype)
        elif backend == "c":
            h = torch.empty_like(xc) if need_grad else None
            at = torch.empty_like(xc) if need_grad else None
            native_lif.alif_forward(xc, v, a, b, r, thr, tplus, vr, mode, bool(need_grad), s, h,
                                    at)
        elif backend == "numba":
            # without a gradient to come, h and a_{t-1} go to one scratch row per step
            rows = T if need_grad else 1
            h = torch.empty((rows, *nshape), dtype=dtype)
            at = torch.empty((rows, *nshape), dtype=dtype)
            npt = xc.numpy().dtype.type
            _nb_alif_fwd(xc.view(T, -1).numpy(), v.numpy(), a.numpy(), b.numpy(), r.numpy(),
                         npt(thr), npt(tplus), npt(vr), npt(0), npt(1), mode, bool(need_grad),
                         s.view(T, -1).numpy(), h.view(rows, -1).numpy(), at.view(rows, -1).numpy(),
                         numba.get_num_threads())
        else:
            h = torch.empty_like(xc)
            at = torch.empty_like(xc)
            vv, aa, bb, rr = (z.view(nshape) for z in (v, a, b, r))
            for t in range(T):
                ht = torch.mul(bb, vv, out=h[t]).add_(xc[t])
                att = at[t]
                att.copy_(aa)  # a_{t-1}, the adaptation in this step's threshold
                th = att + thr
                spk = ht >= th
                s[t] = spk
                if mode == 0:
                    vv.copy_(torch.where(spk, ht - th, ht))
                elif mode == 1:
                    vv.copy_(torch.where(spk, torch.full_like(ht, vr), ht))
                else:
                    vv.copy_(ht)
                torch.mul(rr, att, out=aa).add_(s[t], alpha=tplus)
        ctx.save_for_backward(h, at, v0, a0, beta, rho)
        ctx.cfg = (thr, tplus, mode, vr, surrogate, detach, backend, dtype)
        return s, v.view(nshape), a.view(nshape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        h, at, v0, a0, beta, rho = ctx.saved_tensors
        thr, tplus, mode, vr, surrogate, detach, backend, xdtype = ctx.cfg
        if backend == "triton":
            return _alif_backward_triton(ctx, h, at, v0, a0, beta, rho, gs, gvT, gaT, xdtype)
        T = h.shape[0]
        nshape = h.shape[1:]
        dtype = h.dtype
        need_beta = ctx.needs_input_grad[3]
        need_rho = ctx.needs_input_grad[4]
        zeros = torch.zeros(nshape, dtype=dtype, device=h.device)
        gs = torch.zeros_like(h) if gs is None else gs.to(dtype).contiguous()
        gv = (zeros if gvT is None else gvT.to(dtype)).expand(nshape).reshape(-1).clone()
        ga = (zeros if gaT is None else gaT.to(dtype)).expand(nshape).reshape(-1).clone()
        b, r, v0f, a0f = (_flat(z, nshape, dtype) for z in (beta, rho, v0, a0))
        gx = torch.empty_like(h)
        gbeta = torch.zeros_like(v0f)
        grho = torch.zeros_like(v0f)
        kind, alpha, c0, c1 = _sg_consts(surrogate)
        if backend == "c":
            dpre = surrogate.derivative(h - (at + thr)).contiguous() if kind < 0 else None
            native_lif.alif_backward(h, at, gs, gv, ga, v0f, b, r, thr, tplus, vr, mode,
                                     bool(detach), kind, alpha, c0, c1, dpre, gx,
                                     gbeta if need_beta else None, grho if need_rho else None)
        elif backend == "numba":
            npt = h.numpy().dtype.type
            dpre = (surrogate.derivative(h - (at + thr)).contiguous().view(T, -1).numpy()
                    if kind < 0 else np.zeros((1, 1), dtype=npt))
            _nb_alif_bwd(h.view(T, -1).numpy(), at.view(T, -1).numpy(), gs.view(T, -1).numpy(),
                         gv.numpy(), ga.numpy(), v0f.numpy(), a0f.numpy(), b.numpy(), r.numpy(),
                         npt(thr), npt(tplus), npt(vr), npt(0), npt(1), mode, bool(detach), kind,
                         npt(alpha), npt(c0), npt(c1), dpre, bool(need_beta), bool(need_rho),
                         gx.view(T, -1).numpy(),
                         gbeta.numpy(), grho.numpy(), numba.get_num_threads())
        else:
            gvv, gaa = gv.view(nshape), ga.view(nshape)
            bb, rr = b.view(nshape), r.view(nshape)
            th_all = at + thr
            spk_all = (h >= th_all).to(dtype)
            for t in range(T - 1, -1, -1):
                ht, s, th = h[t], spk_all[t], th_all[t]
                d = surrogate.derivative(ht - th)
                gst = gs[t] + tplus * gaa
                gth = torch.zeros_like(gvv)
                if mode == 0:
                    gh = gvv.clone()
                    if not detach:
                        gst = gst - th * gvv
                    gth = -gvv * s
                elif mode == 1:
                    gh = gvv * (1 - s)
                    if not detach:
                        gst = gst + gvv * (vr - ht)
                else:
                    gh = gvv.clone()
                gh = gh + gst * d
                gap = rr * gaa + gth - gst * d  # dL/da_{t-1}
                gx[t] = gh
                if need_beta or need_rho:
                    if t > 0:
                        sp = spk_all[t - 1]
                        hp, thp = h[t - 1], th_all[t - 1]
                        if mode == 0:
                            vp = hp - thp * sp
                        elif mode == 1:
                            vp = hp * (1 - sp) + vr * sp
                        else:
                            vp = hp
                    else:
                        vp = v0f.view(nshape)
                    if need_beta:
                        gbeta.view(nshape).add_(gh * vp)
                    if need_rho:
                        grho.view(nshape).add_(gaa * at[t])
                torch.mul(bb, gh, out=gvv)
                gaa.copy_(gap)
        return (
            gx,
            _reduce_to(gv.view(nshape), v0) if ctx.needs_input_grad[1] else None,
            _reduce_to(ga.view(nshape), a0) if ctx.needs_input_grad[2] else None,
            _reduce_to(gbeta.view(nshape), beta) if need_beta else None,
            _reduce_to(grho.view(nshape), rho) if need_rho else None,
            None, None, None, None, None, None, None, None,
        )


def _alif_backward_triton(ctx, h, at, v0, a0, beta, rho, gs, gvT, gaT, xdtype):
    """_ALIFFn.backward on the triton backend (h, at in the kernels' compute dtype)."""
    from . import fused_triton

    thr, tplus, mode, vr, surrogate, detach = ctx.cfg[:6]
    nshape = h.shape[1:]
    cd = h.dtype
    zero = torch.zeros((), dtype=cd, device=h.device)
    gs = torch.zeros_like(h) if gs is None else gs.contiguous()
    gv = _flat(zero if gvT is None else gvT, nshape, cd, copy=True)
    ga = _flat(zero if gaT is None else gaT, nshape, cd, copy=True)
    kind, alpha, c0, c1 = _sg_consts(surrogate)
    dpre = surrogate.derivative(h - (at + thr)).contiguous() if kind < 0 else None
    gx = torch.empty(h.shape, dtype=xdtype, device=h.device)
    gbeta = torch.empty_like(gv) if ctx.needs_input_grad[3] else None
    grho = torch.empty_like(gv) if ctx.needs_input_grad[4] else None
    per = fused_triton.periodic
    fused_triton.alif_backward(h, at, gs, gv, ga, per(v0, nshape, cd), per(beta, nshape, cd),
                               per(rho, nshape, cd), thr, tplus, vr, mode, bool(detach), kind,
                               (alpha, c0, c1), dpre, gx, gbeta, grho)
    need = ctx.needs_input_grad
    return (
        gx,
        _reduce_to(gv.view(nshape), v0).to(v0.dtype) if need[1] else None,
        _reduce_to(ga.view(nshape), a0).to(a0.dtype) if need[2] else None,
        _reduce_to(gbeta.view(nshape), beta).to(beta.dtype) if need[3] else None,
        _reduce_to(grho.view(nshape), rho).to(rho.dtype) if need[4] else None,
        None, None, None, None, None, None, None, None,
    )


def alif_multistep_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    a0: torch.Tensor | None = None,
    beta: float | torch.Tensor = 0.9,
    rho: float | torch.Tensor = 0.95,
    threshold: float = 1.0,
    theta_plus: float = 0.05,
    reset: str = "soft",
    v_reset: float = 0.0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Adaptive-threshold LIF over a whole sequence in one fused kernel.

    Same equations as ``snnbench.neurons.adaptive.alif`` (``a`` is its ``theta``,
    ``rho`` its ``theta_decay`` :math:`= e^{-dt/\tau_\theta}`, dt and tau in ms):
    :math:`h_t = \beta v_{t-1} + x_t`, :math:`\vartheta_t = \vartheta + a_{t-1}`,
    :math:`s_t = \Theta(h_t - \vartheta_t)`, soft reset :math:`v_t = h_t - \vartheta_t s_t`
    (hard: :math:`v_r`), :math:`a_t = \rho a_{t-1} + \theta_+ s_t`. The spike's surrogate
    gradient also flows into the threshold (:math:`\partial s_t/\partial a_{t-1} = -\sigma'`).

    Returns ``(spikes [T, B, ...], v_T, a_T)``; gradients flow to ``x_seq``, ``v0``,
    ``a0`` and tensor ``beta``/``rho``.
    """
    v0, beta, thr, mode, vr, sg, be = _check_common(
        x_seq, v0, beta, threshold, reset, v_reset, surrogate, backend
    )
    tp = check_positive("theta_plus", theta_plus, allow_zero=True)
    a0 = _initial_state("a0", a0, x_seq)
    rho = _decay_factor("rho", rho, x_seq)
    need_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (x_seq, v0, a0, beta, rho)
    )
    return _ALIFFn.apply(x_seq, v0, a0, beta, rho, thr, tp, mode, vr, sg, bool(detach_reset), be,
                         need_grad)


class FusedLIF(torch.nn.Module):
    """Module wrapper of :func:`lif_multistep_fused`: ``(x_seq, v0=None) -> (spikes, v_T)``.

    ``learn_beta=True`` makes beta a per-neuron parameter of shape ``shape``.
    """

    def __init__(
        self,
        shape: int | tuple[int, ...] = (),
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "soft",
        v_reset: float = 0.0,
        surrogate: Surrogate | str = "atan",
        detach_reset: bool = False,
        learn_beta: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        b = float(beta)
        if not (math.isfinite(b) and 0.0 <= b <= 1.0):
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        self.threshold = check_positive("threshold", threshold)
        self.reset = check_choice("reset", reset, RESETS)
        self.v_reset = float(v_reset)
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)
        self.backend = check_choice("backend", backend, BACKENDS)
        if learn_beta:
            self.beta: torch.Tensor | float = torch.nn.Parameter(torch.full(shape, b))
        else:
            self.beta = b

    def forward(
        self, x_seq: torch.Tensor, v0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return lif_multistep_fused(
            x_seq, v0, self.beta, self.threshold, self.reset, self.v_reset, self.surrogate,
            self.detach_reset, self.backend,
        )
