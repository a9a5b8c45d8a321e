r"""Fused recurrent LIF layer: the time loop forward and backward as one autograd node.

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
and the threshold is a number.
"""

from __future__ import annotations

import torch

from .fused import _RESET_CODE, _reduce_to, _reset_v, _spike_and_reset_
from .surrogate import Surrogate

__all__ = ["recurrent_lif_fused"]

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


class _RecurrentLIFFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cur, w_rec, v0, s0, beta, thr, mode, vr, surrogate, detach):  # type: ignore[override]
        T = cur.shape[0]
        c = cur.detach()
        w_t = w_rec.detach().t()
        b = beta.detach()
        S = torch.empty_like(c)
        Hs = torch.empty_like(c)
        v = v0.detach().expand_as(c[0]).clone()
        s = s0.detach().expand_as(c[0]).contiguous()
        bv = torch.empty_like(v)
        # A few ops per step, all into existing buffers, in the reference's order of
        # operations ((s W^T + c) + beta v, no fused multiply-add): a different rounding
        # could flip a spike that sits exactly at threshold.
        for t in range(T):
            h = Hs[t]
            torch.mm(s, w_t, out=h)
            h.add_(c[t])
            h.add_(torch.mul(b, v, out=bv))
            _spike_and_reset_(h, thr, mode, vr, S[t], v)
            s = S[t]
        ctx.save_for_backward(Hs, S, w_rec, v0, s0, beta)
        ctx.cfg = (thr, mode, vr, surrogate, detach)
        return S, v, S[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gS, gvT, gsT):  # type: ignore[override]
        Hs, S, w, v0, s0, beta = ctx.saved_tensors
        thr, mode, vr, surrogate, detach = ctx.cfg
        T = Hs.shape[0]
        b = beta.detach()
        G = torch.empty_like(Hs)
        gv = torch.zeros_like(Hs[0]) if gvT is None else gvT.expand_as(Hs[0]).clone()
        gs = torch.empty_like(Hs[0])
        g_beta = torch.zeros_like(Hs[0]) if ctx.needs_input_grad[4] else None
        # Walk back in chunks of steps: what does not depend on the recurrence (surrogate
        # derivative, dv/dh, v_{t-1}) is computed per chunk in a few whole-tensor ops, and
        # those temporaries stay chunk-sized instead of [T, B, H].
        for t1 in range(T, 0, -_CHUNK):
            t0 = max(0, t1 - _CHUNK)
            sg = surrogate.derivative(Hs[t0:t1] - thr)
            dv = _dv_dh(Hs[t0:t1], S[t0:t1], sg, thr, mode, vr, detach)
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
                if t0 > 0:
                    v_prev = _reset_v(Hs[t0 - 1:t1 - 1], thr, mode, vr)
                    g_beta += (G[t0:t1] * v_prev).sum(0)
                else:
                    g_beta += G[0] * v0
                    if t1 > 1:
                        g_beta += (G[1:t1] * _reset_v(Hs[:t1 - 1], thr, mode, vr)).sum(0)
        g_w = g_v0 = g_s0 = None
        if ctx.needs_input_grad[1]:
            H = Hs.shape[-1]
            # sum_t (g^h_t)^T s_{t-1}: one product over steps 1.. plus the initial spikes
            g_w = G[0].t() @ s0.expand_as(S[0])
            if T > 1:
                g_w = g_w + G[1:].reshape(-1, H).t() @ S[:-1].reshape(-1, H)
        if ctx.needs_input_grad[2]:
            g_v0 = _reduce_to(gv, v0)
        if ctx.needs_input_grad[3]:
            g_s0 = _reduce_to(G[0] @ w, s0)
        gb = _reduce_to(g_beta, beta) if g_beta is not None else None
        return G, g_w, g_v0, g_s0, gb, None, None, None, None, None


def recurrent_lif_fused(
    cur: torch.Tensor,
    w_rec: torch.Tensor,
    v0: torch.Tensor,
    s0: torch.Tensor,
    beta: torch.Tensor,
    threshold: float,
    reset: str,
    v_reset: float,
    surrogate: Surrogate,
    detach_reset: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spikes ``[T, B, H]``, final ``v`` and final spikes ``[B, H]`` of the recurrent LIF
    over the input current ``cur`` ``[T, B, H]`` (already ``W_in x + b``). Arguments are
    checked by the caller (:func:`snnbench.neurons.recurrent.recurrent_lif`); ``v0``,
    ``s0`` and ``beta`` are tensors broadcastable to ``[B, H]``."""
    return _RecurrentLIFFn.apply(cur, w_rec, v0, s0, beta, float(threshold), _RESET_CODE[reset],
                                 float(v_reset), surrogate, bool(detach_reset))
