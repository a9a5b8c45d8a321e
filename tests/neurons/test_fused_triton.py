"""The triton backend of the fused neurons (the GPU path) against the autograd reference.

Runs on a CUDA device when one is present and triton imports; on a machine without a GPU
it runs the same kernels under Triton's CPU interpreter when asked to:

    TRITON_INTERPRET=1 python -m pytest tests/neurons/test_fused_triton.py

Otherwise (CI: no GPU, no triton in the CPU wheel of torch) the module is skipped.
"""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from snnbench.neurons import LIF, fused, kernels
from snnbench.neurons.fused import alif_multistep_fused, lif_multistep_fused
from snnbench.neurons.surrogate import ATan, FastSigmoid, Sigmoid, Triangle

from test_fused import Gauss, _alif_inputs, _grads, _inputs, ref_alif, ref_lif  # same folder

if not kernels.have_triton():
    pytest.skip("triton is not installed", allow_module_level=True)
if torch.cuda.is_available():
    DEV = torch.device("cuda")
elif os.environ.get("TRITON_INTERPRET") == "1":
    DEV = torch.device("cpu")
else:
    pytest.skip("no CUDA device (set TRITON_INTERPRET=1 to run the kernels on the CPU)",
                allow_module_level=True)


def _on(*ts):
    """Leaf copies on the test device that require grad like the originals."""
    return [t.detach().to(DEV).requires_grad_(t.requires_grad) for t in ts]


def _close(got, want, **tol):
    torch.testing.assert_close(got.cpu(), want.detach().cpu(), **tol)


@pytest.mark.parametrize(
    "reset,detach,sg",
    [(r, d, ATan(2.0)) for r, d in itertools.product(["soft", "hard", "none"], [False, True])]
    + [("soft", False, FastSigmoid(5.0)), ("hard", False, Triangle(0.8)),
       ("soft", False, Sigmoid(4.0)), ("hard", True, Gauss(1.5))],
)
def test_lif_matches_reference_float64(reset, detach, sg):
    x, v0, beta, ws, wv = _inputs()
    ref = ref_lif(x, v0, beta, 0.8, reset, -0.1, sg, detach)
    xd, v0d, bd = _on(x, v0, beta)
    got = lif_multistep_fused(xd, v0d, bd, 0.8, reset, -0.1, sg, detach, backend="triton")
    assert 0 < float(ref[0].detach().sum()) < ref[0].numel()  # some spikes, not all
    _close(got[0], ref[0], rtol=0, atol=0)
    _close(got[1], ref[1], rtol=1e-12, atol=1e-12)
    gr = _grads(ref, (x, v0, beta), ws, wv)
    gg = _grads(got, (xd, v0d, bd), ws.to(DEV), wv.to(DEV))
    for a, b in zip(gg, gr):
        _close(a, b, rtol=1e-10, atol=1e-10)


def test_float32_identical_to_reference_across_blocks():
    """More neurons than one program's block (masking) and mul-then-add rounding: spikes
    and membrane bit-identical to the reference loop in float32."""
    from snnbench.neurons.kernels.triton import BLOCK

    x, v0, beta, ws, wv = _inputs(T=12, B=3, H=BLOCK + 7, dtype=torch.float32, seed=2)
    ref = ref_lif(x, v0, beta, 1.0, "soft", 0.0, ATan(2.0), False)
    xd, v0d, bd = _on(x, v0, beta)
    got = lif_multistep_fused(xd, v0d, bd, backend="triton")
    assert torch.equal(got[0].cpu(), ref[0].detach()) and torch.equal(got[1].cpu(), ref[1].detach())
    gr = _grads(ref, (x, v0, beta), ws, wv)
    gg = _grads(got, (xd, v0d, bd), ws.to(DEV), wv.to(DEV))
    for a, b in zip(gg, gr):
        _close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
