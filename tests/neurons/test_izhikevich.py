"""Izhikevich 2003: hand-computed Euler step, resting point, preset firing patterns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnbench.neurons import (
    IZHIKEVICH_PRESETS,
    Izhikevich,
    IzhikevichParams,
    IzhikevichState,
    izhikevich,
    izhikevich_step,
    regular_spiking,
)

D = torch.float64
NAMES = ["regular_spiking", "fast_spiking", "chattering", "intrinsically_bursting"]


@pytest.fixture(scope="module")
def trains():
    """Spike times of the four presets under a 10-unit step current for 600 ms."""
    a, b, c, d = (torch.tensor([IZHIKEVICH_PRESETS[n][i] for n in NAMES], dtype=D) for i in range(4))
    x = torch.full((600, len(NAMES)), 10.0, dtype=D)
    s, _ = izhikevich(x, None, IzhikevichParams(a, b, c, d))
    return {n: torch.nonzero(s[:, i]).flatten() for i, n in enumerate(NAMES)}


def test_one_euler_step_by_hand():
    p = regular_spiking(dt=0.5, substeps=1)
    st = IzhikevichState(torch.tensor([-65.0], dtype=D), torch.tensor([-13.0], dtype=D))
    s, st2 = izhikevich_step(torch.tensor([10.0], dtype=D), st, p)
    # dv = 0.04*4225 - 325 + 140 + 13 + 10 = 7 -> v = -65 + 0.5*7; du = 0.02*(0.2*-65 + 13) = 0
    assert st2.v.item() == pytest.approx(-61.5) and st2.u.item() == pytest.approx(-13.0)
    assert s.item() == 0.0


def test_spike_resets_v_to_c_and_bumps_u():
    p = regular_spiking(dt=0.5, substeps=1)
    st = IzhikevichState(torch.tensor([29.0], dtype=D), torch.tensor([-5.0], dtype=D))
    s, st2 = izhikevich_step(torch.tensor([0.0], dtype=D), st, p)
    u_euler = -5.0 + 0.5 * 0.02 * (0.2 * 29.0 + 5.0)
    assert s.item() == 1.0 and st2.v.item() == -65.0
    assert st2.u.item() == pytest.approx(u_euler + 8.0)


def test_rest_converges_to_stable_fixed_point():
    # I = 0, b = 0.2: 0.04 v^2 + 4.8 v + 140 = 0 -> v = -70 (stable) or -50; u = b v.
    s, st = izhikevich(torch.zeros(1000, 1, dtype=D), None, regular_spiking())
    assert s.sum() == 0
    assert st.v.item() == pytest.approx(-70.0, abs=1e-6)
    assert st.u.item() == pytest.approx(-14.0, abs=1e-6)


def _isis(times: torch.Tensor) -> torch.Tensor:
    return torch.diff(times).to(D)


def test_regular_spiking_adapts(trains):
    isi = _isis(trains["regular_spiking"])
    assert len(isi) >= 5
    assert torch.all(torch.diff(isi) >= 0)  # intervals never shorten
    assert isi[-1] > 1.5 * isi[0]


def test_fast_spiking_is_fast_without_adaptation(trains):
    fs, rs = trains["fast_spiking"], trains["regular_spiking"]
    assert len(fs) > 3 * len(rs)
    isi = _isis(fs)
    half = len(isi) // 2
    # Mean interval late vs early (after the first few): equal within 10 %.
    assert isi[half:].mean().item() == pytest.approx(isi[3:half].mean().item(), rel=0.1)
    assert (isi[3:].std() / isi[3:].mean()) < 0.15


def test_chattering_fires_bursts(trains):
    isi = _isis(trains["chattering"])
    short, long_ = isi[isi < 10], isi[isi > 30]
    assert len(short) + len(long_) == len(isi)  # bimodal: nothing in between
    assert len(long_) >= 5 and len(short) >= 2 * len(long_)


def test_intrinsically_bursting_bursts_then_spikes_tonically(trains):
    isi = _isis(trains["intrinsically_bursting"])
    assert isi[0] < 10 and torch.all(isi[-5:] > 20)


def test_module_substeps_state_and_record():
    x = torch.full((80, 2, 3), 10.0, dtype=D)
    m = Izhikevich(3, preset="fast_spiking", record=True).double()
    s, st = m(x)
    assert m.last_membrane.max() == 30.0 and m.last_membrane.shape == x.shape
    assert torch.equal(s > 0, m.last_membrane == 30.0)
    s1, st1 = m(x[:33])
    s2, st2 = m(x[33:], st1)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.v, st.v)
    # One 1 ms step with two 0.5 ms substeps equals two 0.5 ms steps.
    fine, _ = izhikevich(x[:, :1, :1].repeat_interleave(2, 0), None, m.p._replace(dt=0.5, substeps=1))
    coarse = s[:, :1, :1]
    assert torch.equal(coarse, fine.view(80, 2, 1, 1).amax(1))
    # The surrogate lets gradient reach the input current.
    xg = x.clone().requires_grad_(True)
    m(xg)[0].sum().backward()
    assert torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0


def _paper_loop(a, b, c, d, current):
    """Izhikevich 2003's published MATLAB loop transcribed to numpy: at the start of each
    millisecond the neurons with v >= 30 are recorded as fired and reset, then v advances
    in two 0.5 ms steps with u held, then u advances once from the new v. Returns the
    firings (ms, neuron) and (v, u) after each millisecond's reset."""
    v = np.full(current.shape[1], -65.0)
    u = b * v
    firings, states = [], []
    for ms in range(current.shape[0] + 1):
        fired = v >= 30
        firings += [(ms, int(i)) for i in np.nonzero(fired)[0]]
        v = np.where(fired, c, v)
        u = np.where(fired, u + d, u)
        states.append((v.copy(), u.copy()))
        if ms == current.shape[0]:
            break
        i_ms = current[ms]
        v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + i_ms)
        v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + i_ms)
        u = u + a * (b * v - u)
    return firings, states


