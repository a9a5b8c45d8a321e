r"""Reward-modulated STDP rules on the plasticity engine (:class:`~snnbench.learning.stdp.Rule`).

All three use the pair-STDP traces and update of :mod:`snnbench.learning.stdp` (``stdp``:
an :class:`STDPParams` without triplet term), so one implementation covers ``nn.Linear`` and
``nn.Conv2d`` through :func:`stdp_sequence` / :class:`STDP`. The reward comes from the caller:

- ``reward`` is a number, a ``[B]`` tensor (one per sample) or a ``[B, out]`` tensor (one per
  sample and post neuron; for a conv layer one per output channel ``[B, C_out]``);
- with ``per_step=True`` it has a leading time axis ``[T, ...]`` and step ``t`` (counted from
  the fresh state: pass ``state=None`` per trial) reads ``reward[t]`` (e.g. zero everywhere
  but the step the reward arrives, :func:`reward_at_end`).

Writing :math:`\zeta_b(t)` for the pair-STDP step of sample ``b`` (``pot - dep``, see
:func:`~snnbench.learning.stdp.stdp_delta`, traces including this step's spikes):

- :class:`MSTDP` (Florian 2007): :math:`\Delta W(t) = \sum_b r_b(t)\, \zeta_b(t)`;
- :class:`MSTDPET` (Florian 2007, with eligibility trace): per sample
  :math:`e_b(t) = e_b(t-1)\, e^{-dt/\tau_e} + \zeta_b(t) / \tau_e` and
  :math:`\Delta W(t) = dt \sum_b r_b(t)\, e_b(t)`, so a pairing ``k`` steps before the reward
  counts with weight :math:`e^{-k\,dt/\tau_e}/\tau_e`;
- :class:`RSTDP` (Mozafari et al. 2018): per sample the causal (pre before post) and
  anti-causal pairings of the call so far are summed (no decay); at a step with reward
  :math:`r > 0` the synapses of the rewarded post neurons move by
  :math:`r\,(a_r^+ C - a_r^- A)(W - w_{min})(w_{max} - W)`, with :math:`r < 0` (punishment) by
  :math:`|r|\,(-a_p^- C + a_p^+ A)(W - w_{min})(w_{max} - W)`. A post neuron with reward 0 keeps
  its weights: giving the reward only to the winning output neuron is Mozafari's rule.
  With ``trace_mode="set"`` and long taus, ``C`` and ``A`` count pre-before-post and
  post-before-pre pairs as in the paper's first-spike form (a simultaneous pair counts as both).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._validation import check_positive
from .stdp import STDPParams, stdp_delta, stdp_delta_conv, trace_step

__all__ = ["MSTDP", "MSTDPET", "RSTDP", "RewardState", "reward_at_end"]


class RewardState(NamedTuple):
    """Pre and post traces, the step index within the call, and the per-sample eligibility
    ``[B, *W.shape]`` (MSTDPET) or the causal/anti-causal pair sums (RSTDP)."""

    pre: torch.Tensor
    post: torch.Tensor
    t: int
    eligibility: torch.Tensor | None = None
    anti: torch.Tensor | None = None


def reward_at_end(reward: torch.Tensor | float, num_steps: int) -> torch.Tensor:
    """Per-step reward ``[T, ...]`` that is zero except at the last step (a per-sample reward
    delivered when the sample ends), for ``per_step=True`` rules."""
    r = torch.as_tensor(reward, dtype=torch.float64)
    out = torch.zeros((int(num_steps), *r.shape), dtype=torch.float64)
    out[-1] = r
    return out


def _check_stdp(stdp: STDPParams) -> None:
    if not isinstance(stdp, STDPParams):
        raise ValueError(f"stdp must be an STDPParams, got {type(stdp).__name__}")
    stdp.check()
    if stdp.tau_post2 is not None:
        raise ValueError("reward-modulated rules use pair STDP: set stdp.tau_post2=None")


def _reward_now(rule: Any, t: int, post: torch.Tensor, conv: dict | None) -> torch.Tensor:
    """The reward of step ``t`` as a tensor broadcastable to the post spikes ``[B, ...]``."""
    r = rule.reward
    if rule.per_step:
        r = torch.as_tensor(r)
        if r.ndim == 0 or t >= r.shape[0]:
            raise ValueError(f"per_step reward must be [T, ...] with T >= the number of steps ({t + 1}), "
                             f"got shape {tuple(r.shape)}")
        r = r[t]
    r = torch.as_tensor(r, dtype=post.dtype, device=post.device)
    if not bool(torch.isfinite(r).all()):
        raise ValueError("reward must be finite (no NaN or inf)")
    if r.ndim == 0:
        return r
    b = post.shape[0]
    if r.ndim == 1 and r.shape[0] == b:
        return r.reshape(b, *([1] * (post.ndim - 1)))
    if r.ndim == 2 and r.shape == post.shape[:2]:
        return r.reshape(*r.shape, *([1] * (post.ndim - 2)))
    what = "C_out" if conv is not None else "out"
    raise ValueError(f"reward must be a number, [B]={b} or [B, {what}]={tuple(post.shape[:2])} "
                     f"(with a leading [T] when per_step), got shape {tuple(r.shape)}")


def _traces(rule: Any, pre: torch.Tensor, post: torch.Tensor, state: RewardState | None,
            dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, int]:
    p = rule.stdp
    if state is None:
        state = rule.init_state(pre, post, dtype)
    x_pre = trace_step(state.pre, pre.to(dtype), p.tau_pre, p.dt, p.trace_mode)
    x_post = trace_step(state.post, post.to(dtype), p.tau_post, p.dt, p.trace_mode)
    return x_pre, x_post, state.t


def _batched_step(rule: Any, weight, pre, post, state, conv):
    """The step's traces (as the state keeps them) and the spikes and traces in the batched
    layout ``[B, ...]`` the updates use: ``(x_pre, x_post, t, s_pre, s_post, xp, xq)``."""
    x_pre, x_post, t = _traces(rule, pre, post, state, weight.dtype)
    s_post, s_pre, xp, xq = post.to(weight.dtype), pre.to(weight.dtype), x_pre, x_post
    if s_post.ndim == (1 if conv is None else 3):  # unbatched
        s_post, s_pre, xp, xq = s_post[None], s_pre[None], xp[None], xq[None]
    return x_pre, x_post, t, s_pre, s_post, xp, xq


def _delta(weight, s_pre, s_post, x_pre, x_post, p, conv):
    if conv is None:
        return stdp_delta(weight, s_pre, s_post, x_pre, x_post, p)
    return stdp_delta_conv(weight, s_pre, s_post, x_pre, x_post, p, **conv)


def _per_sample(weight, s_pre, s_post, x_pre, x_post, p, conv) -> torch.Tensor:
    """``[B, *W.shape]``: the same pair update, one sample at a time (not batch summed)."""
    return torch.stack([_delta(weight, s_pre[b], s_post[b], x_pre[b], x_post[b], p, conv)
                        for b in range(s_pre.shape[0])])


def _weight_reward(r: torch.Tensor, weight: torch.Tensor, b: int) -> torch.Tensor:
    """Reward ``[B, out?, 1...]`` (or scalar) -> broadcastable to ``[B, *W.shape]``."""
    if r.ndim == 0:
        return r
    r = r.reshape(b, -1)
    return r.reshape(b, r.shape[1], *([1] * (weight.ndim - 1)))


def _bound(name: str) -> property:
    """The weight bound ``name`` of a reward rule: its STDP parameters' (NamedTuples take
    no base class with methods, so the three rules share these as class attributes)."""
    return property(lambda self: getattr(self.stdp, name), doc=f"{name} of the rule's STDP parameters")


_stdp_wmin, _stdp_wmax = _bound("wmin"), _bound("wmax")


def _init_reward_state(self, pre: torch.Tensor, post: torch.Tensor, dtype: torch.dtype) -> RewardState:
    """Zero pre and post traces, step 0."""
    return RewardState(torch.zeros_like(pre, dtype=dtype), torch.zeros_like(post, dtype=dtype), 0)


class MSTDP(NamedTuple):
    """Reward-modulated pair STDP without eligibility trace (Florian 2007, MSTDP)."""

    stdp: STDPParams = STDPParams(nu_pre=1e-2, nu_post=1e-2, wmin=-1.0, wmax=1.0)
    reward: Any = 0.0
    per_step: bool = False

    wmin = _stdp_wmin
    wmax = _stdp_wmax
    init_state = _init_reward_state

    def check(self) -> MSTDP:
        _check_stdp(self.stdp)
        return self

    def step(self, weight, pre, post, state, conv=None):
        x_pre, x_post, t, s_pre, s_post, xp, xq = _batched_step(self, weight, pre, post, state, conv)
        r = _reward_now(self, t, s_post, conv)
        # sum_b r_b zeta_b: the reward of a post neuron scales its spikes (potentiation) and its
        # trace (depression), so the batch-summed pair update is already reward weighted
        dw = _delta(weight, s_pre, r * s_post, xp, r * xq, self.stdp, conv)
        return dw, RewardState(x_pre, x_post, t + 1)


class MSTDPET(NamedTuple):
    """Reward-modulated STDP with a per-sample eligibility trace (Florian 2007, MSTDPET);
    ``tau_e`` in ms."""

    stdp: STDPParams = STDPParams(nu_pre=1e-2, nu_post=1e-2, wmin=-1.0, wmax=1.0)
    reward: Any = 0.0
    per_step: bool = False
    tau_e: float = 25.0

    wmin = _stdp_wmin
    wmax = _stdp_wmax
    init_state = _init_reward_state

    def check(self) -> MSTDPET:
        _check_stdp(self.stdp)
        check_positive("tau_e", self.tau_e)
        return self

    def step(self, weight, pre, post, state, conv=None):
        x_pre, x_post, t, s_pre, s_post, xp, xq = _batched_step(self, weight, pre, post, state, conv)
        zeta = _per_sample(weight, s_pre, s_post, xp, xq, self.stdp, conv)
        e = zeta / self.tau_e
        if state is not None and state.eligibility is not None:
            e = state.eligibility * math.exp(-self.stdp.dt / self.tau_e) + e
        r = _weight_reward(_reward_now(self, t, s_post, conv), weight, s_post.shape[0])
        dw = self.stdp.dt * (r * e).sum(0)
        return dw, RewardState(x_pre, x_post, t + 1, e)


class RSTDP(NamedTuple):
    """R-STDP of Mozafari et al. 2018: reward +1 / punishment -1 on the winning post neuron,
    multiplicative soft bounds; amplitudes are magnitudes (signs fixed by the rule)."""

    stdp: STDPParams = STDPParams(nu_pre=1.0, nu_post=1.0, tau_pre=1e6, tau_post=1e6, trace_mode="set")
    reward: Any = 0.0
    per_step: bool = True
    a_r_plus: float = 4e-3
    a_r_minus: float = 3e-3
    a_p_plus: float = 5e-4
    a_p_minus: float = 4e-3

    wmin = _stdp_wmin
    wmax = _stdp_wmax
    init_state = _init_reward_state

    def check(self) -> RSTDP:
        _check_stdp(self.stdp)
        if not self.per_step:
            # the pair sums are not reset by a reward: a reward applied at every step would
            # count the same pairings again and again
            raise ValueError("RSTDP needs per_step=True and the reward at the step it arrives, "
                             "e.g. reward=reward_at_end(r, T)")
        for name in ("a_r_plus", "a_r_minus", "a_p_plus", "a_p_minus"):
            check_positive(name, getattr(self, name), allow_zero=True)
        return self

    def step(self, weight, pre, post, state, conv=None):
        x_pre, x_post, t, s_pre, s_post, xp, xq = _batched_step(self, weight, pre, post, state, conv)
        p = self.stdp
        causal = _per_sample(weight, s_pre, s_post, xp, xq, p._replace(nu_pre=0.0), conv)
        anti = -_per_sample(weight, s_pre, s_post, xp, xq, p._replace(nu_post=0.0), conv)
        if state is not None and state.eligibility is not None:
            causal, anti = causal + state.eligibility, anti + state.anti
        r = _weight_reward(_reward_now(self, t, s_post, conv), weight, s_post.shape[0])
        rew, pun = r.clamp(min=0), (-r).clamp(min=0)
        change = rew * (self.a_r_plus * causal - self.a_r_minus * anti) + pun * (
            self.a_p_plus * anti - self.a_p_minus * causal)
        bound = (weight - p.wmin) * (p.wmax - weight)
        dw = change.sum(0) * bound
        return dw, RewardState(x_pre, x_post, t + 1, causal, anti)
