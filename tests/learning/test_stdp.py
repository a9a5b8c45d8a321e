"""STDP-family rules against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from snnbench.learning.stdp import (
    STDP,
    STDPParams,
    apply_update,
    check_stdp_params,
    normalize_weights,
    stdp_delta,
    stdp_delta_conv,
    stdp_sequence,
    stdp_step,
    teacher_force,
    teacher_spikes,
    trace_sequence,
    trace_step,
)

P = STDPParams(nu_pre=0.3, nu_post=0.5, tau_pre=10.0, tau_post=25.0, dt=1.0, wmin=0.0, wmax=1.0)


def _pair(t_pre: int, t_post: int, T: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    pre = torch.zeros(T, 1, 1, dtype=torch.float64)
    post = torch.zeros(T, 1, 1, dtype=torch.float64)
    pre[t_pre] = 1
    post[t_post] = 1
    return pre, post


@pytest.mark.parametrize("d", [1, 3, 7, 15])
def test_pre_before_post_potentiates_by_a_plus_exp(d):
    pre, post = _pair(5, 5 + d)
    w = torch.full((1, 1), 0.5, dtype=torch.float64)
    dw, _ = stdp_sequence(w.clone(), pre, post, P, online=False)
    assert dw.item() == pytest.approx(P.nu_post * math.exp(-d / P.tau_pre), rel=1e-12)


@pytest.mark.parametrize("d", [1, 4, 10, 20])
def test_post_before_pre_depresses_by_a_minus_exp(d):
    pre, post = _pair(5 + d, 5)
    w = torch.full((1, 1), 0.5, dtype=torch.float64)
    dw, _ = stdp_sequence(w.clone(), pre, post, P, online=False)
    assert dw.item() == pytest.approx(-P.nu_pre * math.exp(-d / P.tau_post), rel=1e-12)


def test_simultaneous_pair_gives_both_terms():
    pre, post = _pair(3, 3)
    dw, _ = stdp_sequence(torch.full((1, 1), 0.5, dtype=torch.float64), pre, post, P, online=False)
    assert dw.item() == pytest.approx(P.nu_post - P.nu_pre)


def test_weight_dependent_shrinks_near_bounds():
    p = P._replace(rule="weight_dependent")
    pre, post = _pair(5, 8)
    ups = []
    for w0 in (0.1, 0.5, 0.9, 0.99):
        dw, _ = stdp_sequence(torch.full((1, 1), w0, dtype=torch.float64), pre, post, p, online=False)
        ups.append(dw.item())
        assert dw.item() == pytest.approx(p.nu_post * math.exp(-3 / p.tau_pre) * (1 - w0))
    assert all(a > b > 0 for a, b in zip(ups, ups[1:]))
    pre, post = _pair(8, 5)
    downs = []
    for w0 in (0.9, 0.5, 0.1, 0.01):
        dw, _ = stdp_sequence(torch.full((1, 1), w0, dtype=torch.float64), pre, post, p, online=False)
        downs.append(dw.item())
        assert dw.item() == pytest.approx(-p.nu_pre * math.exp(-3 / p.tau_post) * w0)
    assert all(a < b < 0 for a, b in zip(downs, downs[1:]))
    # at the bounds themselves the rule cannot push further out
    w = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    s = torch.ones(1, 2, dtype=torch.float64)
    dw = stdp_delta(w, s, torch.ones(1, 1, dtype=torch.float64), s, torch.ones(1, 1, dtype=torch.float64), p)
    assert dw[0, 0] <= 0 and dw[0, 1] >= 0


def test_hebbian_never_depresses():
    p = P._replace(rule="hebbian")
    g = torch.Generator().manual_seed(0)
    pre = (torch.rand(60, 2, 5, generator=g) < 0.2).double()
    post = (torch.rand(60, 2, 3, generator=g) < 0.2).double()
    w = torch.rand(3, 5, generator=g, dtype=torch.float64) * 0.5
    w0 = w.clone()
    state = None
    for t in range(60):
        dw, state = stdp_step(w, pre[t], post[t], state, p)
        assert (dw >= 0).all()
        apply_update(w, dw, p)
    assert (w >= w0).all() and (w > w0).any()
    # post-before-pre alone still potentiates
    pre1, post1 = _pair(9, 4)
    dw, _ = stdp_sequence(torch.full((1, 1), 0.5, dtype=torch.float64), pre1, post1, p, online=False)
    assert dw.item() == pytest.approx(p.nu_pre * math.exp(-5 / p.tau_post))


def test_traces_decay_as_specified():
    s = torch.zeros(30, 3, dtype=torch.float64)
    s[0, 0] = 1
    s[0, 1] = 1
    s[4, 1] = 1
    tr, last = trace_sequence(s, tau=7.0, dt=0.5, mode="add")
    t = torch.arange(30, dtype=torch.float64) * 0.5
    expect0 = torch.exp(-t / 7.0)
    assert torch.allclose(tr[:, 0], expect0)
    expect1 = expect0 + torch.where(t >= 2.0, torch.exp(-(t - 2.0) / 7.0), torch.zeros_like(t))
    assert torch.allclose(tr[:, 1], expect1)
    assert torch.equal(tr[:, 2], torch.zeros(30, dtype=torch.float64))
    assert torch.equal(last, tr[-1])
    # "set" mode: nearest spike, jumps back to 1 instead of adding
    tr_set, _ = trace_sequence(s, tau=7.0, dt=0.5, mode="set")
    expect_set = torch.where(t >= 2.0, torch.exp(-(t - 2.0) / 7.0), expect0)
    assert torch.allclose(tr_set[:, 1], expect_set)
    assert trace_step(torch.tensor([2.0]), torch.tensor([0.0]), tau=10.0, dt=10.0).item() == pytest.approx(2 / math.e)


def test_normalisation_keeps_column_sums():
    g = torch.Generator().manual_seed(1)
    w = torch.rand(7, 20, generator=g, dtype=torch.float64)
    w[3] = 0.0
    normalize_weights(w, 7.8)
    sums = w.sum(1)
    assert torch.allclose(sums[[0, 1, 2, 4, 5, 6]], torch.full((6,), 7.8, dtype=torch.float64))
    assert sums[3] == 0
    wc = torch.rand(4, 2, 3, 3, generator=g, dtype=torch.float64)
    normalize_weights(wc, 2.0)
    assert torch.allclose(wc.sum((1, 2, 3)), torch.full((4,), 2.0, dtype=torch.float64))


def test_stdp_module_normalises_after_learning():
    lin = nn.Linear(10, 4, bias=False)
    with torch.no_grad():
        lin.weight.uniform_(0, 0.3)
    g = torch.Generator().manual_seed(2)
    pre = (torch.rand(20, 1, 10, generator=g) < 0.3).float()
    post = (torch.rand(20, 1, 4, generator=g) < 0.3).float()
    STDP(lin, STDPParams(), normalize_to=1.0)(pre, post)
    assert torch.allclose(lin.weight.sum(1), torch.ones(4))


@pytest.mark.parametrize("rule", ["stdp", "weight_dependent", "hebbian"])
def test_conv_and_linear_agree_on_equivalent_case(rule):
    """A conv whose kernel covers the whole image is a linear layer on the flattened image."""
    p = P._replace(rule=rule)
    g = torch.Generator().manual_seed(3)
    B, C, H, W, O = 2, 2, 3, 4, 5
    wc = torch.rand(O, C, H, W, generator=g, dtype=torch.float64)
    s_pre = (torch.rand(B, C, H, W, generator=g) < 0.5).double()
    x_pre = torch.rand(B, C, H, W, generator=g, dtype=torch.float64) + s_pre
    s_post = (torch.rand(B, O, 1, 1, generator=g) < 0.5).double()
    x_post = torch.rand(B, O, 1, 1, generator=g, dtype=torch.float64) + s_post
    d_conv = stdp_delta_conv(wc, s_pre, s_post, x_pre, x_post, p)
    d_lin = stdp_delta(wc.reshape(O, -1), s_pre.reshape(B, -1), s_post.reshape(B, O),
                       x_pre.reshape(B, -1), x_post.reshape(B, O), p)
    assert torch.allclose(d_conv.reshape(O, -1), d_lin)


def test_conv_shared_kernel_sums_over_positions():
    """1x1 kernel, 1 channel in and out: dW is the sum over positions of the pair terms."""
    p = P
    s_pre = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64)
    x_pre = torch.tensor([[[[1.0, 0.5], [0.2, 1.0]]]], dtype=torch.float64)
    s_post = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]], dtype=torch.float64)
    x_post = torch.tensor([[[[0.3, 1.0], [1.0, 0.0]]]], dtype=torch.float64)
    w = torch.full((1, 1, 1, 1), 0.5, dtype=torch.float64)
    d = stdp_delta_conv(w, s_pre, s_post, x_pre, x_post, p)
    expect = p.nu_post * (0.5 + 0.2) - p.nu_pre * (0.3 * 1 + 0.0 * 1)
    assert d.item() == pytest.approx(expect)


def test_conv_module_runs_with_padding_and_stride():
    conv = nn.Conv2d(1, 3, 3, stride=2, padding=1, bias=False)
    g = torch.Generator().manual_seed(4)
    pre = (torch.rand(5, 2, 1, 8, 8, generator=g) < 0.3).float()
    post = (torch.rand(5, 2, 3, 4, 4, generator=g) < 0.3).float()
    w0 = conv.weight.detach().clone()
    STDP(conv, STDPParams(wmin=-1.0))(pre, post)
    assert not torch.equal(conv.weight, w0)
    assert conv.weight.min() >= -1 and conv.weight.max() <= 1


def test_grad_mode_lets_an_optimizer_apply_the_update():
    g = torch.Generator().manual_seed(5)
    pre = (torch.rand(15, 3, 6, generator=g) < 0.4).double()
    post = (torch.rand(15, 3, 2, generator=g) < 0.4).double()
    lin = nn.Linear(6, 2, bias=False).double()
    with torch.no_grad():
        lin.weight.uniform_(0.2, 0.8)
    w0 = lin.weight.detach().clone()
    expect, _ = stdp_sequence(w0.clone(), pre, post, P, online=False)
    STDP(lin, P, mode="grad")(pre, post)
    assert torch.allclose(lin.weight.grad, -expect)
    torch.optim.SGD(lin.parameters(), lr=1.0).step()
    assert torch.allclose(lin.weight.detach(), w0 + expect)


def test_online_clips_to_bounds():
    w = torch.full((1, 1), 0.95, dtype=torch.float64)
    pre = torch.ones(10, 1, 1, dtype=torch.float64)
    post = torch.ones(10, 1, 1, dtype=torch.float64)
    stdp_sequence(w, pre, post, STDPParams(nu_post=1.0, nu_pre=0.0), online=True)
    assert w.item() == 1.0


def test_supervised_stdp_teacher_drives_label_neuron():
    """Two input patterns, two outputs, teacher forcing: each output learns its pattern."""
    g = torch.Generator().manual_seed(6)
    patterns = torch.tensor([[1.0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    lin = nn.Linear(6, 2, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.5)
    rule = STDP(lin, STDPParams(nu_pre=0.002, nu_post=0.02, rule="weight_dependent"))
    for k in range(20):
        label = torch.tensor([k % 2])
        pre = (torch.rand(30, 1, 6, generator=g) < 0.3 * patterns[label]).float()
        teacher = teacher_spikes(label, 2, 30, rate_hz=300.0, generator=g)
        rule(pre, torch.zeros(30, 1, 2), teacher=teacher)
    w = lin.weight.detach()
    assert w[0, :3].min() > w[0, 3:].max()
    assert w[1, 3:].min() > w[1, :3].max()
    t = teacher_spikes(torch.tensor([2, 0]), 3, 1000, rate_hz=100.0, dt=1.0, generator=g)
    assert t[:, 0, :2].sum() == 0 and t[:, 1, 1:].sum() == 0
    assert abs(t[:, 0, 2].mean().item() - 0.1) < 0.03
    post = torch.tensor([[1.0, 0.0, 1.0]])
    assert torch.equal(teacher_force(post, torch.tensor([[0.0, 1.0, 0.0]]), suppress_others=False),
                       torch.tensor([[1.0, 1.0, 1.0]]))


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("nu_pre", -1e-4, "nu_pre"),
        ("nu_post", -0.1, "nu_post"),
        ("tau_pre", -20.0, "tau_pre"),
        ("tau_post", 0.0, "tau_post"),
        ("dt", -1.0, "dt"),
        ("rule", "oja", "rule"),
        ("trace_mode", "max", "trace_mode"),
    ],
)
def test_bad_params_raise_named_errors(field, value, match):
    with pytest.raises(ValueError, match=match) as e:
        check_stdp_params(STDPParams()._replace(**{field: value}))
    assert str(value) in str(e.value)


def test_inverted_bounds_and_shape_errors():
    with pytest.raises(ValueError, match="wmin must be < wmax"):
        check_stdp_params(STDPParams(wmin=1.0, wmax=0.0))
    with pytest.raises(ValueError, match="wmin"):
        STDP(nn.Linear(3, 2), STDPParams(wmin=0.5, wmax=0.5))
    w = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="pre_spikes"):
        stdp_delta(w, torch.zeros(1, 4), torch.zeros(1, 2), torch.zeros(1, 4), torch.zeros(1, 2), P)
    with pytest.raises(ValueError, match="tau"):
        trace_step(torch.zeros(1), torch.zeros(1), tau=-5.0)
    with pytest.raises(ValueError, match="labels"):
        teacher_spikes(torch.tensor([3]), 3, 5)
