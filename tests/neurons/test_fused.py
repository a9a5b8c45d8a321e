"""Fused multi-step neurons against an independent autograd reference loop and closed forms."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from snnbench.neurons import LIF, fused, kernels
from snnbench.neurons.fused import alif_multistep_fused, if_multistep_fused, lif_multistep_fused
from snnbench.neurons.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle

BACKENDS = (["torch"] + (["numba"] if kernels.have_numba() else [])
            + (["c"] if kernels.c_available() else []))


class Gauss(Surrogate):
    """A surrogate the numba kernels do not know: exercises the precomputed-derivative path."""

    name = "gauss"

    def derivative(self, u):
        return torch.exp(-((self.alpha * u) ** 2)) * self.alpha / math.sqrt(math.pi)

    def primitive(self, u):
        return 0.5 * (1 + torch.erf(self.alpha * u))


def ref_lif(x, v0, beta, thr, reset, vr, sg, detach):
    """Plain autograd loop over unbind(0): the definition in docs/architecture.md."""
    v = torch.zeros_like(x[0]) if v0 is None else v0
    out = []
    for xt in x.unbind(0):
        h = beta * v + xt
        s = sg(h - thr)
        r = s.detach() if detach else s
        if reset == "soft":
            v = h - thr * r
        elif reset == "hard":
            v = h * (1 - r) + vr * r
        else:
            v = h
        out.append(s)
    return torch.stack(out), v


def ref_alif(x, v0, a0, beta, rho, thr, tplus, reset, vr, sg, detach):
    v = torch.zeros_like(x[0]) if v0 is None else v0
    a = torch.zeros_like(x[0]) if a0 is None else a0
    out = []
    for xt in x.unbind(0):
        h = beta * v + xt
        th = thr + a
        s = sg(h - th)
        r = s.detach() if detach else s
        if reset == "soft":
            v = h - th * r
        elif reset == "hard":
            v = h * (1 - r) + vr * r
        else:
            v = h
        a = rho * a + tplus * s
        out.append(s)
    return torch.stack(out), v, a


def _inputs(T=7, B=3, H=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, H, generator=g, dtype=dtype) * 1.2 - 0.1).requires_grad_()
    v0 = (torch.rand(B, H, generator=g, dtype=dtype) * 0.5).requires_grad_()
    beta = (0.6 + 0.35 * torch.rand(H, generator=g, dtype=dtype)).requires_grad_()
    ws = torch.randn(T, B, H, generator=g, dtype=dtype)
    wv = torch.randn(B, H, generator=g, dtype=dtype)
    return x, v0, beta, ws, wv


def _grads(out, inputs, ws, wv):
    s, v = out[0], out[1]
    loss = (s * ws).sum() + (v * wv).sum()
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "reset,detach,sg",
    [(r, d, sg) for r, d in itertools.product(["soft", "hard", "none"], [False, True])
     for sg in [ATan(2.0)]]
    + [("soft", False, FastSigmoid(5.0)), ("hard", False, Triangle(0.8)),
       ("soft", False, Sigmoid(4.0)), ("hard", True, Gauss(1.5))],
)
def test_lif_matches_reference(backend, reset, detach, sg):
    x, v0, beta, ws, wv = _inputs()
    kw = dict(threshold=0.8, reset=reset, v_reset=-0.1, surrogate=sg, detach_reset=detach)
    ref = ref_lif(x, v0, beta, 0.8, reset, -0.1, sg, detach)
    got = lif_multistep_fused(x, v0, beta, backend=backend, **kw)
    assert 0 < float(ref[0].detach().sum()) < ref[0].numel()  # some spikes, not all
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], ref[1], rtol=1e-12, atol=1e-12)
    gr = _grads(ref, (x, v0, beta), ws, wv)
    gg = _grads(got, (x, v0, beta), ws, wv)
    for a, b in zip(gg, gr):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float_beta_and_broadcast_v0(backend):
    """Python-float beta, v0 broadcast from [H]; gradient of v0 is summed over the batch."""
    x, _, _, ws, wv = _inputs(seed=1)
    v0 = torch.full((5,), 0.3, dtype=torch.float64, requires_grad=True)
    ref = ref_lif(x, v0.expand(3, 5), 0.9, 1.0, "soft", 0.0, ATan(2.0), False)
    got = lif_multistep_fused(x, v0, 0.9, backend=backend)
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    gr = _grads(ref, (x, v0), ws, wv)
    gg = _grads(got, (x, v0), ws, wv)
    assert gg[1].shape == (5,)
    for a, b in zip(gg, gr):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_values_identical_to_reference(backend):
    """Same op order as the reference: float32 forward is bit-identical."""
    x, v0, beta, ws, wv = _inputs(T=12, B=4, H=9, dtype=torch.float32, seed=2)
    ref = ref_lif(x, v0, beta, 1.0, "soft", 0.0, ATan(2.0), False)
    got = lif_multistep_fused(x, v0, beta, backend=backend)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    gr = _grads(ref, (x, v0, beta), ws, wv)
    gg = _grads(got, (x, v0, beta), ws, wv)
    for a, b in zip(gg, gr):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
def test_gradcheck_membrane(backend, reset):
    """With detach_reset the final membrane is piecewise smooth in (x, v0, beta): its exact
    derivative (finite differences, float64) must equal the kernel's backward."""
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(6, 2, 3, generator=g, dtype=torch.float64) * 0.9).requires_grad_()
    v0 = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 0.4).requires_grad_()
    beta = (0.5 + 0.4 * torch.rand(3, generator=g, dtype=torch.float64)).requires_grad_()

    def f(x, v0, beta):
        return lif_multistep_fused(x, v0, beta, 1.0, reset, 0.1, "atan", True, backend)[1]

    assert torch.autograd.gradcheck(f, (x, v0, beta), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_closed_form_no_reset_and_if_counts(backend):
    # reset none, constant input c: v_t = c (1 - beta^(t+1)) / (1 - beta)
    c, beta, T = 0.3, 0.8, 10
    x = torch.full((T, 1, 1), c, dtype=torch.float64)
    s, v = lif_multistep_fused(x, None, beta, threshold=1.2, reset="none", backend=backend)
    vt = c * (1 - beta ** torch.arange(1, T + 1, dtype=torch.float64)) / (1 - beta)
    torch.testing.assert_close(v.flatten(), vt[-1:], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s.flatten(), (vt >= 1.2).double())
    # IF with soft reset and input 0.25 (exact in binary): a spike every 4th step
    x = torch.full((16, 2, 3), 0.25, dtype=torch.float64)
    s, v = if_multistep_fused(x, backend=backend)
    expect = torch.tensor([(t + 1) % 4 == 0 for t in range(16)], dtype=torch.float64)
    torch.testing.assert_close(s[:, 0, 0], expect)
    assert float(s.sum()) == 4 * 6 and float(v.abs().max()) == 0.0


def test_backends_agree_and_no_grad_path():
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    x, v0, beta, _, _ = _inputs(T=9, B=2, H=2100, dtype=torch.float32, seed=4)  # > one block
    a = lif_multistep_fused(x, v0, beta, reset="hard", backend="torch")
    with torch.no_grad():
        b = lif_multistep_fused(x, v0, beta, reset="hard", backend="numba")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert fused.fused_backend(x) == ("c" if kernels.c_available() else "numba")
    assert fused.fused_backend(x.half()) == "torch"


@pytest.mark.parametrize("reset,detach", [("soft", False), ("soft", True), ("hard", False),
                                          ("hard", True), ("none", False)])
@pytest.mark.parametrize("sg", [ATan(2.0), FastSigmoid(5.0), Triangle(0.8), Sigmoid(4.0),
                                Gauss(1.5)], ids=lambda s: type(s).__name__)
def test_c_kernels_bit_identical_to_numba(reset, detach, sg):
    """The c backend repeats the numba kernels' arithmetic: float32 spikes, final state and
    every gradient (x, v0, beta) equal to the last bit, over more neurons than one thread
    slice, so results recorded with either backend reproduce with the other."""
    if not (kernels.c_available() and kernels.have_numba()):
        pytest.skip("needs both the compiled kernels and numba")
    x, v0, beta, ws, wv = _inputs(T=11, B=4, H=9000, dtype=torch.float32, seed=13)
    outs = []
    for be in ("numba", "c"):
        got = lif_multistep_fused(x, v0, beta, 0.8, reset, -0.1, sg, detach, be)
        outs.append((*got, *_grads(got, (x, v0, beta), ws, wv)))
    assert 0 < float(outs[0][0].detach().sum()) < outs[0][0].numel()
    for a, b in zip(*outs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("reset,detach", [("soft", False), ("soft", True), ("hard", False),
                                          ("hard", True), ("none", False)])
@pytest.mark.parametrize("sg", [ATan(2.0), FastSigmoid(5.0), Triangle(0.8), Sigmoid(4.0),
                                Gauss(1.5)], ids=lambda s: type(s).__name__)
def test_c_adaptive_kernels_bit_identical_to_numba(reset, detach, sg):
    """As for the LIF: the adaptive LIF's C kernels give numba's float32 spikes, states and
    gradients (x, v0, a0, beta, rho) to the last bit; without grad too."""
    if not (kernels.c_available() and kernels.have_numba()):
        pytest.skip("needs both the compiled kernels and numba")
    x, v0, beta, ws, wv = _inputs(T=11, B=4, H=9000, dtype=torch.float32, seed=14)
    g = torch.Generator().manual_seed(15)
    a0 = (0.2 * torch.rand(4, 9000, generator=g)).requires_grad_()
    rho = (0.7 + 0.25 * torch.rand(9000, generator=g)).requires_grad_()
    ins = (x, v0, a0, beta, rho)
    outs = []
    for be in ("numba", "c"):
        got = alif_multistep_fused(x, v0, a0, beta, rho, 0.8, 0.15, reset, -0.1, sg, detach, be)
        loss = (got[0] * ws).sum() + (got[1] * wv).sum() + got[2].sum()
        with torch.no_grad():
            inference = alif_multistep_fused(x, v0, a0, beta, rho, 0.8, 0.15, reset, -0.1, sg,
                                             detach, be)
        outs.append((*got, *torch.autograd.grad(loss, ins), *inference))
    assert 0 < float(outs[0][0].detach().sum()) < outs[0][0].numel()
    for a, b in zip(*outs):
        assert torch.equal(a, b)


def test_c_backend_errors():
    if not kernels.c_available():
        pytest.skip("compiled kernels not built")
    with pytest.raises(ValueError, match="float32/float64"):
        lif_multistep_fused(torch.zeros(3, 2, dtype=torch.float16), backend="c")
    with pytest.raises(ValueError, match="float32/float64"):
        alif_multistep_fused(torch.zeros(3, 2, dtype=torch.float16), backend="c")


@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
def test_alif_no_grad_path_matches_torch_backend(reset):
    """Under no_grad the numba ALIF writes h and a_{t-1} to one scratch row per step;
    spikes and final state must equal the torch backend's (which stores every step)."""
    if "numba" not in BACKENDS:
        pytest.skip("numba not installed")
    x, v0, beta, _, _ = _inputs(T=9, B=2, H=2100, dtype=torch.float32, seed=8)
    a = alif_multistep_fused(x, v0, None, beta, 0.9, 0.8, 0.2, reset, backend="torch")
    with torch.no_grad():
        b = alif_multistep_fused(x, v0, None, beta, 0.9, 0.8, 0.2, reset, backend="numba")
    assert a[0].sum() > 0
    for p, q in zip(a, b):
        assert torch.equal(p, q)


def _alif_inputs(surrogate):
    """(x, v0, a0, beta, rho), the loss weights (ws, wv, wa) and the surrogate of the
    adaptive-LIF reference comparisons (shared with test_fused_triton)."""
    x, v0, beta, ws, wv = _inputs(T=8, seed=5)
    g = torch.Generator().manual_seed(6)
    a0 = (0.2 * torch.rand(3, 5, generator=g, dtype=torch.float64)).requires_grad_()
    rho = (0.7 + 0.25 * torch.rand(5, generator=g, dtype=torch.float64)).requires_grad_()
    wa = torch.randn(3, 5, generator=g, dtype=torch.float64)
    sg = ATan(2.0) if surrogate == "atan" else Gauss(1.5)
    return (x, v0, a0, beta, rho), (ws, wv, wa), sg


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach", [("soft", False), ("soft", True), ("hard", False),
                                          ("hard", True), ("none", False)])
