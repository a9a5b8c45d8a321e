"""Workload metrics over a split: a hand-checkable threshold model following the model
contract, and the real SNN / ANN builders against the trainer's own evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnbench.data.splits import ArraySplit
from snnbench.metrics import WorkloadAccumulator, measure_workload, static_metrics


class _StepSNN(nn.Module):
    """x [B, 2] -> the same input for T=3 steps -> fixed Linear(2, 2) -> spike when the current
    exceeds 0.5 (no leak, no state: easy to count by hand) -> Linear(2, 2) -> spike counts."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2, bias=False)
        self.out = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
            self.out.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        self.record = False
        self.last_activity: dict = {}
        self.spiking_layers = ("fc", "out")

    def synapse_layers(self):
        yield "fc", self.fc
        yield "out", self.out

    def forward(self, x, lengths=None, generator=None):
        seq = x.unsqueeze(0).expand(3, *x.shape)
        s1 = (self.fc(seq) > 0.5).float()
        s2 = (self.out(s1) > 0.5).float()
        if self.record:
            self.last_activity = {
                "fc": {"input": seq, "spikes": s1, "membrane": self.fc(seq)},
                "out": {"input": s1, "spikes": s2, "membrane": self.out(s1)},
            }
        return s2.sum(0)


def test_hand_counted_workload():
    # sample 0: x = [1, 0] -> fc current [1, 1] -> both spike every step -> out spikes [1, 1]
    # sample 1: x = [0, 1] -> fc current [0, 1] -> only neuron 1 spikes -> out spikes [0, 1]
    split = ArraySplit(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
    res = measure_workload(_StepSNN(), split, batch_size=1)
    # fc: input 0 has fan-out 2, input 1 fan-out 1; binary input -> ACs
    #   sample 0: 3 steps x 2 = 6; sample 1: 3 x 1 = 3
    # out: identity weights, fan-out 1 each: sample 0 3 x 2 = 6, sample 1 3 x 1 = 3
    assert res["synaptic_operations"] == {"dense": 24.0, "effective_macs": 0.0, "effective_acs": 9.0}
    assert res["layers"]["fc"]["effective_acs"] == 4.5 and res["layers"]["fc"]["operation"] == "AC"
    # spikes: fc 6 + 3 of 2 samples x 3 steps x 2 neurons = 12 neuron-steps; out the same
    assert res["spike_rate"] == {"fc": 0.75, "out": 0.75}
    assert res["activation_sparsity"] == pytest.approx(1 - 18 / 24)
    assert res["neuron_state_updates"] == 12.0  # 2 layers x 2 neurons x 3 steps
    # sample 0 scores [3, 3] -> argmax 0 (correct); sample 1 [0, 3] -> 1 (correct)
    assert res["accuracy"] == 1.0 and res["samples"] == 2
    assert res["energy"]["synaptic_pj"] == pytest.approx(9.0 * 0.9) == res["energy"]["total_pj"]
    assert res["energy"]["total_with_updates_as_mac_pj"] == pytest.approx(9.0 * 0.9 + 12 * 4.6)


def test_accumulator_rejects_silent_model():
    m = _StepSNN()
    with pytest.raises(ValueError, match="recorded no activity"):
        WorkloadAccumulator().update(m, torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="split is empty"):
        WorkloadAccumulator().compute()


def _image_split(n=24):
    g = torch.Generator().manual_seed(0)
    return ArraySplit(torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g))


def test_snn_and_ann_builders_match_evaluate():
    from snnbench.learning.trainer import epoch_generator, evaluate
    from snnbench.models import MLP, FeedForwardSNN

    split = _image_split()
    torch.manual_seed(0)
    snn = FeedForwardSNN((1, 8, 8), [16], 10, num_steps=4, neuron_kwargs={"threshold": 0.3})
    mlp = MLP((1, 8, 8), [16], 10)
    for model, kind in ((snn, "effective_acs"), (mlp, "effective_macs")):
        ev = evaluate(model, split, batch_size=10, seed=3, device=torch.device("cpu"), record_activity=True)
        res = measure_workload(model, split, batch_size=10, generator=epoch_generator(3, 10**6, 2))
        assert res["accuracy"] == pytest.approx(ev["accuracy"])
        ops = res["synaptic_operations"]
        assert 0 < ops[kind] <= ops["dense"]
        assert model.record is False  # restored
    # dense per sample of the SNN: T x (64 x 16 + 16 x 10) connections
    assert res_dense(snn, split) == 4 * (64 * 16 + 16 * 10)
    # the SNN's rates are the trainer's rates (same spikes, same noise)
    ev = evaluate(snn, split, batch_size=10, seed=3, device=torch.device("cpu"), record_activity=True)
    res = measure_workload(snn, split, batch_size=10, generator=epoch_generator(3, 10**6, 2))
    assert res["spike_rate"]["fc1"] == pytest.approx(ev["spike_rates"]["fc1"])
    # an ANN on static data keeps no state; the MLP's first layer sees analog pixels
    mres = measure_workload(mlp, split, batch_size=10)
    assert mres["neuron_state_updates"] == 0 and mres["layers"]["hidden_layers.0"]["operation"] == "MAC"
    assert static_metrics(mlp)["parameter_count"] == 64 * 16 + 16 + 16 * 10 + 10


def res_dense(model, split) -> float:
    return measure_workload(model, split, batch_size=12)["synaptic_operations"]["dense"]


