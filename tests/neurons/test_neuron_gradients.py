"""Surrogate backward vs analytic derivative; learnable tau vs finite differences."""

from __future__ import annotations

import pytest
import torch

from snnbench.neurons import LIF, AdaptiveLIF, LIFParams, RecurrentLIF, get_surrogate, lif

D = torch.float64
NAMES = ["atan", "fast_sigmoid", "triangle", "sigmoid"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [0.7, 3.0])
def test_surrogate_backward_equals_derivative_of_primitive(name, alpha):
    sg = get_surrogate(name, alpha)
    # Avoid the two kinks of the triangle primitive at |u| = 1/alpha.
    u = torch.linspace(-2.0, 2.0, 101, dtype=D)
    u = u[(u.abs() * alpha - 1).abs() > 1e-3].clone().requires_grad_(True)
    spikes = sg(u)
    assert torch.equal(spikes, (u >= 0).to(D))
    (g_spike,) = torch.autograd.grad(spikes.sum(), u)
    (g_prim,) = torch.autograd.grad(sg.primitive(u).sum(), u)
    assert torch.allclose(g_spike, g_prim, atol=1e-12)
    assert torch.allclose(g_spike, sg.derivative(u.detach()), atol=1e-12)
    # The primitive really is the antiderivative: numerical check of its gradient.
    assert torch.autograd.gradcheck(sg.primitive, (u,), eps=1e-6, atol=1e-6)


def _central_fd(f, w: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    grad = torch.zeros_like(w)
    flat = grad.view(-1)
    for i in range(w.numel()):
        wp, wm = w.detach().clone(), w.detach().clone()
        wp.view(-1)[i] += eps
        wm.view(-1)[i] -= eps
        flat[i] = (f(wp) - f(wm)) / (2 * eps)
    return grad


def test_learnable_tau_gradient_matches_fd_smooth_surrogate():
    # With reset="none" the surrogate gradient of sum(spikes) is exactly the gradient of
    # sum(primitive(h - thr)), a smooth function of w: compare it with finite differences.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(25, 2, 3, generator=g, dtype=D) * 0.4
    m = LIF(3, beta=0.8, reset="none", surrogate="sigmoid", alpha=2.0, learn_tau=True, per_neuron=True).double()
    with torch.no_grad():
        m.w.add_(torch.tensor([0.3, -0.2, 0.1], dtype=D))
    s, _ = m(x)
    (grad,) = torch.autograd.grad(s.sum(), m.w)

    def smooth_loss(w):
        p = m.params()._replace(beta=torch.sigmoid(w))
        _, _, h = lif(x, None, p, return_membrane=True)
        return m.surrogate.primitive(h - 1.0).sum()

    fd = _central_fd(smooth_loss, m.w)
    assert torch.allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert grad.abs().min() > 0


def test_learnable_tau_gradient_matches_fd_with_spikes_and_detached_reset():
    # Soft reset with detach_reset: the membrane is piecewise smooth in w and the spikes do
    # not change under a 1e-6 perturbation, so autograd must equal finite differences.
    g = torch.Generator().manual_seed(1)
    x = torch.rand(30, 4, generator=g, dtype=D) * 0.5
    m = LIF(beta=0.85, detach_reset=True, learn_tau=True).double()

    def loss(w):
        p = m.params()._replace(beta=torch.sigmoid(w))
        s, _, h = lif(x, None, p, return_membrane=True)
        return (h * torch.linspace(0.5, 1.5, 30, dtype=D)[:, None]).sum(), s

    val, s = loss(m.w)
    assert s.sum() > 5  # the case really spikes
    (grad,) = torch.autograd.grad(val, m.w)
    fd = _central_fd(lambda w: loss(w)[0], m.w)
    assert torch.allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert torch.autograd.gradcheck(lambda w: loss(w)[0], (m.w.detach().clone().requires_grad_(True),))


def test_gradient_reaches_tau_in_every_learnable_module():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(15, 2, 5, generator=g)
    for m in (
        LIF(5, tau_mem=8.0, learn_tau=True, per_neuron=True),
        AdaptiveLIF(5, tau_mem=8.0, learn_tau=True),
        RecurrentLIF(5, 6, tau_mem=8.0, learn_tau=True, per_neuron=True),
    ):
        s, _ = m(x * 2)
        s.sum().backward()
        assert m.w.grad is not None and torch.isfinite(m.w.grad).all() and m.w.grad.abs().sum() > 0
        assert torch.allclose(m.tau_mem.detach(), torch.full_like(m.w, 8.0), rtol=1e-5)


def test_gradient_reaches_input_through_long_sequence():
    # Regression guard for the T^2 trap: gradients arrive for every time step.
    x = torch.full((200, 1, 3), 0.3, requires_grad=True)
    s, _ = LIF(beta=0.9)(x)
    s.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.abs().sum(dim=(1, 2)) > 0).all()


def test_detach_reset_changes_only_backward():
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(20, 3, generator=g, dtype=D) * 0.6).requires_grad_(True)
    p = LIFParams(beta=0.9)
    s1, _ = lif(x, None, p)
    s2, _ = lif(x, None, p._replace(detach_reset=True))
    assert torch.equal(s1, s2)
    g1 = torch.autograd.grad(s1.sum(), x)[0]
    g2 = torch.autograd.grad(s2.sum(), x)[0]
    assert not torch.allclose(g1, g2)