@pytest.mark.parametrize("surrogate", ["atan", "custom"])
def test_alif_matches_reference(backend, reset, detach, surrogate):
    (x, v0, a0, beta, rho), (ws, wv, wa), sg = _alif_inputs(surrogate)
    ref = ref_alif(x, v0, a0, beta, rho, 0.8, 0.15, reset, 0.0, sg, detach)
    got = alif_multistep_fused(x, v0, a0, beta, rho, 0.8, 0.15, reset, 0.0, sg, detach, backend)
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    for a, b in zip(got[1:], ref[1:]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    ins = (x, v0, a0, beta, rho)
    lr = (ref[0] * ws).sum() + (ref[1] * wv).sum() + (ref[2] * wa).sum()
    lg = (got[0] * ws).sum() + (got[1] * wv).sum() + (got[2] * wa).sum()
    for a, b in zip(torch.autograd.grad(lg, ins), torch.autograd.grad(lr, ins)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_module_learn_beta():
    """The LIF module with a learnable per-neuron decay on a chosen backend (FusedLIF's
    test: the fused module is now LIF(backend=...))."""
    torch.manual_seed(0)
    m = LIF(4, beta=0.9, learn_tau=True, per_neuron=True, backend="torch").double()
    x = torch.rand(5, 2, 4, dtype=torch.float64)
    s, st = m(x)
    (s.sum() + st.v.sum()).backward()
    assert m.w.grad is not None and m.w.grad.shape == (4,)
    ref = ref_lif(x, None, m.beta, 1.0, "soft", 0.0, ATan(2.0), False)
    assert torch.equal(s, ref[0])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(reset="zero"), "reset must be one of"),
        (dict(beta=1.5), r"beta must be in \[0, 1\], got 1.5"),
        (dict(threshold=0.0), "threshold must be finite and > 0, got 0.0"),
        (dict(backend="cuda"), "backend must be one of"),
        (dict(v0=torch.zeros(3)), r"v0 must be broadcastable to the neuron shape \(2, 4\)"),
        (dict(beta=torch.ones(5)), r"beta must be broadcastable"),
        (dict(surrogate="relu"), "surrogate must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    x = torch.zeros(3, 2, 4)
    with pytest.raises(ValueError, match=match):
        lif_multistep_fused(x, **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="x_seq must be a floating-point tensor"):
        lif_multistep_fused(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="time steps T"):
        lif_multistep_fused(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="theta_plus must be finite and >= 0"):
        alif_multistep_fused(torch.zeros(3, 2), theta_plus=-1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,detach", [("soft", False), ("hard", True), ("none", False)])
def test_matches_library_lif_and_alif(backend, reset, detach):
    """The contract the dispatch relies on: same values and gradients as the library's
    reference neurons (refractory_steps = 0) in snnbench.neurons.lif / adaptive."""
    lif_mod = pytest.importorskip("snnbench.neurons.lif")
    ad_mod = pytest.importorskip("snnbench.neurons.adaptive")
    x, v0, beta, ws, wv = _inputs(T=6, seed=8)
    sg = ATan(2.0)
    ref0 = torch.zeros(3, 5, dtype=torch.long)
    p = lif_mod.LIFParams(beta=beta, threshold=0.8, reset=reset, v_reset=-0.1, surrogate=sg,
                          detach_reset=detach)
    rs, rst = lif_mod.lif(x, lif_mod.LIFState(v0, ref0), p)
    gs, gv = lif_multistep_fused(x, v0, beta, 0.8, reset, -0.1, sg, detach, backend)
    assert torch.equal(gs, rs)
    torch.testing.assert_close(gv, rst.v, rtol=1e-12, atol=1e-12)
    for a, b in zip(_grads((gs, gv), (x, v0, beta), ws, wv),
                    _grads((rs, rst.v), (x, v0, beta), ws, wv)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)

    th0 = torch.full((3, 5), 0.1, dtype=torch.float64, requires_grad=True)
    pa = ad_mod.ALIFParams(beta=beta, threshold=0.8, theta_plus=0.2, theta_decay=0.9,
                           reset=reset, v_reset=-0.1, surrogate=sg, detach_reset=detach)
    ra, rast = ad_mod.alif(x, ad_mod.ALIFState(v0, th0, ref0), pa)
    fa = alif_multistep_fused(x, v0, th0, beta, 0.9, 0.8, 0.2, reset, -0.1, sg, detach, backend)
    assert torch.equal(fa[0], ra)
    torch.testing.assert_close(fa[2], rast.theta, rtol=1e-12, atol=1e-12)
    ins = (x, v0, th0, beta)
    lr = (ra * ws).sum() + (rast.v * wv).sum() + rast.theta.sum()
    lg = (fa[0] * ws).sum() + (fa[1] * wv).sum() + fa[2].sum()
    for a, b in zip(torch.autograd.grad(lg, ins), torch.autograd.grad(lr, ins)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.skipif("numba" not in BACKENDS, reason="numba is not installed")
def test_numba_kernels_leave_torch_thread_count_alone():
    """numba's OpenMP layer, when it starts, sets the OpenMP thread count (torch's) to
    numba's; after a numba LIF forward and backward torch still has 1 thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.rand(20, 8, 300, dtype=torch.float64, requires_grad=True)
        s, _ = lif_multistep_fused(x, torch.zeros(8, 300, dtype=torch.float64), 0.9, backend="numba")
        s.sum().backward()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_channels_last_input_gives_the_contiguous_values_in_its_own_layout(backend):
    """A channels-last ``[T, B, C, H, W]`` input (dense, channels innermost, what the conv
    models feed their neurons): the kernel runs on the permuted contiguous view instead of
    a copy. Spikes, final membrane and gradients equal the run on the contiguous input, and
    the spikes keep the input's layout."""
    torch.manual_seed(3)
    x = 1.5 * torch.randn(5, 2, 3, 4, 4, dtype=torch.float64)
    v0 = 0.3 * torch.randn(2, 3, 4, 4, dtype=torch.float64)
    beta = (0.4 + 0.5 * torch.rand(3, 1, 1, dtype=torch.float64))
    w_s = torch.randn(x.shape, dtype=torch.float64)
    results = []
    for layout in ("contiguous", "channels_last"):
        xi = x.clone() if layout == "contiguous" else x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        xi, v, b = xi.requires_grad_(), v0.clone().requires_grad_(), beta.clone().requires_grad_()
        s, vt = lif_multistep_fused(xi, v, b, threshold=0.8, backend=backend)
        ((s * w_s).sum() + vt.square().sum()).backward()
        results.append((xi, s, vt, xi.grad, v.grad, b.grad))
    (xc, *ref), (xl, *got) = results
    assert kernels.dense_order(xc) is None and kernels.dense_order(xl) == [0, 1, 3, 4, 2]
    assert 0 < float(ref[0].detach().sum()) < ref[0].numel()
    assert got[0].stride() == xl.stride()  # no channels-first copy came out
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    for a, b in zip(got[1:], ref[1:]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_dense_order_finds_the_layout_or_declines():
    x = torch.zeros(3, 2, 4, 6, 6)
    assert kernels.dense_order(x) is None  # contiguous: nothing to permute
    assert kernels.dense_order(x[:, :, ::2]) is None  # gaps: the kernel copies
    assert kernels.dense_order(x.transpose(1, 2)) == [0, 2, 1, 3, 4]
    assert kernels.dense_order(torch.zeros(4, 3).t()) is None  # [T, N] is never permuted
    step = torch.zeros(2, 5, 5, 4).permute(0, 3, 1, 2)  # a channels-last frame, repeated over T
    assert kernels.dense_order(step.expand(3, *step.shape)) == [0, 1, 3, 4, 2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lif", "alif"])
def test_gradients_with_a_fixed_decay_match_the_reference(backend, kind):
    """beta without a gradient (the kernels then skip the initial-state copy they read only
    for dL/dbeta): dL/dx and dL/dv0 still equal the autograd reference's."""
    x, v0, beta, ws, wv = _inputs(seed=4)
    beta = beta.detach()
    if kind == "lif":
        ref = ref_lif(x, v0, beta, 0.8, "soft", 0.0, ATan(2.0), False)
        got = lif_multistep_fused(x, v0, beta, threshold=0.8, surrogate=ATan(2.0), backend=backend)
    else:
        rho = torch.full_like(beta, 0.9)
        ref = ref_alif(x, v0, None, beta, rho, 0.8, 0.2, "soft", 0.0, ATan(2.0), False)
        got = alif_multistep_fused(x, v0, None, beta, rho, threshold=0.8, theta_plus=0.2,
                                   surrogate=ATan(2.0), backend=backend)
    assert 0 < float(ref[0].detach().sum()) < ref[0].numel()
    for a, b in zip(_grads(got, (x, v0), ws, wv), _grads(ref, (x, v0), ws, wv)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(), (1, 1), "expanded"])
def test_one_beta_for_the_layer_matches_the_reference(backend, shape):
    """A single decay for every neuron (a float tensor, a [1, 1], or one expanded to the
    neurons' shape: the C kernels take it as one value instead of an [N] copy): values and
    gradients, dL/dbeta included, equal the autograd reference's."""
    x, v0, _, ws, wv = _inputs(seed=5)
    b = torch.tensor(0.83, dtype=torch.float64).reshape(() if shape == "expanded" else shape).requires_grad_()
    beta = b.expand(v0.shape) if shape == "expanded" else b
    ref = ref_lif(x, v0, beta, 0.8, "hard", 0.1, ATan(2.0), False)
    got = lif_multistep_fused(x, v0, beta, threshold=0.8, reset="hard", v_reset=0.1, surrogate=ATan(2.0),
                              backend=backend)
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    for a, c in zip(_grads(got, (x, v0, b), ws, wv), _grads(ref, (x, v0, b), ws, wv)):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-10)


def _saved_during(fn):
    """The tensors autograd saved while ``fn`` ran (saved_tensors_hooks sees every one)."""
    saved: list[torch.Tensor] = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, saved


@pytest.mark.parametrize("sg, saves_h", [(ATan(2.0), False), (Gauss(1.5), True)], ids=["atan", "custom"])
def test_c_lif_saves_its_input_and_recomputes_h(sg, saves_h):
    """With a built-in surrogate the C LIF keeps no [T, N] buffer of its own for backward:
    it saves the input current and recomputes h in backward (a custom surrogate still saves
    h); the gradients stay the reference's either way."""
    if not kernels.c_available():
        pytest.skip("compiled kernels not built")
    x, v0, beta, ws, wv = _inputs(T=6, B=3, H=40, seed=21)
    out, saved = _saved_during(lambda: lif_multistep_fused(x, v0, beta, threshold=0.8, surrogate=sg, backend="c"))
    big = [t for t in saved if t.shape == x.shape]
    own = [t for t in big if t.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()]
    assert len(big) == 1 and len(own) == int(saves_h)
    ref = ref_lif(x, v0, beta, 0.8, "soft", 0.0, sg, False)
    for a, b in zip(_grads(out, (x, v0, beta), ws, wv), _grads(ref, (x, v0, beta), ws, wv)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("T", [1, 2, 300])
def test_c_lif_recomputation_across_blocks_and_lengths(T):
    """The recomputation walks neurons in cache-sized blocks whose width depends on T (down
    to 64 neurons at long T, with a partial last block): spikes exact, gradients equal to
    the autograd reference's for every reset."""
    if not kernels.c_available():
        pytest.skip("compiled kernels not built")
    for reset in ("soft", "hard", "none"):
        x, v0, beta, ws, wv = _inputs(T=T, B=3, H=1111, seed=22)
        ref = ref_lif(x, v0, beta, 0.8, reset, -0.1, ATan(2.0), False)
        got = lif_multistep_fused(x, v0, beta, threshold=0.8, reset=reset, v_reset=-0.1, backend="c")
        torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
        for a, b in zip(_grads(got, (x, v0, beta), ws, wv), _grads(ref, (x, v0, beta), ws, wv)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_c_lif_input_changed_in_place_before_backward_is_an_error():
    """The saved input is checked like any saved tensor: changing it in place between
    forward and backward raises instead of giving wrong gradients."""
    if not kernels.c_available():
        pytest.skip("compiled kernels not built")
    cur = torch.rand(4, 2, 8, dtype=torch.float64, requires_grad=True) * 1.0  # a non-leaf current
    s, _ = lif_multistep_fused(cur, None, 0.9, backend="c")
    with torch.no_grad():
        cur.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


def test_c_lif_second_backward_through_the_same_graph():
    """backward recomputes h into the gradient's own buffer and never writes the saved
    input: a second backward (retain_graph) gives the same gradients."""
    if not kernels.c_available():
        pytest.skip("compiled kernels not built")
    x, v0, beta, ws, wv = _inputs(T=5, B=2, H=300, seed=23)
    out = lif_multistep_fused(x, v0, beta, threshold=0.8, backend="c")
    loss = (out[0] * ws).sum() + (out[1] * wv).sum()
    first = torch.autograd.grad(loss, (x, v0, beta), retain_graph=True)
    second = torch.autograd.grad(loss, (x, v0, beta))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
