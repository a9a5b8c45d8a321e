r"""The ``"triton"`` backend: the LIF and adaptive LIF kernels for CUDA devices.

The torch backend runs a CUDA tensor through a Python loop over time, several kernel
launches per step; at T = 100 the launches, not the arithmetic, set the pace. Here one
launch runs the whole sequence: each program owns ``BLOCK`` neurons, keeps their state in
registers and walks time, so every element of ``x`` is read once and every spike written
once. The equations are those of the torch backend (:mod:`.reference` has the backward
recurrences); nothing here is specific to a GPU except the launch, so the same
kernels also run under Triton's CPU interpreter (``TRITON_INTERPRET=1``), which is how the
tests check them on a machine without a GPU.

Scalars (threshold, reset value, surrogate constants) travel in a small tensor of the
compute dtype, not as launch arguments: Triton passes Python floats as float32, which would
round them in float64 runs. On a GPU that tensor is copied from pinned memory without
blocking: a plain host-to-device copy would wait for the queue to drain on every call,
which leaves the GPU idle while Python launches the next kernels. The compute dtype is float64
for float64 inputs and float32 otherwise (half-precision inputs are widened in registers;
the saved membrane is float32). Per-neuron parameters that repeat (a scalar beta, or one
beta per feature shared by the batch) are read at ``offset % period`` instead of being
expanded to every neuron.
Multiply-add contraction is switched off so ``beta * v + x`` rounds as the reference does
and threshold ties fall the same way.

Imported by the registry only where triton is installed.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._contract import register, sg_consts
from ._flat import flat, reduce_to

__all__ = ["lif_forward", "lif_backward", "alif_forward", "alif_backward", "periodic",
           "compute_dtype", "BLOCK"]

BLOCK = 256  # neurons per program: enough programs to fill a GPU from B * H >= 30k


@triton.jit
def _surrogate(u, KIND: tl.constexpr, alpha, c0, c1):
    """sigma'(u) of the built-in surrogates (codes of kernels.SG_CODE)."""
    if KIND == 0:  # ATan: (alpha/2) / (1 + (pi/2 alpha u)^2); c0 = alpha/2, c1 = pi/2 alpha
        z = c1 * u
        d = c0 / (1.0 + z * z)
    elif KIND == 1:  # FastSigmoid: 1 / (1 + alpha |u|)^2
        z = 1.0 + alpha * tl.abs(u)
        d = 1.0 / (z * z)
    elif KIND == 2:  # Triangle: alpha * max(0, 1 - alpha |u|)
        z = 1.0 - alpha * tl.abs(u)
        d = tl.where(z > 0.0, alpha * z, 0.0 * z)
    else:  # Sigmoid: alpha * sig(alpha u) (1 - sig(alpha u))
        sg = 1.0 / (1.0 + tl.exp(-alpha * u))
        d = alpha * sg * (1.0 - sg)
    return d


@triton.jit
def _reset(h, th, vr, MODE: tl.constexpr):
    """v_t from h_t and its threshold th: soft (h - th), hard (v_reset) or no reset."""
    if MODE == 0:
        v = tl.where(h >= th, h - th, h)
    elif MODE == 1:
        v = tl.where(h >= th, vr + 0.0 * h, h)
    else:
        v = h
    return v