@pytest.mark.parametrize("name", NAMES)
def test_izhikevich2003_scheme_is_the_papers_loop(name):
    """scheme="izhikevich2003": the same (v, u) trajectory as the paper's loop, each spike
    reported one step before the paper's loop records it (it tests at the start of the
    next millisecond)."""
    a, b, c, d = IZHIKEVICH_PRESETS[name]
    current = np.random.default_rng(0).uniform(0.0, 14.0, size=(400, 3))
    firings, states = _paper_loop(a, b, c, d, current)
    p = IzhikevichParams(a, b, c, d, scheme="izhikevich2003")
    s, _ = izhikevich(torch.tensor(current, dtype=D)[:, None], None, p)
    ours = [(int(t) + 1, int(i)) for t, i in torch.nonzero(s[:, 0]).tolist()]
    assert len(firings) > 20 and ours == firings
    st = None
    for t in range(current.shape[0]):  # the state after every step
        _, st = izhikevich(torch.tensor(current[t:t + 1], dtype=D)[:, None], st, p)
        np.testing.assert_allclose(st.v[0].numpy(), states[t + 1][0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(st.u[0].numpy(), states[t + 1][1], rtol=0, atol=1e-9)


def test_schemes_differ_and_default_is_unchanged(trains):
    """The default stays simultaneous Euler in two 0.5 ms substeps (results recorded with
    it reproduce); the paper's scheme gives another spike train."""
    x = torch.full((600, 1), 10.0, dtype=D)
    rs = IzhikevichParams(*IZHIKEVICH_PRESETS["regular_spiking"])
    assert rs.scheme == "euler" and rs.substeps == 2
    s, _ = izhikevich(x, None, rs)
    assert torch.equal(torch.nonzero(s[:, 0]).flatten(), trains["regular_spiking"])
    s2, _ = izhikevich(x, None, rs._replace(scheme="izhikevich2003"))
    assert not torch.equal(s, s2)
    with pytest.raises(ValueError, match="scheme must be one of"):
        izhikevich(x, None, rs._replace(scheme="rk4"))
