"""``overwrite_input``: the C LIF keeps h_t in its input's buffer and writes the input
gradient over it. Checked against the same call without it (itself checked against the
autograd reference in test_fused.py) and against the reference loop's membrane trace."""

from __future__ import annotations

import pytest
import torch

from snnbench.neurons import kernels, lif
from snnbench.neurons.fused import lif_multistep_fused
from snnbench.neurons.lif import LIFParams
from snnbench.neurons.surrogate import ATan

pytestmark = pytest.mark.skipif(not kernels.c_available(), reason="compiled kernels not built")


class CustomATan(ATan):
    """ATan under another class: the kernels know surrogates by their exact type, so its
    derivative is computed by torch from a whole h (the custom-surrogate path)."""


def _case(T=6, B=3, H=700, dtype=torch.float64, seed=0):
    """A leaf ``w`` and the intermediate current ``x = w * 1.5 - 0.2`` computed from it
    (what a layer before the neurons hands over), plus loss weights."""
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(T, B, H, generator=g, dtype=dtype).requires_grad_()
    v0 = (torch.rand(B, H, generator=g, dtype=dtype) * 0.5).requires_grad_()
    beta = (0.6 + 0.35 * torch.rand(H, generator=g, dtype=dtype)).requires_grad_()
    ws = torch.randn(T, B, H, generator=g, dtype=dtype)
    wv = torch.randn(B, H, generator=g, dtype=dtype)
    return w, v0, beta, ws, wv


def _run(w, v0, beta, ws, wv, overwrite, **kw):
    x = w * 1.5 - 0.2
    s, v = lif_multistep_fused(x, v0, beta, backend="c", overwrite_input=overwrite, **kw)
    loss = (s * ws).sum() + (v * wv).sum()
    return (s.detach(), v.detach(), *torch.autograd.grad(loss, (w, v0, beta))), x


@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
@pytest.mark.parametrize("sg", [ATan(2.0), CustomATan(2.0)], ids=["atan", "custom"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_spikes_state_and_gradients_as_without(reset, sg, dtype):
    """Spikes, final state and the gradients of the current, v0 and beta are bit-identical
    with and without overwriting, for every reset and a built-in or custom surrogate."""
    case = _case(dtype=dtype, seed=1)
    kw = dict(threshold=0.8, reset=reset, v_reset=-0.1, surrogate=sg)
    plain, _ = _run(*case, overwrite=False, **kw)
    over, _ = _run(*case, overwrite=True, **kw)
    assert 0 < float(plain[0].sum()) < plain[0].numel()
    for a, b in zip(plain, over):
        assert torch.equal(a, b)


def test_input_buffer_holds_the_membrane_then_the_gradient():
    """After forward the input's buffer holds h_t (the reference loop's membrane trace);
    backward writes dL/dx into that same buffer instead of a new one."""
    w, v0, beta, ws, wv = _case(T=5, B=2, H=300, seed=2)
    p = LIFParams(beta=0.85, threshold=0.8)
    x = w * 1.5 - 0.2
    _, _, h_ref = lif(x.detach(), None, p, return_membrane=True)
    ptr, version = x.data_ptr(), x._version
    s, _ = lif(x, None, p, check_finite=False, overwrite_input=True)
    assert x._version > version
    torch.testing.assert_close(x.detach(), h_ref, rtol=1e-12, atol=1e-12)
    seen: list[int] = []
    x.register_hook(lambda g: seen.append(g.data_ptr()))
    (s * ws).sum().backward()
    assert seen == [ptr]


def test_scalar_initial_state_and_decay():
    """A 0-d v0 and a learnable 0-d beta (one value for every neuron, as for PLIF) are
    passed to the kernel as one value: their gradients, and those of the current, match the
    reference loop's, with and without overwriting."""
    g = torch.Generator().manual_seed(3)
    w = torch.rand(7, 4, 500, generator=g, dtype=torch.float64).requires_grad_()
    v0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    ws = torch.randn(7, 4, 500, generator=g, dtype=torch.float64)
    wv = torch.randn(4, 500, generator=g, dtype=torch.float64)
    outs = []
    for backend, overwrite in (("torch", False), ("c", False), ("c", True)):
        x = w * 1.5 - 0.2
        s, v = lif_multistep_fused(x, v0, beta, threshold=0.8, backend=backend,
                                   overwrite_input=overwrite)
        loss = (s * ws).sum() + (v * wv).sum()
        outs.append((s.detach(), v.detach(), *torch.autograd.grad(loss, (w, v0, beta))))
    assert 0 < float(outs[0][0].sum()) < outs[0][0].numel()
    for got in outs[1:]:
        for a, b in zip(outs[0], got):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_another_op_that_saved_the_input_fails_at_backward():
    """An operation that saved the current for its own backward raises there (the version
    counter was bumped), instead of reading the membrane as its input."""
    w, *_ = _case(T=4, B=2, H=50, seed=4)
    x = w * 1.5 - 0.2
    other = (x * w).sum()  # mul saves x
    s, _ = lif_multistep_fused(x, backend="c", overwrite_input=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (s.sum() + other).backward()


def test_second_backward_raises():
    w, v0, beta, ws, wv = _case(T=4, B=2, H=50, seed=5)
    s, _ = lif_multistep_fused(w * 1.5 - 0.2, v0, beta, backend="c", overwrite_input=True)
    loss = (s * ws).sum()
    torch.autograd.grad(loss, (w,), retain_graph=True)
    with pytest.raises(RuntimeError, match="overwrite_input=False to backward twice"):
        torch.autograd.grad(loss, (w,))


def test_leaves_copies_and_inference_keep_their_input():
    """Only an intermediate result of the graph is overwritten: a leaf (the user's own
    tensor), a current that needs no gradient, an expanded current (kernel runs on a copy)
    and a call under no_grad leave the input as it was."""
    g = torch.Generator().manual_seed(6)
    leaf = torch.rand(4, 2, 30, generator=g, dtype=torch.float64).requires_grad_()
    data = torch.rand(4, 2, 30, generator=g, dtype=torch.float64)
    beta = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)  # a gradient is still saved
    frame = (torch.rand(2, 30, generator=g, dtype=torch.float64).requires_grad_() * 2.0)
    expanded = frame.unsqueeze(0).expand(4, 2, 30)
    for x, b in ((leaf, 0.9), (data, beta), (expanded, 0.9)):
        before = x.detach().clone()
        s, _ = lif_multistep_fused(x, None, b, backend="c", overwrite_input=True)
        s.sum().backward()
        assert torch.equal(x.detach(), before)
    x = data * 2.0
    with torch.no_grad():
        lif_multistep_fused(x, backend="c", overwrite_input=True)
    assert torch.equal(x, data * 2.0)
