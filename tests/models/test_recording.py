"""snnbench.record: hooks give what the model's own record flags give, within the bounds asked."""

import copy

import pytest
import torch

import snnbench
from snnbench.models import FeedForwardSNN, RecurrentSNN
from snnbench.models.recording import layer_names, record
from snnbench.neurons import LIF


def _ff():
    torch.manual_seed(0)
    return FeedForwardSNN((20,), [16, 12], 4, neuron_kwargs={"beta": 0.9}, readout="mean_membrane",
                          encoder="bernoulli", num_steps=15).eval()


def _flags(model, x):
    model.record = True
    with torch.no_grad():
        model(x, generator=torch.Generator().manual_seed(1))
    model.record = False
    return model.last_activity


def test_record_matches_the_models_own_activity_and_leaves_no_trace():
    m = _ff()
    x = torch.rand(5, 20)
    ref = _flags(m, x)
    with snnbench.record(m, membrane=True, state=True) as rec:
        with torch.no_grad():
            m(x, generator=torch.Generator().manual_seed(1))
    assert list(rec) == ["fc1", "fc2", "out"]
    for name in ("fc1", "fc2"):
        assert torch.equal(rec[name].spikes, ref[name]["spikes"])
        assert torch.equal(rec[name].membrane, ref[name]["membrane"])
    assert rec["out"].spikes is None  # the membrane readout's integrator does not spike
    assert torch.equal(rec["out"].membrane, ref["out"]["membrane"])
    assert rec["fc1"].state.v.shape == (5, 16)
    # hooks and record flags are gone after the block
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in m.modules())
    assert all(not getattr(n, "record", False) for n in layer_names(m).values())


def test_bounds_subset_steps_samples_and_sum():
    m = _ff()
    x = torch.rand(6, 20)
    ref = _flags(m, x[:3])["fc1"]["spikes"]
    with record(m, ["fc1"], neurons=[3, 0, 7], steps=slice(2, 10), max_samples=4) as rec:
        with torch.no_grad():
            m(x[:3], generator=torch.Generator().manual_seed(1))
            m(x[3:], generator=torch.Generator().manual_seed(2))
    s = rec["fc1"].spikes
    assert s.shape == (8, 4, 3)
    assert torch.equal(s[:, :3], ref[2:10, :3][..., [3, 0, 7]])
    ref = _flags(m, x)["fc1"]["spikes"]
    with record(m, "fc1", neurons=5, reduce="sum") as rec:
        with torch.no_grad():
            m(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(rec["fc1"].spikes, ref.sum(0)[:, :5])


def test_module_paths_recurrent_layers_and_errors():
    torch.manual_seed(0)
    r = RecurrentSNN((9, 3), [8], 2).eval()
    x = torch.randn(2, 9, 3)
    ref = _flags(r, x)
    with record(r, ["rec1", "out"], membrane=True) as rec, torch.no_grad():
        r(x)
    assert torch.equal(rec["rec1"].spikes, ref["rec1"]["spikes"])
    assert torch.equal(rec["rec1"].membrane, ref["rec1"]["membrane"])
    m = _ff()
    with record(m, ["fcs.0"]) as rec, torch.no_grad():
        m(torch.rand(2, 20), generator=torch.Generator().manual_seed(0))
    assert rec["fcs.0"].output.shape == (15 * 2, 16)  # a folded synapse: its [T*B, out] current
    with pytest.raises(ValueError, match="no layer 'lif9'"):
        record(m, ["lif9"])
    with pytest.raises(ValueError, match="reduce"):
        record(m, reduce="mean")


def test_recorded_synapse_output_is_not_the_next_layers_membrane():
    """A conv unit's output is the input of neurons that may keep their membrane in it:
    while recording, the recorder turns that off, so the recorded output is the current
    (what a copy of the model with overwriting off records) and not h_t; the setting is
    back after the block."""
    from snnbench.models.zoo import SpikingVGG

    torch.manual_seed(0)
    m = SpikingVGG((3, 32, 32), 10, width=1 / 16, norm="none")  # conv output -> neurons
    off = copy.deepcopy(m)
    for n in off.modules():
        if isinstance(n, LIF):
            n.overwrite_input = False
    before = [n.overwrite_input for n in m.modules() if isinstance(n, LIF)]
    x = torch.rand(2, 3, 32, 32)
    outs = []
    for model in (m, off):
        with record(model, ["body.2"]) as rec:
            model(x).sum().backward()  # with grad: the kernel would overwrite its input
        outs.append(rec["body.2"].output)
    assert torch.equal(outs[0], outs[1])
    with record(m) as rec, torch.no_grad():  # the zoo's populations, named by module path
        m(x)
    assert rec["body.0"].spikes.shape == (m.num_steps, 2, 4, 32, 32)
    assert any(before) and [n.overwrite_input for n in m.modules() if isinstance(n, LIF)] == before
