"""Every neuron kind against Brian2, an independent simulator (exact integration of the
linear models, forward Euler for Izhikevich), step by step in float64.

Install with the ``brian`` extra (``pip install -e ".[brian]"``); without Brian2 the module
is skipped. Brian2 runs with its numpy code generation target (no C++ compile), so the
module takes a few seconds.

How the discrete models map onto Brian2's schedule (state update, threshold, reset in
each step of ``dt``): the input of step t is copied into a parameter before the state
update (``run_regularly(..., when="before_groups")``); with ``dv/dt = (-v + g x) / tau``
integrated exactly over one step, ``v' = beta v + g (1 - beta) x``, so ``g = 1/(1 - beta)``
gives snnbench's ``h_t = beta v_{t-1} + x_t``. Spike steps must be identical and the states
within 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnbench.neurons import (
    ALIFParams,
    CubaLIFParams,
    IzhikevichParams,
    LIFParams,
    alif,
    cuba_lif,
    izhikevich,
    lif,
    recurrent_lif,
    refractory_steps_from_ms,
)

b2 = pytest.importorskip("brian2", reason="Brian2 is not installed (pip install -e '.[brian]')")

D = torch.float64
T, N = 120, 6


@pytest.fixture(autouse=True)
def _brian_numpy():
    b2.prefs.codegen.target = "numpy"  # no C++ compile: fast, and nothing to build
    b2.start_scope()
    b2.defaultclock.dt = 1 * b2.ms


def _drive(seed: int, lo: float, hi: float, n: int = N) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.uniform(lo, hi, size=(T, n))


def _run(group, extra=(), record=("v",), steps=T, every=None):
    """Run ``group`` for ``steps`` steps; return (spike steps per neuron, recorded states
    [steps, N] after each step's reset)."""
    sm = b2.SpikeMonitor(group)
    mon = b2.StateMonitor(group, list(record), record=True, when="end")
    net = b2.Network(group, sm, mon, *extra)
    net.run(steps * b2.defaultclock.dt)
    dt = float(b2.defaultclock.dt)
    trains = sm.spike_trains()
    spikes = np.zeros((steps, len(group)))
    for i in range(len(group)):
        idx = np.rint(np.asarray(trains[i]) / dt).astype(int)
        spikes[idx, i] = 1.0
    return spikes, {k: getattr(mon, k).T for k in record}


def _lif_group(x, beta, thr, reset, refractory=0 * b2.ms):
    tau = -1.0 / np.log(beta) * b2.ms  # beta = exp(-dt/tau) at dt = 1 ms
    eqs = f"dv/dt = (-v + {1 / (1 - beta)!r} * xin) / tau : 1 (unless refractory)\nxin : 1"
    resets = {"soft": f"v -= {thr!r}", "hard": "v = 0"}
    g = b2.NeuronGroup(x.shape[1], eqs, threshold=f"v >= {thr!r}", reset=resets[reset],
                       refractory=refractory, method="exact", namespace={"tau": tau})
    ta = b2.TimedArray(x, dt=b2.defaultclock.dt)
    g.run_regularly("xin = ta(t, i)", when="before_groups")
    g.namespace["ta"] = ta
    return g


def _assert_same(spikes_ours, spikes_b2, states):
    assert spikes_b2.sum() > 5 and spikes_b2.sum() < spikes_b2.size  # the case spikes
    np.testing.assert_array_equal(spikes_ours, spikes_b2)
    for ours, theirs in states:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_lif_constant_and_random_drive(reset):
    x = _drive(0, 0.0, 0.5)
    x[:, 0] = 0.15  # constant drive
    beta, thr = 0.9, 1.0
    spikes, st = _run(_lif_group(x, beta, thr, reset))
    xs = torch.tensor(x, dtype=D)[:, None]  # [T, 1, N]
    s, _, h = lif(xs, None, LIFParams(beta=beta, threshold=thr, reset=reset), return_membrane=True)
    v_ours = np.where(s[:, 0].numpy() > 0, (h[:, 0] - thr).numpy() if reset == "soft" else 0.0,
                      h[:, 0].numpy())
    _assert_same(s[:, 0].numpy(), spikes, [(v_ours, st["v"])])


@pytest.mark.parametrize("t_ref", [2.0, 5.0])
def test_refractory_time_counting(t_ref):
    """A refractory time in ms, Brian2's counting: ``refractory_steps_from_ms``."""
    x = _drive(1, 0.2, 0.9)
    beta, thr = 0.8, 1.0
    spikes, st = _run(_lif_group(x, beta, thr, "hard", refractory=t_ref * b2.ms))
    p = LIFParams(beta=beta, threshold=thr, reset="hard",
                  refractory_steps=refractory_steps_from_ms(t_ref, 1.0))
    s, state = lif(torch.tensor(x, dtype=D)[:, None], None, p)
    _assert_same(s[:, 0].numpy(), spikes, [(state.v[0].numpy(), st["v"][-1])])
    # the other counting gives a different train here
    q = p._replace(refractory_steps=refractory_steps_from_ms(t_ref, 1.0, convention="frozen_steps"))
    assert not torch.equal(lif(torch.tensor(x, dtype=D)[:, None], None, q)[0], s)


def test_adaptive_lif_theta_decays_first():
    x = _drive(2, 0.1, 0.8)
    beta, thr, tplus, tau_theta = 0.9, 1.0, 0.3, 20.0
    tau = -1.0 / np.log(beta) * b2.ms
    eqs = (f"dv/dt = (-v + {1 / (1 - beta)!r} * xin) / tau : 1\n"
           "dtheta/dt = -theta / tau_theta : 1\nxin : 1")
    g = b2.NeuronGroup(N, eqs, threshold=f"v >= {thr!r} + theta",
                       reset=f"v -= {thr!r} + theta\ntheta += {tplus!r}", method="exact",
                       namespace={"tau": tau, "tau_theta": tau_theta * b2.ms,
                                  "ta": b2.TimedArray(x, dt=b2.defaultclock.dt)})
    g.run_regularly("xin = ta(t, i)", when="before_groups")
    spikes, st = _run(g, record=("v", "theta"))
    p = ALIFParams.from_tau(-1.0 / np.log(beta), tau_theta, 1.0, threshold=thr, theta_plus=tplus,
                            theta_decays_first=True)
    p = p._replace(beta=beta)
    xs = torch.tensor(x, dtype=D)[:, None]
    outs, thetas, vs = [], [], []
    state = None
    for t in range(T):  # step by step, to compare the state after every step
        s, state = alif(xs[t:t + 1], state, p)
        outs.append(s[0, 0])
        thetas.append(state.theta[0])
        vs.append(state.v[0])
    _assert_same(torch.stack(outs).numpy(), spikes,
                 [(torch.stack(vs).numpy(), st["v"]), (torch.stack(thetas).numpy(), st["theta"])])
    # the default order (test with theta_{t-1}, then decay) is a different convention
    s_default, _ = alif(xs, None, p._replace(theta_decays_first=False))
    assert not torch.equal(s_default[:, 0], torch.stack(outs))


def test_current_based_lif():
    x = _drive(3, 0.0, 0.25)
    alpha, beta, thr = 0.8, 0.9, 1.0
    ts, tm = float(-1.0 / np.log(alpha)), float(-1.0 / np.log(beta))
    k = ts * (alpha - beta) / (ts - tm)  # v gain of a current over one exact step
    eqs = f"dI/dt = -I / tau_syn : 1\ndv/dt = (-v + {1 / k!r} * I) / tau_mem : 1"
    g = b2.NeuronGroup(N, eqs, threshold=f"v >= {thr!r}", reset=f"v -= {thr!r}", method="exact",
                       namespace={"tau_syn": ts * b2.ms, "tau_mem": tm * b2.ms,
                                  "ta": b2.TimedArray(x, dt=b2.defaultclock.dt)})
    g.run_regularly("I += ta(t, i)", when="before_groups")  # the step's charge arrives first
    spikes, st = _run(g, record=("v", "I"))
    xs = torch.tensor(x, dtype=D)[:, None]
    s, _, h = cuba_lif(xs, None, CubaLIFParams(alpha, beta, thr), return_membrane=True)
    v = torch.where(s > 0, h - thr, h)[:, 0].numpy()
    currents, state = [], None
    for t in range(T):  # step by step, for the current after every step
        _, state = cuba_lif(xs[t:t + 1], state, CubaLIFParams(alpha, beta, thr))
        currents.append(state.i[0])
    # Brian2's I at the end of step t has decayed over the step: alpha * i_t
    i_ours = alpha * torch.stack(currents).numpy()
    _assert_same(s[:, 0].numpy(), spikes, [(v, st["v"]), (i_ours, st["I"])])


def test_recurrent_lif():
    x = _drive(4, 0.0, 0.45)
    beta, thr = 0.85, 1.0
    g = np.random.default_rng(5)
    w_rec = g.normal(0.0, 0.4, size=(N, N))  # [post, pre], as nn.Linear
    tau = -1.0 / np.log(beta) * b2.ms
    eqs = f"dv/dt = (-v + {1 / (1 - beta)!r} * (xin + rin)) / tau : 1\nxin : 1\nrin : 1"
    grp = b2.NeuronGroup(N, eqs, threshold=f"v >= {thr!r}", reset=f"v -= {thr!r}",
                         method="exact",
                         namespace={"tau": tau, "ta": b2.TimedArray(x, dt=b2.defaultclock.dt)})
    grp.run_regularly("xin = ta(t, i)", when="before_groups")
    grp.run_regularly("rin = 0", when="after_groups")  # this step's spikes feed the next
    syn = b2.Synapses(grp, grp, "w : 1", on_pre="rin_post += w")
    syn.connect()
    syn.w[:] = w_rec[syn.j[:], syn.i[:]]  # synapse pre i -> post j carries W[j, i]
    spikes, st = _run(grp, extra=(syn,))
    xs = torch.tensor(x, dtype=D)[:, None]
    s, state = recurrent_lif(xs, torch.eye(N, dtype=D), torch.tensor(w_rec, dtype=D), None,
                             LIFParams(beta=beta, threshold=thr))
    _assert_same(s[:, 0].numpy(), spikes, [(state.v[0].numpy(), st["v"][-1])])


@pytest.mark.parametrize("preset", [(0.02, 0.2, -65.0, 8.0), (0.1, 0.2, -65.0, 2.0),
                                    (0.02, 0.2, -50.0, 2.0)])
def test_izhikevich_euler(preset):
    """scheme="euler" with two substeps is Brian2's forward Euler at dt = 0.5 ms."""
    a, b, c, d = preset
    x = _drive(6, 0.0, 15.0)
    b2.defaultclock.dt = 0.5 * b2.ms
    eqs = ("dv/dt = (0.04 * v * v + 5 * v + 140 - u + I) / ms : 1\n"
           "du/dt = a * (b * v - u) / ms : 1\nI : 1")
    g = b2.NeuronGroup(N, eqs, threshold="v >= 30", reset="v = c\nu += d", method="euler",
                       namespace={"a": a, "b": b, "c": c, "d": d,
                                  "ta": b2.TimedArray(x, dt=1 * b2.ms)})
    g.v = -65.0
    g.u = b * -65.0
    g.run_regularly("I = ta(t, i)", when="before_groups")
    spikes2, st = _run(g, record=("v", "u"), steps=2 * T)
    spikes = spikes2.reshape(T, 2, N).max(1)
    p = IzhikevichParams(a, b, c, d, dt=1.0, substeps=2)
    xs = torch.tensor(x, dtype=D)[:, None]
    s, state = izhikevich(xs, None, p)
    _assert_same(s[:, 0].numpy(), spikes, [(state.v[0].numpy(), st["v"][-1]),
                                          (state.u[0].numpy(), st["u"][-1])])
