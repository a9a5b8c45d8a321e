r"""The ``"torch"`` backend: every kind's forward and reverse recurrence in torch ops.

Runs on any device and dtype. The forward writes into preallocated buffers under
``no_grad``, one Python step per time step (a few in-place ops each); the backward walks
time in reverse with the kind's hand-derived gradients. Multiply and add stay separate ops (no
``addcmul``): a fused multiply-add would round differently from the reference step
``beta * v + x`` and flip spikes that sit exactly at threshold.

Backward of a LIF-type membrane, with :math:`\sigma'` the surrogate derivative at
:math:`u_t = h_t - \vartheta_t`, :math:`g^s_t = \partial L/\partial s_t` (from the layer
above) and :math:`g^v_t = \partial L/\partial v_t` (from step :math:`t+1` or the final
state):

.. math::

    g^h_t = g^s_t \sigma'(u_t) + g^v_t \frac{dv_t}{dh_t},\qquad
    g^v_{t-1} = \beta g^h_t,\qquad
    \frac{\partial L}{\partial \beta} = \sum_t g^h_t v_{t-1}

where :math:`dv_t/dh_t` includes the path through the spike unless ``detach_reset``: soft
:math:`1 - \vartheta\sigma'`, hard :math:`(1 - s_t) + (v_r - h_t)\sigma'`, none 1.

- LIF (``"lif"``): :math:`h_t = \beta v_{t-1} + x_t`, so :math:`\partial L/\partial x_t = g^h_t`.
- adaptive LIF (``"alif"``, threshold :math:`\vartheta + a_{t-1}`,
  :math:`a_t = \rho a_{t-1} + \theta_+ s_t`): the gradient reaching :math:`s_t` also
  carries :math:`\theta_+ \partial L/\partial a_t`, and
  :math:`\partial L/\partial a_{t-1} = \rho\,\partial L/\partial a_t - (\text{that})\sigma'`
  :math:`-\ g^v_t s_t` (soft reset); :math:`\partial L/\partial\rho = \sum_t (\partial
  L/\partial a_t) a_{t-1}`.
- current-based LIF (``"cuba"``, :math:`i_t = \alpha i_{t-1} + x_t`,
  :math:`h_t = \beta v_{t-1} + i_t`): :math:`q_t = \partial L/\partial i_t = g^h_t + \alpha
  q_{t+1} = \partial L/\partial x_t`; :math:`\partial L/\partial\alpha = \sum_t q_t i_{t-1}`.
"""

from __future__ import annotations

import torch

from ._contract import register
from ._flat import FlatKernel

__all__ = ["spike_and_reset_", "reset_v"]


def spike_and_reset_(h: torch.Tensor, thr, mode: int, vr: float, s_out: torch.Tensor,
                     v_out: torch.Tensor) -> None:
    """The spike and reset of one step in place, shared by every kind of this backend:
    ``s_out = 1[h >= thr]`` (0./1. in h's dtype), ``v_out = reset(h, s)``; ``thr`` is a
    number or a tensor (the adaptive threshold)."""
    torch.ge(h, thr, out=s_out)
    if mode == 0:
        if isinstance(thr, torch.Tensor):
            torch.sub(h, thr * s_out, out=v_out)
        else:
            torch.sub(h, s_out, alpha=thr, out=v_out)
    elif mode == 1:
        torch.where(s_out.bool(), torch.full_like(h, vr), h, out=v_out)
    else:
        v_out.copy_(h)


def reset_v(h: torch.Tensor, thr, mode: int, vr: float) -> torch.Tensor:
    """v_t from h_t for the given reset mode (no autograd)."""
    if mode == 0:
        return torch.where(h >= thr, h - thr, h)
    if mode == 1:
        return torch.where(h >= thr, torch.full_like(h, vr), h)
    return h


def _dh(gs, g, h, d, thr, mode, vr, detach):
    """dL/dh_t of a LIF-type membrane from dL/ds_t (gs), dL/dv_t (g) and sigma' (d)."""
    if mode == 0:
        return g + (gs if detach else gs - thr * g) * d
    if mode == 1:
        keep = g.masked_fill(h >= thr, 0)
        return keep + (gs if detach else gs + g * (vr - h)) * d
    return g + gs * d