def test_recurrent_models_mask_padding():
    from snnbench.models import GRUClassifier

    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 6, 2, generator=g)
    lengths = torch.tensor([6, 3, 2, 6])
    x[1, 3:] = 0
    x[2, 2:] = 0
    split = ArraySplit(x, torch.tensor([0, 1, 0, 1]), lengths)
    torch.manual_seed(0)
    gru = GRUClassifier(2, 5, 1, 2)
    res = measure_workload(gru, split, batch_size=4)
    steps = int(lengths.sum())
    # dense: every valid step multiplies W_ih (15 x 2) and W_hh (15 x 5); the output layer 5 x 2 once
    assert res["synaptic_operations"]["dense"] == pytest.approx((steps * (15 * 2 + 15 * 5) + 4 * 10) / 4)
    assert res["neuron_state_updates"] == pytest.approx(steps * 5 / 4)


def test_recurrent_snn_counts_input_and_recurrent_synapses():
    from snnbench.models import RecurrentSNN

    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 6, 2, generator=g)
    lengths = torch.tensor([6, 4, 2])
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 0
    split = ArraySplit(x, torch.tensor([0, 1, 2]), lengths)
    torch.manual_seed(0)
    model = RecurrentSNN((6, 2), [5], 3, neuron_kwargs={"threshold": 0.2})
    res = measure_workload(model, split, batch_size=3)
    steps = int(lengths.sum())
    layers = res["layers"]
    # direct encoding: analog input current -> MACs; recurrent spikes -> ACs
    assert layers["rec1"]["operation"] == "MAC" and layers["rec1_rec"]["operation"] == "AC"
    assert layers["rec1"]["dense"] * 3 == steps * 2 * 5
    assert layers["rec1_rec"]["dense"] * 3 == steps * 5 * 5
    assert layers["out"]["dense"] * 3 == steps * 5 * 3
    # recurrent ACs: every spike of step t-1 (valid steps only) reaches its 5 targets
    model.record = True
    with torch.no_grad():
        model(x, lengths=lengths)
    s = model.last_activity["rec1"]["spikes"]  # [T, B, 5]
    mask = (torch.arange(6)[:, None] < lengths[None, :]).float()
    prev = torch.cat([torch.zeros_like(s[:1]), s[:-1]]) * mask[..., None]
    assert layers["rec1_rec"]["effective_acs"] * 3 == pytest.approx(float(prev.sum()) * 5)
    # hidden LIF (5) and output integrator (3) update every valid step
    assert res["neuron_state_updates"] * 3 == pytest.approx(steps * (5 + 3))


def test_energy_constants_are_overridable():
    from snnbench.metrics import EnergyModel

    split = ArraySplit(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
    res = measure_workload(_StepSNN(), split, batch_size=2, energy=EnergyModel(ac_pj=2.0, mac_pj=5.0, update_pj=0.5))
    assert res["energy"]["synaptic_pj"] == pytest.approx(9.0 * 2.0)
    assert res["energy"]["total_pj"] == pytest.approx(9.0 * 2.0 + 12 * 0.5)
    assert res["energy"]["total_with_updates_as_mac_pj"] == pytest.approx(9.0 * 2.0 + 12 * 5.0)


def test_delay_snn_counts_its_appended_steps_and_masks_the_padding():
    """A delay SNN runs each sample for its own length + extra_steps: measured on a padded
    batch, the counts equal the sum over the samples measured alone without padding."""
    from snnbench.models import DelaySNN

    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor([6, 3, 2])
    x = torch.randn(3, 6, 2, generator=g)
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 0
    y = torch.tensor([0, 1, 2])
    torch.manual_seed(0)
    model = DelaySNN((6, 2), [5], 3, max_delay=4)
    assert model.extra_steps == 3
    batched = measure_workload(model, ArraySplit(x, y, lengths), batch_size=3)
    alone = []
    for b, n in enumerate(lengths.tolist()):
        model.input_shape = (n, 2)  # the same weights run on the unpadded series
        alone.append(measure_workload(model, ArraySplit(x[b:b + 1, :n], y[b:b + 1], lengths[b:b + 1]),
                                      batch_size=1))
    # after its last valid step a sample sees zeros either way (padding, then the appended
    # frames), so even the activity-dependent counts agree
    assert batched["neuron_state_updates"] == pytest.approx(sum(r["neuron_state_updates"] for r in alone) / 3)
    for key in ("dense", "effective_acs", "effective_macs"):
        got = batched["synaptic_operations"][key]
        assert got == pytest.approx(sum(r["synaptic_operations"][key] for r in alone) / 3)
    assert batched["synaptic_operations"]["effective_acs"] > 0


def test_trainer_spike_rate_uses_the_same_valid_steps_as_the_metrics():
    from snnbench.learning.trainer import evaluate
    from snnbench.models import DelaySNN

    g = torch.Generator().manual_seed(4)
    lengths = torch.tensor([6, 3, 2, 5])
    x = torch.randn(4, 6, 2, generator=g) * 2
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = 0
    split = ArraySplit(x, torch.tensor([0, 1, 2, 0]), lengths)
    torch.manual_seed(0)
    model = DelaySNN((6, 2), [5], 3, max_delay=4)
    ev = evaluate(model, split, batch_size=4, seed=0, device=torch.device("cpu"), record_activity=True)
    wl = measure_workload(model, split, batch_size=4)
    assert ev["mean_spike_rate"] > 0
    assert ev["mean_spike_rate"] == pytest.approx(wl["mean_spike_rate"], rel=1e-9)