def test_gradcheck_membrane(reset):
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(6, 2, 3, generator=g, dtype=torch.float64) * 0.9).to(DEV).requires_grad_()
    v0 = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 0.4).to(DEV).requires_grad_()
    beta = (0.5 + 0.4 * torch.rand(3, generator=g, dtype=torch.float64)).to(DEV).requires_grad_()

    def f(x, v0, beta):
        return lif_multistep_fused(x, v0, beta, 1.0, reset, 0.1, "atan", True, "triton")[1]

    assert torch.autograd.gradcheck(f, (x, v0, beta), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("reset,detach", [("soft", False), ("soft", True), ("hard", False),
                                          ("hard", True), ("none", False)])
@pytest.mark.parametrize("surrogate", ["atan", "custom"])
def test_alif_matches_reference_float64(reset, detach, surrogate):
    (x, v0, a0, beta, rho), (ws, wv, wa), sg = _alif_inputs(surrogate)
    ref = ref_alif(x, v0, a0, beta, rho, 0.8, 0.15, reset, 0.0, sg, detach)
    ins = _on(x, v0, a0, beta, rho)
    got = alif_multistep_fused(*ins[:3], ins[3], ins[4], 0.8, 0.15, reset, 0.0, sg, detach,
                               "triton")
    _close(got[0], ref[0], rtol=0, atol=0)
    for a, b in zip(got[1:], ref[1:]):
        _close(a, b, rtol=1e-12, atol=1e-12)
    lr = (ref[0] * ws).sum() + (ref[1] * wv).sum() + (ref[2] * wa).sum()
    wsd, wvd, wad = ws.to(DEV), wv.to(DEV), wa.to(DEV)
    lg = (got[0] * wsd).sum() + (got[1] * wvd).sum() + (got[2] * wad).sum()
    for a, b in zip(torch.autograd.grad(lg, ins), torch.autograd.grad(lr, (x, v0, a0, beta, rho))):
        _close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("beta_shape,v0_shape", [((), (5,)), ((3, 1), ()), ((1, 5), (3, 5)),
                                                 ((3, 5), (1, 5))])
def test_broadcast_parameters(beta_shape, v0_shape):
    """beta and v0 of any broadcastable shape (read periodically or expanded inside the
    wrapper): values and gradients summed back to their own shapes, as the reference."""
    x, _, _, ws, wv = _inputs(seed=11)
    g = torch.Generator().manual_seed(12)
    beta = (0.6 + 0.3 * torch.rand(beta_shape, generator=g, dtype=torch.float64)).requires_grad_()
    v0 = (0.5 * torch.rand(v0_shape, generator=g, dtype=torch.float64)).requires_grad_()
    ref = ref_lif(x, v0.expand(3, 5), beta, 0.8, "soft", 0.0, ATan(2.0), False)
    xd, v0d, bd = _on(x, v0, beta)
    got = lif_multistep_fused(xd, v0d, bd, 0.8, backend="triton")
    _close(got[0], ref[0], rtol=0, atol=0)
    gr = _grads(ref, (x, v0, beta), ws, wv)
    gg = _grads(got, (xd, v0d, bd), ws.to(DEV), wv.to(DEV))
    for a, b in zip(gg, gr):
        assert a.shape == b.shape
        _close(a, b, rtol=1e-10, atol=1e-10)
    # the adaptive LIF reads beta and rho the same way
    ra = alif_multistep_fused(x, v0, None, beta, beta * 0.9, 0.8, 0.1)
    ga = alif_multistep_fused(xd, v0d, None, bd, bd * 0.9, 0.8, 0.1, backend="triton")
    for a, b in zip(ga, ra):
        _close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input_keeps_float32_state(dtype):
    """Half inputs are widened in registers: the result equals the float32 reference run
    on the same (rounded) input, returned in the input's dtype."""
    x, v0, beta, ws, _ = _inputs(T=10, B=2, H=6, dtype=torch.float32, seed=9)
    xh = x.detach().to(dtype)
    ref = ref_lif(xh.float(), None, 0.9, 1.0, "soft", 0.0, ATan(2.0), False)
    xd = xh.to(DEV).requires_grad_()
    s, v = lif_multistep_fused(xd, None, 0.9, backend="triton")
    assert s.dtype == dtype and v.dtype == dtype
    assert torch.equal(s.float().cpu(), ref[0])
    (s.float() * ws.to(DEV)).sum().backward()
    assert xd.grad.dtype == dtype and bool(torch.isfinite(xd.grad).all())


def test_module_and_auto_dispatch():
    """LIF with a learnable beta on the device matches the torch backend; on CUDA the
    default backend resolves to triton."""
    torch.manual_seed(0)
    x = torch.rand(15, 4, 40, device=DEV) * 0.6
    a = LIF(40, beta=0.85, learn_tau=True, per_neuron=True, backend="triton").to(DEV)
    b = LIF(40, beta=0.85, learn_tau=True, per_neuron=True, backend="torch").to(DEV)
    sa, va = a(x)
    sb, vb = b(x)
    va, vb = va.v, vb.v
    assert torch.equal(sa, sb) and torch.equal(va, vb)
    (sa.sum() + va.sum()).backward()
    (sb.sum() + vb.sum()).backward()
    _close(a.w.grad, b.w.grad, rtol=1e-5, atol=1e-5)
    if DEV.type == "cuda":
        assert fused.fused_backend(x) == "triton"


def test_triton_backend_rejects_unsupported_tensors():
    with pytest.raises(ValueError, match="backend='triton'"):
        fused.fused_backend(torch.ones(3, 2, dtype=torch.int32, device=DEV), "triton")
    if DEV.type == "cuda":  # a CPU tensor needs the interpreter
        with pytest.raises(ValueError, match="TRITON_INTERPRET"):
            fused.fused_backend(torch.ones(3, 2), "triton")
