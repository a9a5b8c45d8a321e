r"""The recurrent LIF (kind ``"rlif"``) in the ``"torch"`` backend: the time loop forward
and backward as one autograd node.

Recurrent LIF over a precomputed input current :math:`c_t = W_{in} x_t + b` ``[T, B, H]``:

.. math::

    h_t = \beta v_{t-1} + c_t + W_{rec} s_{t-1}, \qquad s_t = \Theta(h_t - \vartheta),
    \qquad v_t = \mathrm{reset}(h_t, s_t)

The recurrent product has to run step by step, so no kernel can fuse the whole loop; what
this removes is autograd's per-step bookkeeping (about ten recorded ops and their saved
tensors per step in the reference :func:`snnbench.neurons.recurrent.recurrent_lif`).
Forward runs under ``no_grad`` into preallocated ``[T, B, H]`` buffers and saves the
pre-reset membrane ``h`` and the spikes ``s``. Backward runs the reverse recurrence, with
:math:`\sigma'` the surrogate derivative at :math:`h_t - \vartheta`:

.. math::

    g^s_t = \frac{\partial L}{\partial s_t} + g^h_{t+1} W_{rec},\qquad
    g^h_t = g^s_t \sigma'_t + g^v_t \frac{dv_t}{dh_t},\qquad
    g^v_{t-1} = \beta g^h_t,\qquad \frac{\partial L}{\partial c_t} = g^h_t

and the weight gradient as one product over all steps,
:math:`\partial L/\partial W_{rec} = \sum_t (g^h_t)^\top s_{t-1}`. Torch ops only, so the
same code runs on any device. Used by ``recurrent_lif`` when there is no refractory period
and the threshold is a number. States ``(v, s)``, parameters ``(w_rec, beta)``.
"""

from __future__ import annotations

import torch

from ._contract import register
from ._flat import reduce_to
from .reference import reset_v, spike_and_reset_

# Steps per chunk of the backward pass (bounds its temporaries to _CHUNK x [B, H]).
_CHUNK = 32


def _dv_dh(h: torch.Tensor, s: torch.Tensor, sg: torch.Tensor, thr: float, mode: int, vr: float,
           detach: bool) -> torch.Tensor | float:
    """dv_t/dh_t including the path through the spike unless ``detach``."""
    if mode == 0:
        return 1.0 if detach else 1.0 - thr * sg
    if mode == 1:
        return (1.0 - s) if detach else (1.0 - s) + (vr - h) * sg
    return 1.0


class RLIF:
    def forward(self, x, states0, params, c, save):
        v0, s0 = states0
        w_rec, beta = params
        T = x.shape[0]
        w_t = w_rec.detach().t()
        b = beta.detach()
        S = torch.empty_like(x)
        Hs = torch.empty_like(x)
        v = v0.detach().expand_as(x[0]).clone()
        s = s0.detach().expand_as(x[0]).contiguous()
        bv = torch.empty_like(v)
        # A few ops per step, all into existing buffers, in the reference's order of
        # operations ((s W^T + c) + beta v, no fused multiply-add): a different rounding
        # could flip a spike that sits exactly at threshold.
        for t in range(T):
            h = Hs[t]
            torch.mm(s, w_t, out=h)
            h.add_(x[t])
            h.add_(torch.mul(b, v, out=bv))
            spike_and_reset_(h, c.thr, c.mode, c.vr, S[t], v)
            s = S[t]
        return S, (v, S[-1].clone()), (Hs, S)

    def backward(self, saved, gS, gfinal, states0, params, c, need, xdtype):
        Hs, S = saved
        v0, s0 = states0
        w, beta = params
        gvT, gsT = gfinal
        thr, mode, vr = c.thr, c.mode, c.vr
        T = Hs.shape[0]
        b = beta.detach()
        G = torch.empty_like(Hs)
        gv = torch.zeros_like(Hs[0]) if gvT is None else gvT.expand_as(Hs[0]).clone()
        gs = torch.empty_like(Hs[0])
        g_beta = torch.zeros_like(Hs[0]) if need[3] else None
        # Walk back in chunks of steps: what does not depend on the recurrence (surrogate
        # derivative, dv/dh, v_{t-1}) is computed per chunk in a few whole-tensor ops, and
        # those temporaries stay chunk-sized instead of [T, B, H].
        for t1 in range(T, 0, -_CHUNK):
            t0 = max(0, t1 - _CHUNK)
            sg = c.surrogate.derivative(Hs[t0:t1] - thr)
            dv = _dv_dh(Hs[t0:t1], S[t0:t1], sg, thr, mode, vr, c.detach)
            for t in range(t1 - 1, t0 - 1, -1):
                i = t - t0
                g_out = gS[t] if gS is not None else torch.zeros_like(gs)
                if t < T - 1:
                    torch.addmm(g_out, G[t + 1], w, out=gs)  # s_t feeds h_{t+1} through W_rec
                else:
                    gs.copy_(g_out)
                    if gsT is not None:
                        gs += gsT
                gh = G[t]
                torch.mul(gs, sg[i], out=gh)
                if isinstance(dv, torch.Tensor):
                    gh.addcmul_(gv, dv[i])
                else:
                    gh.add_(gv)
                torch.mul(gh, b, out=gv)  # g^v_{t-1} = beta g^h_t
            if g_beta is not None:
                _add_beta_terms(g_beta, G, Hs, v0, t0, t1, thr, mode, vr)
        return G, self._weights_and_states(G, S, w, s0, v0, gv, g_beta, beta, need)

    @staticmethod
    def _weights_and_states(G, S, w, s0, v0, gv, g_beta, beta, need):
        g_w = g_v0 = g_s0 = None
        if need[2]:
            H = G.shape[-1]
            # sum_t (g^h_t)^T s_{t-1}: one product over steps 1.. plus the initial spikes
            g_w = G[0].t() @ s0.expand_as(S[0])
            if G.shape[0] > 1:
                g_w = g_w + G[1:].reshape(-1, H).t() @ S[:-1].reshape(-1, H)
        if need[0]:
            g_v0 = reduce_to(gv, v0)
        if need[1]:
            g_s0 = reduce_to(G[0] @ w, s0)
        gb = reduce_to(g_beta, beta) if g_beta is not None else None
        return [g_v0, g_s0, g_w, gb]


def _add_beta_terms(g_beta, G, Hs, v0, t0, t1, thr, mode, vr):
    """g_beta += sum over steps t0..t1-1 of g^h_t v_{t-1} (v_{-1} = v0)."""
    if t0 > 0:
        g_beta += (G[t0:t1] * reset_v(Hs[t0 - 1:t1 - 1], thr, mode, vr)).sum(0)
        return
    g_beta += G[0] * v0
    if t1 > 1:
        g_beta += (G[1:t1] * reset_v(Hs[:t1 - 1], thr, mode, vr)).sum(0)


register("rlif", "torch", RLIF())
