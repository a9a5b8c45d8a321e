"""Current-based LIF: every backend's kernel against the reference step, float64 gradcheck,
closed forms and the module."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from snnbench.neurons import (
    LIF,
    CubaLIF,
    CubaLIFParams,
    CubaLIFState,
    LIFParams,
    cuba_lif,
    cuba_lif_step,
    kernels,
    lif,
)
from snnbench.neurons.surrogate import ATan, Triangle

from test_fused import Gauss  # same folder: a surrogate the compiled kernels do not know

D = torch.float64
BACKENDS = ["torch"] + (["numba"] if kernels.have_numba() else [])


def _case(seed=0, dtype=D, T=9, B=3, H=5):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, H, generator=g, dtype=dtype) * 0.7 - 0.1).requires_grad_()
    i0 = (torch.rand(B, H, generator=g, dtype=dtype) * 0.3).requires_grad_()
    v0 = (torch.rand(B, H, generator=g, dtype=dtype) * 0.5).requires_grad_()
    alpha = (0.5 + 0.4 * torch.rand(H, generator=g, dtype=dtype)).requires_grad_()
    beta = (0.6 + 0.35 * torch.rand(H, generator=g, dtype=dtype)).requires_grad_()
    w = [torch.randn(T, B, H, generator=g, dtype=dtype), torch.randn(B, H, generator=g, dtype=dtype),
         torch.randn(B, H, generator=g, dtype=dtype)]
    return (x, i0, v0, alpha, beta), w


def _loss(out, w):
    s, st = out
    return (s * w[0]).sum() + (st.i * w[1]).sum() + (st.v * w[2]).sum()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach,sg", [(r, d, ATan(2.0)) for r, d in itertools.product(
    ["soft", "hard", "none"], [False, True])] + [("soft", False, Triangle(0.8)),
                                                 ("hard", False, Gauss(1.5))])
def test_kernel_matches_reference_step(backend, reset, detach, sg):
    ins, w = _case()
    x, i0, v0, alpha, beta = ins
    p = CubaLIFParams(alpha, beta, 0.8, reset, -0.1, sg, detach)
    ref = cuba_lif(x, CubaLIFState(i0, v0), p, fused=False)
    got = cuba_lif(x, CubaLIFState(i0, v0), p, backend=backend)
    assert 0 < float(ref[0].detach().sum()) < ref[0].numel()
    assert torch.equal(got[0], ref[0])
    for a, b in zip(got[1], ref[1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(_loss(got, w), ins), torch.autograd.grad(_loss(ref, w), ins)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_bit_identical_and_no_grad(backend):
    ins, _ = _case(seed=1, dtype=torch.float32, T=12, B=4, H=700)
    x, i0, v0, alpha, beta = (t.detach() for t in ins)
    p = CubaLIFParams(alpha, beta)
    ref = cuba_lif(x, CubaLIFState(i0, v0), p, fused=False)
    with torch.no_grad():
        got = cuba_lif(x, CubaLIFState(i0, v0), p, backend=backend)
    assert torch.equal(got[0], ref[0]) and all(torch.equal(a, b) for a, b in zip(got[1], ref[1]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
def test_gradcheck(backend, reset):
    """With detach_reset the final state is piecewise smooth in every input: finite
    differences (float64) must equal the kernel's backward."""
    ins, _ = _case(seed=3, T=6, B=2, H=3)

    def f(*args):
        x, i0, v0, alpha, beta = args
        p = CubaLIFParams(alpha, beta, 1.0, reset, 0.1, ATan(2.0), True)
        _, st = cuba_lif(x, CubaLIFState(i0, v0), p, backend=backend)
        return st.i, st.v

    assert torch.autograd.gradcheck(f, ins, eps=1e-7, atol=1e-6)


def test_closed_form_and_lif_limit():
    # reset none, constant input c from rest: i_t = c (1 - a^(t+1)) / (1 - a),
    # h_t = sum_k beta^(t-k) i_k
    a, b, c, T = 0.7, 0.85, 0.2, 15
    x = torch.full((T, 1), c, dtype=D)
    _, st, h = cuba_lif(x, None, CubaLIFParams(a, b, 100.0, "none"), return_membrane=True)
    i = [c * (1 - a ** (t + 1)) / (1 - a) for t in range(T)]
    hh = [sum(b ** (t - k) * i[k] for k in range(t + 1)) for t in range(T)]
    torch.testing.assert_close(h.flatten(), torch.tensor(hh, dtype=D), rtol=1e-12, atol=1e-12)
    assert st.i.item() == pytest.approx(i[-1], rel=1e-12)
    # alpha = 0: the current is the input, and the neuron is a LIF
    g = torch.Generator().manual_seed(4)
    x = torch.rand(30, 2, 3, generator=g, dtype=D)
    s1, st1 = cuba_lif(x, None, CubaLIFParams(0.0, 0.8, reset="hard"))
    s2, st2 = lif(x, None, LIFParams(beta=0.8, reset="hard"))
    assert torch.equal(s1, s2) and torch.allclose(st1.v, st2.v, rtol=0, atol=1e-15)


def test_step_state_continuation_and_module():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(40, 2, 4, generator=g) * 0.6
    m = CubaLIF(4, tau_syn=5.0, tau_mem=10.0, dt=1.0, record=True)
    assert m.params().alpha == pytest.approx(math.exp(-1 / 5)) and m.last_membrane is None
    s, st = m(x)
    assert m.last_membrane.shape == x.shape and 0 < s.mean() < 1
    s1, st1 = m(x[:13])
    s2, st2 = m(x[13:], st1)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.v, st.v)
    st = None
    outs = []
    for xt in x.unbind(0):
        o, st = cuba_lif_step(xt, st, m.params())
        outs.append(o)
    assert torch.equal(torch.stack(outs), s)
    learn = CubaLIF(4, alpha=0.8, beta=0.9, learn_decays=True, per_neuron=True)
    s, st = learn(x)
    (s.sum() + st.v.sum()).backward()
    assert learn.w.grad.shape == (2, 4) and learn.w.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"alpha must be in \[0.0, 1.0\], got 1.2"):
        cuba_lif(torch.zeros(3, 2), None, CubaLIFParams(1.2, 0.9))
    with pytest.raises(ValueError, match="give alpha or tau_syn, not both"):
        CubaLIF(alpha=0.5, tau_syn=3.0)
    with pytest.raises(ValueError, match="tau_mem must be finite and > 0"):
        CubaLIF(tau_mem=0.0)
    with pytest.raises(ValueError, match="backend='triton' needs|no kernel for the neuron kind"):
        cuba_lif(torch.zeros(3, 2), backend="triton")  # no triton kernel for this kind
    with pytest.raises(ValueError, match=r"state.v must have the neuron shape \(2,\)"):
        cuba_lif(torch.zeros(3, 2), CubaLIFState(torch.zeros(2), torch.zeros(3)))
    assert isinstance(LIF(backend="torch"), LIF)
