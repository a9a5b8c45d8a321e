"""Deep conv SNN blocks: batch norm over time, dropout held over time, and the folded
conv SNN against a per-time-step reference loop of the same layers."""

import copy
import math

import pytest
import torch
from torch import nn

from snnbench.models.blocks import (
    Folded, MembraneBlock, Neurons, SEWBlock, TimeBatchNorm, TimeDropout, channels_last, conv_unit,
)
from snnbench.models.delay_mlp import DelaySpikingMLP
from snnbench.models.delay_snn import DelaySNN
from snnbench.models.matching import count_parameters
from snnbench.models.snn import ConvSNN, FeedForwardSNN
from snnbench.models.zoo import ResNet, SpikingMLP, SpikingResNet, SpikingVGG, VGG, n_neuron_layers
from snnbench.neurons import lif_step
from snnbench.neurons.kernels import c_available


def test_time_batch_norm_hand_case_train_and_eval():
    # channel 0 holds 1..8 over (T=2, B=2, W=2): mean 4.5, biased var 5.25, unbiased 6.0
    x = torch.arange(1.0, 9.0).reshape(2, 2, 1, 1, 2)
    x = torch.cat([x, 2 * x], dim=2)  # channel 1: 2..16, mean 9, biased var 21
    bn = TimeBatchNorm(2, alpha=0.5, threshold=0.6, eps=1e-12, momentum=0.1)  # tdBN scale 0.3
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0]))
        bn.bias.copy_(torch.tensor([0.0, -1.0]))
    y = bn(x)
    exp0 = 0.3 * (x[:, :, 0] - 4.5) / math.sqrt(5.25)
    exp1 = 2.0 * 0.3 * (x[:, :, 1] - 9.0) / math.sqrt(21.0) - 1.0
    torch.testing.assert_close(y[:, :, 0], exp0)
    torch.testing.assert_close(y[:, :, 1], exp1)
    torch.testing.assert_close(bn.running_mean, torch.tensor([0.45, 0.9]))
    torch.testing.assert_close(bn.running_var, torch.tensor([0.9 + 0.6, 0.9 + 2.4]))
    bn.eval()
    z = bn(x)
    torch.testing.assert_close(z[:, :, 0], 0.3 * (x[:, :, 0] - 0.45) / math.sqrt(1.5))


def test_time_batch_norm_gradcheck_float64():
    bn = TimeBatchNorm(3, alpha=0.7, threshold=1.3).double()
    x = torch.randn(2, 2, 3, 2, 1, dtype=torch.float64, requires_grad=True)

    def f(x, w, b):
        return torch.func.functional_call(bn, {"weight": w, "bias": b}, (x,))

    w = torch.rand(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, w, b))