@triton.jit
def _lif_fwd_kernel(x_ptr, v_ptr, b_ptr, b_period, s_ptr, h_ptr, p_ptr, T, N,
                    MODE: tl.constexpr, SAVE: tl.constexpr, BLOCK: tl.constexpr):
    """x, s, h: [T, N]; v: [N], v0 in and v_T out; b: beta, neuron i reads b[i % b_period]."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    v = tl.load(v_ptr + offs, mask=m, other=0.0)
    b = tl.load(b_ptr + offs % b_period, mask=m, other=0.0)
    thr = tl.load(p_ptr + 0)
    vr = tl.load(p_ptr + 1)
    for t in range(T):
        row = t * N + offs
        x = tl.load(x_ptr + row, mask=m, other=0.0).to(v.dtype)
        h = b * v + x
        fire = h >= thr
        sp = fire.to(v.dtype)
        tl.store(s_ptr + row, sp.to(s_ptr.dtype.element_ty), mask=m)
        if SAVE:
            tl.store(h_ptr + row, h, mask=m)
        if MODE == 0:
            v = h - thr * sp
        elif MODE == 1:
            v = tl.where(fire, vr + 0.0 * h, h)
        else:
            v = h
    tl.store(v_ptr + offs, v, mask=m)


@triton.jit
def _lif_bwd_kernel(h_ptr, gs_ptr, gv_ptr, v0_ptr, v0_period, b_ptr, b_period, d_ptr, gx_ptr,
                    gb_ptr, p_ptr, T, N,
                    MODE: tl.constexpr, DETACH: tl.constexpr, KIND: tl.constexpr,
                    NEED_BETA: tl.constexpr, BLOCK: tl.constexpr):
    """Reverse recurrence. gv: [N], dL/dv_T in and dL/dv0 out; gb: [N] dL/dbeta out;
    (alpha, c0, c1): surrogate constants; d: [T, N] precomputed sigma' when KIND < 0."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    g = tl.load(gv_ptr + offs, mask=m, other=0.0)
    b = tl.load(b_ptr + offs % b_period, mask=m, other=0.0)
    thr = tl.load(p_ptr + 0)
    vr = tl.load(p_ptr + 1)
    alpha = tl.load(p_ptr + 2)
    c0 = tl.load(p_ptr + 3)
    c1 = tl.load(p_ptr + 4)
    gb = 0.0 * g
    for i in range(T):
        t = T - 1 - i
        row = t * N + offs
        h = tl.load(h_ptr + row, mask=m, other=0.0)
        gs = tl.load(gs_ptr + row, mask=m, other=0.0).to(h.dtype)
        if KIND < 0:
            d = tl.load(d_ptr + row, mask=m, other=0.0).to(h.dtype)
        else:
            d = _surrogate(h - thr, KIND, alpha, c0, c1)
        if MODE == 0:
            if DETACH:
                gh = g + gs * d
            else:
                gh = g + (gs - thr * g) * d
        elif MODE == 1:
            keep = tl.where(h >= thr, 0.0 * g, g)
            if DETACH:
                gh = keep + gs * d
            else:
                gh = keep + (gs + g * (vr - h)) * d
        else:
            gh = g + gs * d
        tl.store(gx_ptr + row, gh.to(gx_ptr.dtype.element_ty), mask=m)
        if NEED_BETA:
            # v_{t-1}: reset(h_{t-1}) for t > 0, v0 at t = 0 (both loads masked, one kept;
            # the step broadcast to a vector so the mask is a vector also where t is a
            # Python int, as in the CPU interpreter)
            hp = tl.load(h_ptr + row - N, mask=m & (offs * 0 + t > 0), other=0.0)
            vp = _reset(hp, thr, vr, MODE)
            v0 = tl.load(v0_ptr + offs % v0_period, mask=m & (offs * 0 + t == 0), other=0.0)
            gb += gh * tl.where(t > 0, vp, v0)
        g = b * gh
    tl.store(gv_ptr + offs, g, mask=m)
    if NEED_BETA:
        tl.store(gb_ptr + offs, gb, mask=m)


