"""The STDP rules of snnbench.learning.stdp against Brian2 (event-driven traces, exact
exponentials), on the same spike trains: weights after 300 ms agree to 1e-9 in float64.

Conventions matched: a trace jumps at its spike (all-to-all: +1, nearest: set to 1) and
decays exactly with its tau; each event clips the weight to [wmin, wmax]. Pre and post
spikes never fall in the same 1 ms step here (pre on even steps, post on odd ones): within
one step snnbench applies both terms with traces that include both spikes, Brian2 runs the
pre pathway first, so coincident pairs would differ by design.

Needs the ``brian`` extra (``pip install "snnbench[brian]"``); uses Brian2's numpy target.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnbench.learning.stdp import STDPParams, stdp_sequence

b2 = pytest.importorskip("brian2", reason="Brian2 is not installed (pip install 'snnbench[brian]')")

T, N_PRE, N_POST = 300, 6, 4


def _spike_trains(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean [T, N] trains: pre only on even steps, post only on odd steps (~40 Hz)."""
    g = np.random.default_rng(seed)
    pre = g.random((T, N_PRE)) < 0.08
    post = g.random((T, N_POST)) < 0.08
    pre[1::2] = False
    post[0::2] = False
    return pre, post


def _brian2(W0: np.ndarray, pre: np.ndarray, post: np.ndarray, p: STDPParams) -> np.ndarray:
    """Final weights [out, in] of the same rule as Brian2 synapses."""
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = p.dt * b2.ms
    jump = "+= 1" if p.trace_mode == "add" else "= 1"
    ti, ii = np.nonzero(pre)
    to, io = np.nonzero(post)
    G_pre = b2.SpikeGeneratorGroup(N_PRE, ii, ti * p.dt * b2.ms)
    G_post = b2.SpikeGeneratorGroup(N_POST, io, to * p.dt * b2.ms)
    f_minus = {"stdp": "-", "weight_dependent": "- (w - wmin) *", "hebbian": "+"}[p.rule]
    f_plus = "(wmax - w) *" if p.rule == "weight_dependent" else ""
    post2 = "post2" if p.tau_post2 is not None else "1"
    model = """w : 1
        dapre/dt = -apre / tau_pre : 1 (event-driven)
        dapost/dt = -apost / tau_post : 1 (event-driven)
        dpost2/dt = -post2 / tau_post2 : 1 (event-driven)"""
    S = b2.Synapses(
        G_pre, G_post, model,
        on_pre=f"apre {jump}\nw = clip(w {f_minus} nu_pre * apost, wmin, wmax)",
        # the slow trace is read before this spike's jump (triplet), then both traces jump
        on_post=f"w = clip(w + {f_plus} nu_post * apre * {post2}, wmin, wmax)\napost {jump}\npost2 {jump}",
        namespace=dict(tau_pre=p.tau_pre * b2.ms, tau_post=p.tau_post * b2.ms,
                       tau_post2=(p.tau_post2 or 1.0) * b2.ms, nu_pre=p.nu_pre,
                       nu_post=p.nu_post, wmin=p.wmin, wmax=p.wmax),
    )
    S.connect()  # all-to-all, synapse k = i * N_POST + j
    S.w[:] = W0.T.reshape(-1)
    b2.run(T * p.dt * b2.ms)
    return np.asarray(S.w[:]).reshape(N_PRE, N_POST).T


VARIANTS = {
    "pair all-to-all": STDPParams(nu_pre=0.02, nu_post=0.03, trace_mode="add"),
    "pair nearest": STDPParams(nu_pre=0.02, nu_post=0.03, trace_mode="set"),
    "weight-dependent all-to-all": STDPParams(nu_pre=0.05, nu_post=0.08, rule="weight_dependent"),
    "weight-dependent nearest": STDPParams(nu_pre=0.05, nu_post=0.08, rule="weight_dependent",
                                           trace_mode="set"),
    "hebbian": STDPParams(nu_pre=0.004, nu_post=0.006, rule="hebbian", wmax=1.5),
    "triplet all-to-all": STDPParams(nu_pre=0.03, nu_post=0.05, tau_post2=40.0),
    "triplet nearest weight-dependent": STDPParams(nu_pre=0.05, nu_post=0.1, tau_post2=40.0,
                                                   rule="weight_dependent", trace_mode="set"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_weights_match_brian2(name):
    p = VARIANTS[name]
    pre, post = _spike_trains(seed=len(name))
    W0 = np.random.default_rng(1).uniform(0.2, 0.8, (N_POST, N_PRE))
    w = torch.tensor(W0.copy())
    stdp_sequence(w, torch.tensor(pre[:, None, :], dtype=torch.float64),
                  torch.tensor(post[:, None, :], dtype=torch.float64), p)
    ref = _brian2(W0, pre, post, p)
    assert np.abs(ref - W0).max() > 0.05  # the trains move the weights
    if p.rule != "hebbian":
        assert (ref < W0).any() and (ref > W0).any()  # both potentiation and depression act
    np.testing.assert_allclose(w.numpy(), ref, rtol=0, atol=1e-9)
