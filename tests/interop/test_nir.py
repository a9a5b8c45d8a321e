"""NIR export / import: closed-form parameters, hand-computed dynamics, bit-identical round trips."""


import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="NIR tests need the 'nir' package (the interop extra)")

from snnbench.experiments.config import list_presets, load_suite  # noqa: E402
from snnbench.interop import nir as snn_nir  # noqa: E402
from snnbench.models import ConvSNN, FeedForwardSNN, RecurrentSNN, build_model  # noqa: E402


def _spikes(t, b, n, seed=0, p=0.3):
    return (torch.rand(t, b, n, generator=torch.Generator().manual_seed(seed)) < p).float()


def test_lif_parameters_follow_the_euler_mapping():
    m = FeedForwardSNN((5,), [3], 2, neuron_kwargs={"beta": 0.8, "reset": "hard", "threshold": 0.7,
                                                  "v_reset": -0.1, "dt": 0.5})
    g = snn_nir.export(m)
    dt = 0.5e-3  # 0.5 ms in seconds
    assert g.metadata["dt"] == dt
    lif = g.nodes["fc1.lif"]
    assert isinstance(lif, nir.LIF)
    np.testing.assert_allclose(lif.tau, dt / 0.2)
    np.testing.assert_allclose(lif.r * dt / lif.tau, 1.0)  # unit input gain
    np.testing.assert_allclose(lif.v_threshold, 0.7)
    np.testing.assert_allclose(lif.v_reset, -0.1)
    assert set(g.edges) >= {("input", "fc1"), ("fc1", "fc1.lif"), ("fc1.lif", "out"), ("out.lif", "output")}


def test_import_runs_nir_equations_by_hand():
    """A hand-built graph with v_leak, r != tau/dt and a threshold, checked step by step."""
    w = np.array([[1.0, -0.5], [0.3, 0.8]], np.float32)
    tau, r, v_leak, thr, dt = 4e-3, 2.0, 0.1, 0.6, 1e-3
    g = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "w": nir.Linear(weight=w),
               "lif": nir.LIF(tau=np.full(2, tau), r=np.full(2, r), v_leak=np.full(2, v_leak),
                              v_threshold=np.full(2, thr), v_reset=np.zeros(2)),
               "output": nir.Output(np.array([2]))},
        edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    x = _spikes(12, 3, 2, p=0.6)
    with torch.no_grad():
        out = snn_nir.load(g, dt=dt)(x)
    v = np.zeros((3, 2))
    for t in range(12):
        i = x[t].numpy() @ w.T
        v = v + dt / tau * ((v_leak - v) + r * i)
        s = (v >= thr).astype(np.float64)
        v = v * (1 - s)
        np.testing.assert_array_equal(out[t].numpy(), s)
    with pytest.raises(ValueError, match="metadata"):
        snn_nir.load(g)  # no dt anywhere


@pytest.mark.parametrize("reset,mode", [("hard", "error"), ("soft", "metadata")])
@pytest.mark.parametrize("readout", ["spike_count", "mean_membrane"])
def test_round_trip_is_bit_identical(tmp_path, reset, mode, readout):
    torch.manual_seed(0)
    nk = {"beta": 0.9, "reset": reset}
    models = [
        FeedForwardSNN((1, 6, 6), [20, 10], 4, neuron_kwargs=nk, readout=readout),
        RecurrentSNN((16, 36), [12, 8], 4, neuron_kwargs=nk, readout=readout),
        ConvSNN((1, 6, 6), [3], 4, kernel_size=3, pool=1, neuron_kwargs=nk, readout=readout, encoder="poisson"),
        FeedForwardSNN((36,), [10], 4, neuron="if", neuron_kwargs={"reset": reset}, readout=readout),
    ]
    for m in models:
        m.eval()
        seq = _spikes(16, 3, 36).reshape(16, 3, *m.encoded_shape)
        g = snn_nir.export(m, soft_reset=mode)
        snn_nir.write(tmp_path / "g.nir", g)
        # the graph's input: a conv net's per-step image, a dense net's flattened vector
        inp = seq if isinstance(m, ConvSNN) else seq.flatten(2)
        for net in (snn_nir.load(g), snn_nir.load(tmp_path / "g.nir")):
            with torch.no_grad():
                assert torch.equal(net(inp), m.run(seq)), type(m).__name__