def test_time_batch_norm_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\[T, B, 4"):
        TimeBatchNorm(4)(torch.zeros(2, 3, 5))


def test_dropout_mask_held_over_time_and_scaled():
    drop = TimeDropout(0.25)
    x = torch.ones(6, 50, 40)
    y = drop(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y[:1].expand_as(y))  # same mask at every step
    vals = set(torch.unique(y).tolist())
    assert vals <= {0.0, torch.tensor(1.0 / 0.75).item()}
    kept = (y[0] > 0).float().mean().item()
    assert abs(kept - 0.75) < 0.03  # 2,000 draws: 3 sigma ~ 0.029
    again = drop(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, again)
    drop.eval()
    assert drop(x) is x


def _ref(module, xs):
    """Per-time-step reference of the blocks: every layer called on one step at a time."""
    if isinstance(module, Folded):
        return [nn.Sequential.forward(module, x) for x in xs]
    if isinstance(module, TimeBatchNorm):
        if module.training:
            allx = torch.stack(xs)
            dims = [0, 1] + list(range(3, allx.ndim))
            mean = allx.mean(dims, keepdim=True)[0]
            var = allx.var(dims, unbiased=False, keepdim=True)[0]
        else:
            shape = (1, -1) + (1,) * (xs[0].ndim - 2)
            mean, var = module.running_mean.view(shape), module.running_var.view(shape)
        shape = (1, -1) + (1,) * (xs[0].ndim - 2)
        w = (module.weight * module.scale).view(shape)
        return [(x - mean) / torch.sqrt(var + module.eps) * w + module.bias.view(shape) for x in xs]
    if isinstance(module, Neurons):
        p, state, out = module.neuron.params(), None, []
        for x in xs:
            s, state = lif_step(x, state, p)
            out.append(s)
        return out
    if isinstance(module, SEWBlock):
        a, b = _ref(module.branch, xs), _ref(module.shortcut, xs)
        return [u + v for u, v in zip(a, b)]
    if isinstance(module, MembraneBlock):
        s = _ref(module.sn1, xs)
        short = xs if module.shortcut is None else _ref(module.shortcut, s)
        return [u + v for u, v in zip(short, _ref(module.branch, s))]
    if isinstance(module, nn.Sequential):
        for m in module:
            xs = _ref(m, xs)
        return xs
    if isinstance(module, nn.Identity):
        return xs
    raise TypeError(type(module))


def _ref_logits(model, x):
    seq, _ = model.encode(x)
    xs = list(seq.unbind(0))
    xs = _ref(model.body, _ref(model.stem, xs))
    hs = [h.flatten(1) for h in xs]
    for fc, nrn in zip(model.fcs, model.fc_neurons):
        hs = _ref(nrn, [fc(h) for h in hs])
    cur = [model.out(h) for h in hs]
    v, outs = torch.zeros_like(cur[0]), []
    for c in cur:  # the leaky-integrator output layer, mean membrane readout
        v = model.out_neurons.beta * v + c
        outs.append(v)
    return torch.stack(outs).mean(0)


@pytest.mark.parametrize("cls,kw,shape", [
    (SpikingVGG, {"width": 1 / 64, "hidden": [5], "neuron": "plif"}, (3, 32, 32)),
    (SpikingResNet, {"width": 1 / 64, "blocks": [1, 1], "channels": [128, 256],
                     "connect": "sew", "norm": "tdbn"}, (3, 8, 8)),
    (SpikingResNet, {"width": 1 / 64, "blocks": [1, 1], "channels": [128, 256],
                     "connect": "membrane"}, (3, 8, 8)),
])
@pytest.mark.parametrize("train", [True, False])
def test_folded_conv_snn_matches_per_step_loop(cls, kw, shape, train):
    torch.manual_seed(0)
    model = cls(shape, 4, num_steps=3, neuron_kwargs={"threshold": 0.3}, **kw).double()
    for m in model.modules():
        if isinstance(m, TimeBatchNorm):  # eval mode then uses non-trivial statistics
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    model.train(train)
    ref_model = copy.deepcopy(model)
    x = torch.rand(2, *shape, dtype=torch.float64) * 3
    got = model(x)
    want = _ref_logits(ref_model, x)
    torch.testing.assert_close(got, want)
    w = torch.randn_like(got)
    (got * w).sum().backward()
    (want * w).sum().backward()
    spikes_moved = False
    for (n, p), (_, q) in zip(model.named_parameters(), ref_model.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)
        spikes_moved |= "body" in n and p.grad.abs().sum() > 0
    assert spikes_moved  # gradients reached the conv stack through the surrogate


def test_twins_have_equal_parameter_counts_and_run():
    for snn in (SpikingVGG((3, 32, 32), 10, width=1 / 16, hidden=[16], dropout=0.4),
                SpikingResNet((3, 8, 8), 10, width=1 / 32),
                SpikingResNet((3, 8, 8), 10, width=1 / 32, connect="membrane",
                              blocks=[2, 2, 2, 2], channels=[64, 128, 256, 512])):
        ann = snn.twin()
        assert count_parameters(ann) == count_parameters(snn)
        assert [n for n, _ in ann.named_parameters()] == [n for n, _ in snn.named_parameters()]
        x = torch.rand(3, *snn.input_shape)
        assert snn(x).shape == ann(x).shape == (3, 10)
    plif = SpikingVGG((3, 32, 32), 10, width=1 / 16, neuron="plif")
    assert count_parameters(plif) == count_parameters(plif.twin()) + n_neuron_layers(plif)


def test_twin_gradcheck_float64():
    ann = ResNet((3, 4, 4), 3, width=1 / 128, blocks=[1, 1], channels=[256, 512],
                 connect="membrane", hidden=[4]).double()
    ann.eval()  # running statistics: a smooth function of the input
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ann, (x,), fast_mode=True)


def test_full_size_parameter_counts():
    # VGG-11 for CIFAR-10 as in the common pytorch-cifar layout (9,231,114 with conv biases)
    # less the 2,752 conv biases that batch norm makes redundant
    assert count_parameters(VGG((3, 32, 32), 10)) == 9_231_114 - 2_752

    def conv(a, b, k=3):  # weight + the following BN's scale and shift
        return a * b * k * k + 2 * b

    stem = conv(3, 128)
    stage1 = 3 * 2 * conv(128, 128)
    stage2 = conv(128, 256) + conv(256, 256) + conv(128, 256, 1) + 2 * 2 * conv(256, 256)
    stage3 = conv(256, 512) + conv(512, 512) + conv(256, 512, 1) + 2 * conv(512, 512)
    head = 512 * 256 + 256 + 256 * 10 + 10
    assert count_parameters(ResNet((3, 32, 32), 10)) == stem + stage1 + stage2 + stage3 + head


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="unknown vgg options"):
        SpikingVGG((3, 32, 32), 10, widht=0.5)
    with pytest.raises(ValueError, match="too small"):
        VGG((3, 16, 16), 10)
    with pytest.raises(ValueError, match="connect"):
        ResNet((3, 32, 32), 10, connect="dense")