@triton.jit
def _alif_fwd_kernel(x_ptr, v_ptr, a_ptr, b_ptr, b_period, r_ptr, r_period, s_ptr, h_ptr,
                     at_ptr, p_ptr, T, N,
                     MODE: tl.constexpr, SAVE: tl.constexpr, BLOCK: tl.constexpr):
    """Adaptive LIF forward. v, a: [N] state in and out; b, r: beta and rho (periodic as in
    the LIF kernel); with SAVE, h and at ([T, N]) get h_t and a_{t-1}."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    v = tl.load(v_ptr + offs, mask=m, other=0.0)
    a = tl.load(a_ptr + offs, mask=m, other=0.0)
    b = tl.load(b_ptr + offs % b_period, mask=m, other=0.0)
    r = tl.load(r_ptr + offs % r_period, mask=m, other=0.0)
    thr = tl.load(p_ptr + 0)
    vr = tl.load(p_ptr + 1)
    tplus = tl.load(p_ptr + 2)
    for t in range(T):
        row = t * N + offs
        x = tl.load(x_ptr + row, mask=m, other=0.0).to(v.dtype)
        h = b * v + x
        th = a + thr
        fire = h >= th
        sp = fire.to(v.dtype)
        tl.store(s_ptr + row, sp.to(s_ptr.dtype.element_ty), mask=m)
        if SAVE:
            tl.store(h_ptr + row, h, mask=m)
            tl.store(at_ptr + row, a, mask=m)
        if MODE == 0:
            v = h - th * sp
        elif MODE == 1:
            v = tl.where(fire, vr + 0.0 * h, h)
        else:
            v = h
        a = r * a + tplus * sp
    tl.store(v_ptr + offs, v, mask=m)
    tl.store(a_ptr + offs, a, mask=m)


@triton.jit
def _alif_bwd_kernel(h_ptr, at_ptr, gs_ptr, gv_ptr, ga_ptr, v0_ptr, v0_period, b_ptr, b_period,
                     r_ptr, r_period, d_ptr, gx_ptr, gb_ptr, gr_ptr, p_ptr, T, N,
                     MODE: tl.constexpr, DETACH: tl.constexpr, KIND: tl.constexpr,
                     NEED_BETA: tl.constexpr, NEED_RHO: tl.constexpr, BLOCK: tl.constexpr):
    """Reverse recurrence of the adaptive LIF (the numba kernel's equations): with
    th = thr + a_{t-1}, g = dL/dv_t, q = dL/da_t, the gradient reaching s_t is
    gsj = dL/ds_t + theta_plus q (+ the reset path unless DETACH); dL/dh_t = (path through
    v) + gsj d; dL/da_{t-1} = rho q - (soft reset) g s_t - gsj d. gv, ga: [N] final-state
    gradients in, initial-state gradients out."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < N
    g = tl.load(gv_ptr + offs, mask=m, other=0.0)
    q = tl.load(ga_ptr + offs, mask=m, other=0.0)
    b = tl.load(b_ptr + offs % b_period, mask=m, other=0.0)
    r = tl.load(r_ptr + offs % r_period, mask=m, other=0.0)
    thr = tl.load(p_ptr + 0)
    vr = tl.load(p_ptr + 1)
    tplus = tl.load(p_ptr + 2)
    alpha = tl.load(p_ptr + 3)
    c0 = tl.load(p_ptr + 4)
    c1 = tl.load(p_ptr + 5)
    gb = 0.0 * g
    gr = 0.0 * g
    for i in range(T):
        t = T - 1 - i
        row = t * N + offs
        h = tl.load(h_ptr + row, mask=m, other=0.0)
        ap = tl.load(at_ptr + row, mask=m, other=0.0)
        gs = tl.load(gs_ptr + row, mask=m, other=0.0).to(h.dtype)
        th = thr + ap
        if KIND < 0:
            d = tl.load(d_ptr + row, mask=m, other=0.0).to(h.dtype)
        else:
            d = _surrogate(h - th, KIND, alpha, c0, c1)
        if NEED_RHO:
            gr += q * ap
        fire = h >= th
        sp = fire.to(h.dtype)
        gsj = gs + tplus * q
        if MODE == 0:
            if not DETACH:
                gsj = gsj - th * g
            gh = g + gsj * d
            q = r * q - g * sp - gsj * d
        elif MODE == 1:
            if not DETACH:
                gsj = gsj + g * (vr - h)
            gh = tl.where(fire, 0.0 * g, g) + gsj * d
            q = r * q - gsj * d
        else:
            gh = g + gsj * d
            q = r * q - gsj * d
        tl.store(gx_ptr + row, gh.to(gx_ptr.dtype.element_ty), mask=m)
        if NEED_BETA:
            hp = tl.load(h_ptr + row - N, mask=m & (offs * 0 + t > 0), other=0.0)
            app = tl.load(at_ptr + row - N, mask=m & (offs * 0 + t > 0), other=0.0)
            vp = _reset(hp, thr + app, vr, MODE)
            v0 = tl.load(v0_ptr + offs % v0_period, mask=m & (offs * 0 + t == 0), other=0.0)
            gb += gh * tl.where(t > 0, vp, v0)
        g = b * gh
    tl.store(gv_ptr + offs, g, mask=m)
    tl.store(ga_ptr + offs, q, mask=m)
    if NEED_BETA:
        tl.store(gb_ptr + offs, gb, mask=m)
    if NEED_RHO:
        tl.store(gr_ptr + offs, gr, mask=m)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Register/state dtype of the kernels for inputs of ``dtype``."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def periodic(t: torch.Tensor, nshape: torch.Size, dtype: torch.dtype) -> tuple[torch.Tensor, int]:
    """``t`` (broadcastable to ``nshape``) as a flat tensor of ``dtype`` and its period:
    neuron i of the flattened ``nshape`` reads element ``i % period``. A scalar or a tensor
    equal to the trailing dimensions of ``nshape`` stays as small as it is; any other
    broadcast is expanded to every neuron."""
    t = t.detach().to(dtype)
    shape = list(t.shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    if not shape or tuple(shape) == tuple(nshape[len(nshape) - len(shape):]):
        flat = t.reshape(-1).contiguous()
        return flat, flat.numel()
    flat = t.expand(nshape).reshape(-1).contiguous()
    return flat, flat.numel()


def _scalars(values: list[float], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = torch.tensor(values, dtype=compute_dtype(dtype))
    if device.type != "cuda":
        return t  # the CPU interpreter reads host memory
    return t.pin_memory().to(device, non_blocking=True)


def _grid(N: int) -> tuple[int]:
    return (triton.cdiv(N, BLOCK),)


def _launch() -> dict:
    # enable_fp_fusion=False keeps mul and add apart (see the module docstring)
    return dict(BLOCK=BLOCK, enable_fp_fusion=False)


def lif_forward(x: torch.Tensor, v: torch.Tensor, beta: tuple[torch.Tensor, int], thr: float,
                vr: float, mode: int, save: bool, s: torch.Tensor, h: torch.Tensor | None) -> None:
    """Fill ``s`` (and ``h`` when ``save``) from contiguous ``x`` [T, ...]; ``v`` (flat,
    compute dtype) holds v0 on entry and v_T on exit; ``beta`` from :func:`periodic`."""
    T = x.shape[0]
    N = v.numel()
    p = _scalars([thr, vr], x.dtype, x.device)
    _lif_fwd_kernel[_grid(N)](x, v, *beta, s, h if save else s, p, T, N, MODE=mode, SAVE=save,
                              **_launch())


def lif_backward(h: torch.Tensor, gs: torch.Tensor, gv: torch.Tensor,
                 v0: tuple[torch.Tensor, int], beta: tuple[torch.Tensor, int], thr: float,
                 vr: float, mode: int, detach: bool, kind: int, sg: tuple[float, float, float],
                 dpre: torch.Tensor | None, gx: torch.Tensor, gb: torch.Tensor | None) -> None:
    """Fill ``gx`` [T, ...]; ``gv`` holds dL/dv_T on entry and dL/dv0 on exit; ``gb``
    (when given) receives dL/dbeta per neuron. ``sg`` = (alpha, c0, c1)."""
    T = h.shape[0]
    N = gv.numel()
    p = _scalars([thr, vr, *sg], h.dtype, h.device)
    _lif_bwd_kernel[_grid(N)](h, gs, gv, *v0, *beta, h if dpre is None else dpre, gx,
                              gv if gb is None else gb, p, T, N, MODE=mode, DETACH=detach,
                              KIND=kind, NEED_BETA=gb is not None, **_launch())


def alif_forward(x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, beta: tuple[torch.Tensor, int],
                 rho: tuple[torch.Tensor, int], thr: float, tplus: float, vr: float, mode: int,
                 save: bool, s: torch.Tensor, h: torch.Tensor | None,
                 at: torch.Tensor | None) -> None:
    """Adaptive LIF forward; ``v``, ``a`` flat state in and out; with ``save`` fills
    ``h`` (h_t) and ``at`` (a_{t-1})."""
    T = x.shape[0]
    N = v.numel()
    p = _scalars([thr, vr, tplus], x.dtype, x.device)
    _alif_fwd_kernel[_grid(N)](x, v, a, *beta, *rho, s, h if save else s, at if save else s, p,
                               T, N, MODE=mode, SAVE=save, **_launch())


def alif_backward(h: torch.Tensor, at: torch.Tensor, gs: torch.Tensor, gv: torch.Tensor,
                  ga: torch.Tensor, v0: tuple[torch.Tensor, int], beta: tuple[torch.Tensor, int],
                  rho: tuple[torch.Tensor, int], thr: float, tplus: float, vr: float, mode: int,
                  detach: bool, kind: int, sg: tuple[float, float, float],
                  dpre: torch.Tensor | None, gx: torch.Tensor, gb: torch.Tensor | None,
                  gr: torch.Tensor | None) -> None:
    """Adaptive LIF backward; ``gv``/``ga`` final-state gradients in, initial out."""
    T = h.shape[0]
    N = gv.numel()
    p = _scalars([thr, vr, tplus, *sg], h.dtype, h.device)
    _alif_bwd_kernel[_grid(N)](h, at, gs, gv, ga, *v0, *beta, *rho, h if dpre is None else dpre,
                               gx, gv if gb is None else gb, gv if gr is None else gr, p, T, N,
                               MODE=mode, DETACH=detach, KIND=kind, NEED_BETA=gb is not None,
                               NEED_RHO=gr is not None, **_launch())


class LIF:
    """The LIF kind on this backend (state in the compute dtype, parameters periodic)."""

    def forward(self, x, states0, params, c, save):
        nshape, dtype = x.shape[1:], x.dtype
        cd = compute_dtype(dtype)  # state in float32 for half inputs
        v = flat(states0[0], nshape, cd, copy=True)
        s = torch.empty_like(x)
        h = torch.empty(x.shape, dtype=cd, device=x.device) if save else None
        lif_forward(x, v, periodic(params[0], nshape, cd), c.thr, c.vr, c.mode, bool(save), s, h)
        return s, (v.to(dtype).view(nshape),), (h,)

    def backward(self, saved, gs, gfinal, states0, params, c, need, xdtype):
        (h,) = saved
        nshape, cd = h.shape[1:], h.dtype
        v0, beta = states0[0], params[0]
        gs = torch.zeros_like(h) if gs is None else gs.contiguous()
        gvT = gfinal[0]
        gv = flat(torch.zeros((), dtype=cd, device=h.device) if gvT is None else gvT, nshape, cd,
                  copy=True)
        kind, alpha, c0, c1 = sg_consts(c.surrogate)
        dpre = c.surrogate.derivative(h - c.thr).contiguous() if kind < 0 else None
        gx = torch.empty(h.shape, dtype=xdtype, device=h.device)
        gbeta = torch.empty_like(gv) if need[1] else None
        lif_backward(h, gs, gv, periodic(v0, nshape, cd), periodic(beta, nshape, cd), c.thr, c.vr,
                     c.mode, bool(c.detach), kind, (alpha, c0, c1), dpre, gx, gbeta)
        gv0 = reduce_to(gv.view(nshape), v0).to(v0.dtype) if need[0] else None
        gb = reduce_to(gbeta.view(nshape), beta).to(beta.dtype) if gbeta is not None else None
        return gx, [gv0, gb]


class ALIF:
    """The adaptive LIF kind on this backend."""

    def forward(self, x, states0, params, c, save):
        nshape, dtype = x.shape[1:], x.dtype
        cd = compute_dtype(dtype)
        v, a = (flat(t, nshape, cd, copy=True) for t in states0)
        s = torch.empty_like(x)
        h = torch.empty(x.shape, dtype=cd, device=x.device) if save else None
        at = torch.empty_like(h) if save else None
        alif_forward(x, v, a, periodic(params[0], nshape, cd), periodic(params[1], nshape, cd),
                     c.thr, c.extra[0], c.vr, c.mode, bool(save), s, h, at)
        return s, (v.to(dtype).view(nshape), a.to(dtype).view(nshape)), (h, at)

    def backward(self, saved, gs, gfinal, states0, params, c, need, xdtype):
        h, at = saved
        nshape, cd = h.shape[1:], h.dtype
        zero = torch.zeros((), dtype=cd, device=h.device)
        gs = torch.zeros_like(h) if gs is None else gs.contiguous()
        gv, ga = (flat(zero if g is None else g, nshape, cd, copy=True) for g in gfinal)
        kind, alpha, c0, c1 = sg_consts(c.surrogate)
        dpre = c.surrogate.derivative(h - (at + c.thr)).contiguous() if kind < 0 else None
        gx = torch.empty(h.shape, dtype=xdtype, device=h.device)
        gbeta = torch.empty_like(gv) if need[2] else None
        grho = torch.empty_like(gv) if need[3] else None
        v0, beta, rho = states0[0], params[0], params[1]
        alif_backward(h, at, gs, gv, ga, periodic(v0, nshape, cd), periodic(beta, nshape, cd),
                      periodic(rho, nshape, cd), c.thr, c.extra[0], c.vr, c.mode, bool(c.detach),
                      kind, (alpha, c0, c1), dpre, gx, gbeta, grho)
        outs = (gv, ga, gbeta, grho)
        likes = (*states0, *params)
        return gx, [reduce_to(g.view(nshape), t).to(t.dtype) if n and g is not None else None
                    for g, t, n in zip(outs, likes, need)]


register("lif", "triton", LIF())
register("alif", "triton", ALIF())