def test_unrepresentable_layers_are_named():
    soft = FeedForwardSNN((4,), [3], 2)
    with pytest.raises(snn_nir.UnsupportedNode, match="layer 'fc1'.*reset='soft'"):
        snn_nir.export(soft)
    alif = FeedForwardSNN((4,), [3], 2, neuron="alif")
    with pytest.raises(snn_nir.UnsupportedNode, match="layer 'fc1': AdaptiveLIF"):
        snn_nir.export(alif, soft_reset="metadata")
    conv = ConvSNN((1, 8, 8), [2], 2, kernel_size=3)
    with pytest.raises(snn_nir.UnsupportedNode, match="'conv1': MaxPool2d"):
        snn_nir.export(conv, soft_reset="metadata")
    cuba = nir.NIRGraph.from_list(nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2),
                                              v_leak=np.ones(2), v_threshold=np.ones(2)))
    # without a CubaLIF neuron the node is refused by name; with one, v_leak != 0 is
    with pytest.raises(snn_nir.UnsupportedNode, match="CubaLIF"):
        snn_nir.load(cuba, dt=1e-3)


_SHAPES = {"digits": (1, 8, 8), "mnist5k": (1, 28, 28), "basicmotions": (20, 6), "japanesevowels": (12, 12),
           "gunpoint": (20, 1), "fsdd": (20, 40), "fsdd-spikes": (20, 64), "shd": (10, 700)}


class _Info:
    def __init__(self, shape, k):
        self.input_shape, self.num_classes = shape, k


def test_every_preset_model_round_trips_or_is_refused_by_name():
    """Each SNN of each surrogate preset (short series stand in for the datasets' lengths)."""
    refused, passed = {}, []
    for preset in list_presets():
        suite = load_suite(preset)
        if suite.kind != "surrogate":
            continue
        for exp in suite.experiments:
            for mc in exp.models:
                if not mc.is_snn:
                    continue
                shape = _SHAPES.get(exp.data.name.split(":")[-1])  # "digits" or "sklearn:digits"
                if shape is None:
                    continue
                torch.manual_seed(0)
                spec = {"type": mc.type, **mc.kwargs, **({"hidden": mc.hidden} if mc.hidden else {})}
                m = build_model(spec, _Info(shape, 10)).eval()
                key = f"{preset}/{exp.name}/{mc.name}"
                try:
                    g = snn_nir.export(m, soft_reset="metadata")
                except snn_nir.UnsupportedNode as err:
                    refused[key] = str(err)
                    continue
                x = torch.rand(2, *shape)
                seq, _ = m.encode(x, generator=torch.Generator().manual_seed(0))
                with torch.no_grad():
                    assert torch.equal(snn_nir.load(g)(seq.flatten(2)), m.run(seq)), key
                passed.append(key)
    assert len(passed) >= 10
    assert refused and all(any(n in e for n in ("MaxPool2d", "DelayedLinear", "TimeBatchNorm"))
                           for e in refused.values()), refused


def test_cuba_lif_round_trip_and_hand_computed_import():
    from snnbench import neurons

    if not hasattr(neurons, "CubaLIF"):
        pytest.skip("snnbench.neurons.CubaLIF is not in this tree")
    torch.manual_seed(0)
    # export -> import through a network of CubaLIF populations: bit-identical
    cls = neurons.CubaLIF
    fc, cuba = torch.nn.Linear(6, 4), cls((4,), alpha=0.7, beta=0.9, reset="hard", threshold=0.8)
    m = FeedForwardSNN((6,), [4], 3, neuron_kwargs={"beta": 0.9, "reset": "hard"}).eval()
    m.neurons[0] = cuba
    m.fcs[0] = fc
    g = snn_nir.export(m)
    node = g.nodes["fc1.lif"]
    assert isinstance(node, nir.CubaLIF)
    np.testing.assert_allclose(node.tau_syn, 1e-3 / 0.3)
    np.testing.assert_allclose(node.w_in * 1e-3 / node.tau_syn, 1.0)
    seq = _spikes(20, 3, 6, p=0.5)
    with torch.no_grad():
        assert torch.equal(snn_nir.load(g)(seq), m.run(seq))
    # NIR's CubaLIF equations, Euler, by hand (w_in and r not at unit gain)
    dt, ts, tm, w_in, r = 1e-3, 5e-3, 8e-3, 2.0, 3.0
    h = nir.NIRGraph.from_list(nir.CubaLIF(tau_syn=np.full(2, ts), tau_mem=np.full(2, tm), r=np.full(2, r),
                                           v_leak=np.zeros(2), v_threshold=np.full(2, 0.5), w_in=np.full(2, w_in)))
    x = _spikes(15, 2, 2, p=0.5)
    with torch.no_grad():
        out = snn_nir.load(h, dt=dt)(x)
    i = np.zeros((2, 2))
    v = np.zeros((2, 2))
    for t in range(15):
        i = i + dt / ts * (-i + w_in * x[t].double().numpy())
        v = v + dt / tm * (-v + r * i)
        s = (v >= 0.5).astype(np.float64)
        v = v * (1 - s)
        np.testing.assert_array_equal(out[t].numpy(), s)