def test_channels_last_keeps_values_and_folding_keeps_the_layout():
    x = torch.randn(3, 2, 4, 5, 5)
    xl = channels_last(x)
    assert torch.equal(xl, x) and xl.permute(0, 1, 3, 4, 2).is_contiguous()
    conv = nn.Conv2d(4, 6, 3, padding=1)
    y, ref = Folded(conv)(xl), Folded(conv)(x)
    torch.testing.assert_close(y, ref)  # the same values whatever the layout
    assert y.permute(0, 1, 3, 4, 2).is_contiguous()  # and the output stays channels-last
    frame = x[0]
    assert channels_last(frame) is frame  # only [T, B, C, H, W] is converted


@pytest.mark.parametrize("cls,kw", [(SpikingVGG, {"width": 0.125}),
                                    (SpikingResNet, {"blocks": [1, 1], "channels": [8, 16], "hidden": []})])
def test_zoo_layers_see_channels_last_activity(cls, kw):
    """The zoo's conv SNNs run channels-last end to end: every neuron layer of the conv
    body gets a dense channels-last [T, B, C, H, W] current (no channels-first copy on the way)."""
    from snnbench.neurons.kernels import dense_order

    torch.manual_seed(0)
    net = cls((3, 32, 32), 10, num_steps=2, **kw)
    seen = []
    for mod in net.modules():
        if isinstance(mod, Neurons):
            mod.register_forward_pre_hook(lambda _m, a: seen.append(a[0]))
    net(torch.rand(2, 3, 32, 32)).sum().backward()
    conv = [x for x in seen if x.dim() == 5 and x.shape[-1] > 1]
    assert conv and all(dense_order(x) == [0, 1, 3, 4, 2] for x in conv)


def _overwriting(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if getattr(m, "overwrite_input", False)]


@pytest.mark.skipif(not c_available(), reason="compiled kernels not built")
def test_neurons_that_overwrite_their_input_change_no_result():
    """The builders let a layer's neurons keep their membrane in the input current's buffer
    where nothing else reads it (after a conv unit, a residual sum, a synapse): one
    training step's logits and gradients are bit-identical with every such layer switched
    off. The membrane-shortcut block's first neurons, whose input is also the shortcut,
    must not overwrite it (turning it on changes the result)."""
    torch.manual_seed(0)
    models = [SpikingVGG((3, 32, 32), 10, width=1 / 16, hidden=[16], dropout=0.3),
              SpikingResNet((3, 8, 8), 10, width=1 / 32),
              SpikingResNet((3, 8, 8), 10, width=1 / 32, connect="membrane"),
              SpikingMLP((3, 8, 8), [24, 16], 10, dropout=0.3),
              DelaySpikingMLP((12, 6), [8, 8], 3, max_delay=5),
              FeedForwardSNN((20,), [16, 12], 4, encoder="bernoulli", num_steps=6),
              FeedForwardSNN((20,), [16, 12], 4, encoder="bernoulli", num_steps=6, event_synapses=True),
              ConvSNN((1, 8, 8), [4, 6], 3, kernel_size=3, hidden=[10], num_steps=5),
              DelaySNN((9, 3), [6, 5], 4, max_delay=4, readout="mean_membrane")]

    def step(model, x):
        out = model(x, generator=torch.Generator().manual_seed(1))
        loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum()
        return [out.detach(), *torch.autograd.grad(loss, list(model.parameters()))]

    for model in models:
        off = copy.deepcopy(model)
        assert _overwriting(model)
        for m in _overwriting(off):
            m.overwrite_input = False
        versions, written = {}, []  # per layer: did its input's version move during the call
        hooks = [h for m in _overwriting(model) for h in (
            m.register_forward_pre_hook(lambda mod, args: versions.__setitem__(mod, args[0]._version)),
            m.register_forward_hook(lambda mod, args, out: written.append(args[0]._version > versions[mod])))]
        x = torch.rand(4, *model.input_shape)
        for a, b in zip(step(model, x), step(off, x)):
            assert torch.equal(a, b)
        for h in hooks:
            h.remove()
        assert any(written)
    membrane = models[2]
    first = [b.sn1.neuron for b in membrane.modules() if isinstance(b, MembraneBlock)]
    assert first and not any(n.overwrite_input for n in first)
    wrong = copy.deepcopy(membrane)
    for n in (b.sn1.neuron for b in wrong.modules() if isinstance(b, MembraneBlock)):
        n.overwrite_input = True
    x = torch.rand(4, *membrane.input_shape)
    assert not torch.equal(step(wrong, x)[0], step(membrane, x)[0])


def test_neuron_kwargs_cannot_set_overwrite_input():
    with pytest.raises(ValueError, match="cannot set overwrite_input"):
        SpikingVGG((3, 32, 32), 10, width=1 / 16, neuron_kwargs={"overwrite_input": True})
