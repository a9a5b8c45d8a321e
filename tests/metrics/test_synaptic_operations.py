"""Synaptic operation counts against hand-computed cases and brute-force loops."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from snnbench.metrics import SynOps, layer_synaptic_operations


def _linear(weight: list[list[float]]) -> nn.Linear:
    w = torch.tensor(weight)
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
    return lin


def test_linear_known_spike_pattern_exact_acs():
    # column nonzeros of W: [1, 0, 2]; t=0 spikes on inputs 0, 2 -> 1 + 2; t=1 on 1, 2 -> 0 + 2
    lin = _linear([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]])  # [T=2, B=1, 3]
    ops = layer_synaptic_operations(lin, x)
    assert ops == SynOps(dense=12.0, effective_macs=0.0, effective_acs=5.0)


def test_linear_bruteforce_random_sparse():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(7, 11, generator=g) * (torch.rand(7, 11, generator=g) > 0.4)
    lin = _linear(w.tolist())
    x = (torch.rand(4, 3, 11, generator=g) < 0.3).float()
    expected = sum(
        int(x[t, b, j] != 0 and w[o, j] != 0)
        for t, b, j, o in itertools.product(range(4), range(3), range(11), range(7))
    )
    ops = layer_synaptic_operations(lin, x)
    assert ops.effective_acs == expected and ops.effective_macs == 0
    assert ops.dense == 4 * 3 * 11 * 7


def test_dense_analog_input_counts_macs():
    lin = nn.Linear(5, 4)
    x = torch.rand(6, 5) + 0.1  # [B, F] ANN input, all nonzero, not binary
    ops = layer_synaptic_operations(lin, x)
    assert ops.effective_macs == 6 * 5 * 4 == ops.dense
    assert ops.effective_acs == 0


def test_signed_spikes_are_accumulates():
    lin = nn.Linear(3, 2)
    x = torch.tensor([[1.0, -1.0, 0.0]])
    assert layer_synaptic_operations(lin, x) == SynOps(6.0, 0.0, 4.0)


def test_conv2d_corner_spike_hand_count():
    # 3x3 kernel, padding 1: a corner pixel reaches a 2x2 block of outputs, times 2 channels
    conv = nn.Conv2d(1, 2, 3, padding=1)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    ops = layer_synaptic_operations(conv, x)
    assert ops.effective_acs == 8
    # dense: per axis the in-bounds taps of the 4 outputs are 2, 3, 3, 2 -> 10 x 10 x 2 channels
    assert ops.dense == 200


def _conv2d_bruteforce(x, w, stride, padding, dilation):
    """Count the (input, weight) pairs a convolution multiplies: all in-bounds ones (dense)
    and those with a nonzero input and a nonzero weight (effective)."""
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    eff = dense = 0
    for b, o, i, j, c, u, v in itertools.product(
        range(n), range(cout), range(oh), range(ow), range(cin), range(kh), range(kw)
    ):
        r, s = i * stride - padding + u * dilation, j * stride - padding + v * dilation
        if 0 <= r < h and 0 <= s < wd:
            dense += 1
            eff += int(x[b, c, r, s] != 0 and w[o, c, u, v] != 0)
    return dense, eff


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_conv2d_bruteforce_time_first(stride, padding, dilation):
    g = torch.Generator().manual_seed(stride * 10 + padding)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding, dilation=dilation)
    with torch.no_grad():
        conv.weight.mul_((torch.rand(conv.weight.shape, generator=g) > 0.3).float())
    x = (torch.rand(2, 2, 2, 6, 5, generator=g) < 0.4).float()  # [T, B, C, H, W]
    dense, eff = _conv2d_bruteforce(x.reshape(4, 2, 6, 5), conv.weight.detach(), stride, padding, dilation)
    ops = layer_synaptic_operations(conv, x)
    assert (ops.dense, ops.effective_acs, ops.effective_macs) == (dense, eff, 0)


def test_conv1d_groups_dense_equals_macs_of_ones():
    conv = nn.Conv1d(4, 6, 3, padding=1, groups=2)
    x = torch.rand(3, 4, 10) + 0.5  # analog, all nonzero
    ops = layer_synaptic_operations(conv, x)
    # each output element sums (4 / 2) channels x 3 taps, minus the taps that land on padding
    per_channel = 2 * (10 * 3 - 2)
    assert ops.dense == ops.effective_macs == 3 * 6 * per_channel


def test_padding_steps_are_not_counted():
    lin = nn.Linear(2, 3)
    x = torch.ones(4, 2, 2)  # [T=4, B=2, 2]
    ops = layer_synaptic_operations(lin, x, lengths=torch.tensor([4, 1]), padded_length=4)
    assert ops.effective_acs == (4 + 1) * 2 * 3 == ops.dense
    # two sub-steps per series step: T = 8 network steps for a padded length of 4
    x2 = torch.ones(8, 2, 2)
    ops2 = layer_synaptic_operations(lin, x2, lengths=torch.tensor([4, 1]), padded_length=4)
    assert ops2.effective_acs == (8 + 2) * 2 * 3


def test_steps_a_model_appends_after_the_input_count_as_the_samples():
    # a delay SNN appends e frames after the padded input: T = padded_length * S + e, and
    # sample b's steps are t < lengths[b] * S + e
    lin = nn.Linear(2, 3)
    x = torch.ones(4 + 3, 2, 2)  # padded length 4, S = 1, e = 3
    ops = layer_synaptic_operations(lin, x, lengths=torch.tensor([4, 1]), padded_length=4, extra_steps=3)
    assert ops.dense == ((4 + 3) + (1 + 3)) * 2 * 3
    # without extra_steps the axis does not fit the series (7 % 4): nothing is masked
    assert layer_synaptic_operations(lin, x, lengths=torch.tensor([4, 1]), padded_length=4).dense == 7 * 2 * 2 * 3


def test_gru_counts_match_manual_recurrence():
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2)
    with torch.no_grad():
        gru.weight_ih_l0[:, 0] = 0.0  # input 0 drives nothing in layer 0
    x = torch.randn(5, 2, 3)
    x[2, 1] = 0.0  # one all-zero input step
    ops = layer_synaptic_operations(gru, x)
    # replay both layers with GRUCells holding the module's weights, counting as we go
    cell0 = nn.GRUCell(3, 4)
    cell1 = nn.GRUCell(4, 4)
    with torch.no_grad():
        for cell, k in ((cell0, 0), (cell1, 1)):
            cell.weight_ih.copy_(getattr(gru, f"weight_ih_l{k}"))
            cell.weight_hh.copy_(getattr(gru, f"weight_hh_l{k}"))
            cell.bias_ih.copy_(getattr(gru, f"bias_ih_l{k}"))
            cell.bias_hh.copy_(getattr(gru, f"bias_hh_l{k}"))
    eff = 0
    with torch.no_grad():
        for b in range(2):
            h0 = torch.zeros(4)
            h1 = torch.zeros(4)
            for t in range(5):
                xt = x[t, b]
                eff += sum(int(xt[j] != 0) * int((gru.weight_ih_l0[:, j] != 0).sum()) for j in range(3))
                eff += sum(int(h0[j] != 0) * 12 for j in range(4))
                new0 = cell0(xt[None], h0[None])[0]
                eff += sum(int(new0[j] != 0) * 12 for j in range(4))
                eff += sum(int(h1[j] != 0) * 12 for j in range(4))
                h1 = cell1(new0[None], h1[None])[0]
                h0 = new0
    dense = 5 * 2 * (12 * 3 + 12 * 4 + 12 * 4 + 12 * 4)
    assert ops.dense == dense
    assert ops.effective_macs == eff and ops.effective_acs == 0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        layer_synaptic_operations(nn.Conv2d(1, 1, 3), torch.ones(5, 5))
    with pytest.raises(ValueError, match="ReLU"):
        layer_synaptic_operations(nn.ReLU(), torch.ones(2, 3))
    with pytest.raises(ValueError, match="bidirectional"):
        layer_synaptic_operations(nn.GRU(2, 2, bidirectional=True), torch.ones(3, 1, 2))
    with pytest.raises(ValueError, match="torch.Tensor"):
        layer_synaptic_operations(nn.Linear(2, 2), [[1.0, 0.0]])
