import pytest
import torch

from snnbench.encoding import (
    READOUTS,
    Readout,
    first_spike,
    first_spike_time,
    get_readout,
    last_membrane,
    max_membrane,
    mean_membrane,
    spike_count,
)

# T = 4, B = 2, K = 3, built by hand
SPIKES = torch.tensor([
    [[0, 1, 0], [0, 0, 0]],
    [[1, 0, 0], [0, 0, 1]],
    [[1, 1, 0], [0, 0, 0]],
    [[0, 0, 0], [1, 0, 1]],
], dtype=torch.float32)
MEMBRANE = torch.tensor([
    [[0.1, -1.0, 0.0], [2.0, 0.0, 0.5]],
    [[0.3, 1.0, 0.0], [0.0, 0.0, 0.5]],
    [[0.2, 3.0, 0.0], [-2.0, 0.0, 0.5]],
    [[0.2, -3.0, 4.0], [0.0, 0.0, 0.5]],
])


def test_spike_count_and_first_spike():
    assert spike_count(SPIKES).tolist() == [[2, 2, 0], [1, 0, 2]]
    assert first_spike_time(SPIKES).tolist() == [[1, 0, 4], [3, 4, 1]]  # 4 = T: never
    assert first_spike(SPIKES).tolist() == [[-1, 0, -4], [-3, -4, -1]]


def test_membrane_readouts():
    assert torch.allclose(mean_membrane(MEMBRANE), torch.tensor([[0.2, 0.0, 1.0], [0.0, 0.0, 0.5]]))
    assert torch.equal(max_membrane(MEMBRANE), torch.tensor([[0.3, 3.0, 4.0], [2.0, 0.0, 0.5]]))
    assert last_membrane(MEMBRANE).tolist() == MEMBRANE[-1].tolist()


def test_gradients():
    v = MEMBRANE.clone().requires_grad_(True)
    max_membrane(v).sum().backward()
    # the gradient of the max lands on the arg-max step only
    assert v.grad.sum() == 6 and v.grad[2, 0, 1] == 1 and v.grad[3, 0, 2] == 1
    s = SPIKES.clone().requires_grad_(True)
    spike_count(s).sum().backward()
    assert torch.equal(s.grad, torch.ones_like(s))


def test_registry():
    assert set(READOUTS) == {"spike_count", "mean_membrane", "max_membrane", "last_membrane", "first_spike"}
    assert get_readout("spike_count") is spike_count
    assert torch.equal(Readout("first_spike")(SPIKES), first_spike(SPIKES))
    with pytest.raises(ValueError, match=r"name must be one of .*got 'votes'"):
        get_readout("votes")


@pytest.mark.parametrize("fn", [spike_count, mean_membrane, max_membrane, last_membrane, first_spike_time])
def test_errors(fn):
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*got shape \(4,\)"):
        fn(torch.ones(4))
    with pytest.raises(ValueError, match=r"at least one time step"):
        fn(torch.ones(0, 2, 3))
    with pytest.raises(ValueError, match=r"NaN"):
        fn(torch.full((2, 2), float("nan")))
