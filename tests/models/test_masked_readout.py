"""Masked readouts against the unmasked readouts of snnbench.encoding on truncated series."""

from __future__ import annotations

import pytest
import torch

from snnbench.encoding import readout as enc_readout
from snnbench.models.readout import get_masked_readout, lengths_to_mask


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(7, 3, 4, generator=g)
    s = (torch.rand(7, 3, 4, generator=g) < 0.3).float()
    lengths = torch.tensor([7, 3, 1])
    return v, s, lengths


@pytest.mark.parametrize(
    "name, key", [("spike_count", "s"), ("mean_membrane", "v"), ("max_membrane", "v"),
                  ("last_membrane", "v")]
)
def test_masked_equals_unmasked_on_truncated(name, key):
    v, s, lengths = _data()
    x = v if key == "v" else s
    mask = lengths_to_mask(lengths, x.shape[0])
    got = get_masked_readout(name)(x, mask)
    ref = enc_readout.get_readout(name)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(got[b], ref(x[:n, b : b + 1])[0])
    # no mask: every step counts
    torch.testing.assert_close(get_masked_readout(name)(x, None), ref(x))


def test_first_spike_time_hand_case():
    # neuron 0 spikes first at t=2, neuron 1 at t=0 (and later), neuron 2 only after the
    # valid window (t=3 with L=3), neuron 3 never
    s = torch.zeros(5, 1, 4)
    s[2, 0, 0] = 1
    s[0, 0, 1] = s[1, 0, 1] = 1
    s[3, 0, 2] = 1
    mask = lengths_to_mask(torch.tensor([3]), 5)
    got = get_masked_readout("first_spike_time")(s, mask)
    torch.testing.assert_close(got, torch.tensor([[1 / 3, 1.0, 0.0, 0.0]]))
    # without the mask, neuron 2's spike at t=3 of T=5 counts: (5-3)/5
    got = get_masked_readout("first_spike")(s, None)
    torch.testing.assert_close(got, torch.tensor([[3 / 5, 1.0, 2 / 5, 0.0]]))


def test_first_spike_time_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    s = torch.rand(4, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    mask = lengths_to_mask(torch.tensor([4, 2]), 4).double()
    fn = get_masked_readout("first_spike_time")
    assert torch.autograd.gradcheck(lambda z: fn(z, mask), (s,))


def test_lengths_to_mask_and_errors():
    m = lengths_to_mask(torch.tensor([2, 4]), 4)
    assert m.tolist() == [[1, 1], [1, 1], [0, 1], [0, 1]]
    with pytest.raises(ValueError, match="lengths must lie in"):
        lengths_to_mask(torch.tensor([5]), 4)
    with pytest.raises(ValueError, match="lengths must lie in"):
        lengths_to_mask(torch.tensor([0]), 4)
    with pytest.raises(ValueError, match="readout must be one of"):
        get_masked_readout("vote")
    with pytest.raises(ValueError, match="mask must have shape"):
        get_masked_readout("spike_count")(torch.zeros(3, 2, 1), torch.ones(3, 1))


def test_softmax_sum_hand_case_and_padding():
    from snnbench.models.readout import softmax_sum

    v = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[5.0, 5.0]]])  # [T=3, B=1, K=2]
    e = torch.e
    want = torch.tensor([[0.5 + e / (e + 1) + 0.5, 0.5 + 1 / (e + 1) + 0.5]])
    torch.testing.assert_close(softmax_sum(v), want)
    # padding after the second step is ignored: the sum of the first two steps
    mask = lengths_to_mask(torch.tensor([2]), 3)
    torch.testing.assert_close(get_masked_readout("softmax_sum")(v, mask), want - 0.5)