class LIF(FlatKernel):
    def fwd(self, x, states, params, c, save, s):
        nshape = x.shape[1:]
        vv, bb = states[0].view(nshape), params[0].view(nshape)
        h = torch.empty_like(x) if save else None
        for t in range(x.shape[0]):
            ht = h[t] if save else torch.empty_like(vv)
            torch.mul(bb, vv, out=ht).add_(x[t])
            spike_and_reset_(ht, c.thr, c.mode, c.vr, s[t], vv)
        return (h,)

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        (h,) = saved
        nshape = h.shape[1:]
        gvv, bb, v0 = g[0].view(nshape), params[0].view(nshape), states0[0].view(nshape)
        gbb = gparams[0].view(nshape) if gparams[0] is not None else None
        for t in range(h.shape[0] - 1, -1, -1):
            # per step, not over the whole [T, ...] at once: the temporaries of
            # derivative() would otherwise each be as large as h
            ht = h[t]
            gh = _dh(gs[t], gvv, ht, c.surrogate.derivative(ht - c.thr), c.thr, c.mode, c.vr,
                     c.detach)
            gx[t] = gh
            if gbb is not None:
                vp = reset_v(h[t - 1], c.thr, c.mode, c.vr) if t > 0 else v0
                gbb.add_(gh * vp)
            torch.mul(bb, gh, out=gvv)


class ALIF(FlatKernel):
    def fwd(self, x, states, params, c, save, s):
        nshape = x.shape[1:]
        vv, aa = (z.view(nshape) for z in states)
        bb, rr = (z.view(nshape) for z in params)
        h, at = torch.empty_like(x), torch.empty_like(x)
        for t in range(x.shape[0]):
            ht = torch.mul(bb, vv, out=h[t]).add_(x[t])
            att = at[t]
            att.copy_(aa)  # a_{t-1}, the adaptation in this step's threshold
            spike_and_reset_(ht, att + c.thr, c.mode, c.vr, s[t], vv)
            torch.mul(rr, att, out=aa).add_(s[t], alpha=c.extra[0])
        return h, at

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        h, at = saved
        nshape, dtype = h.shape[1:], h.dtype
        thr, mode, vr, tplus = c.thr, c.mode, c.vr, c.extra[0]
        gvv, gaa = (z.view(nshape) for z in g)
        bb, rr = (z.view(nshape) for z in params)
        gbeta, grho = gparams
        th_all = at + thr
        spk_all = (h >= th_all).to(dtype)
        for t in range(h.shape[0] - 1, -1, -1):
            ht, sp, th = h[t], spk_all[t], th_all[t]
            d = c.surrogate.derivative(ht - th)
            gst = gs[t] + tplus * gaa
            gth = torch.zeros_like(gvv)
            if mode == 0:
                gh = gvv.clone()
                if not c.detach:
                    gst = gst - th * gvv
                gth = -gvv * sp
            elif mode == 1:
                gh = gvv * (1 - sp)
                if not c.detach:
                    gst = gst + gvv * (vr - ht)
            else:
                gh = gvv.clone()
            gh = gh + gst * d
            gap = rr * gaa + gth - gst * d  # dL/da_{t-1}
            gx[t] = gh
            if gbeta is not None:
                vp = (reset_v(h[t - 1], th_all[t - 1], mode, vr) if t > 0
                      else states0[0].view(nshape))
                gbeta.view(nshape).add_(gh * vp)
            if grho is not None:
                grho.view(nshape).add_(gaa * at[t])
            torch.mul(bb, gh, out=gvv)
            gaa.copy_(gap)


class CUBA(FlatKernel):
    def fwd(self, x, states, params, c, save, s):
        nshape = x.shape[1:]
        ii, vv = (z.view(nshape) for z in states)
        al, bb = (z.view(nshape) for z in params)
        h = torch.empty_like(x) if save else None
        cur = torch.empty_like(x) if save else None
        for t in range(x.shape[0]):
            it = cur[t] if save else torch.empty_like(ii)
            torch.mul(al, ii, out=it).add_(x[t])
            ii.copy_(it)
            ht = h[t] if save else torch.empty_like(vv)
            torch.mul(bb, vv, out=ht).add_(it)
            spike_and_reset_(ht, c.thr, c.mode, c.vr, s[t], vv)
        return h, cur

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        h, cur = saved
        nshape = h.shape[1:]
        gq, gvv = (z.view(nshape) for z in g)  # dL/di_t from step t+1, dL/dv_t
        al, bb = (z.view(nshape) for z in params)
        i0, v0 = (z.view(nshape) for z in states0)
        galpha, gbeta = gparams
        for t in range(h.shape[0] - 1, -1, -1):
            ht = h[t]
            gh = _dh(gs[t], gvv, ht, c.surrogate.derivative(ht - c.thr), c.thr, c.mode, c.vr,
                     c.detach)
            q = gh + gq  # dL/di_t: through h_t and through i_{t+1}
            gx[t] = q
            if gbeta is not None:
                vp = reset_v(h[t - 1], c.thr, c.mode, c.vr) if t > 0 else v0
                gbeta.view(nshape).add_(gh * vp)
            if galpha is not None:
                galpha.view(nshape).add_(q * (cur[t - 1] if t > 0 else i0))
            torch.mul(bb, gh, out=gvv)
            torch.mul(al, q, out=gq)


register("lif", "torch", LIF())
register("alif", "torch", ALIF())
register("cuba", "torch", CUBA())
