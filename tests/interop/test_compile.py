"""torch.compile (no graph breaks) and torch.export of spiking classifiers on the reference
path give the eager model's outputs."""

import pytest
import torch

from snnbench.interop.compile import inference_graph, reference_path
from snnbench.models import ConvSNN, FeedForwardSNN, RecurrentSNN


def _models():
    torch.manual_seed(0)
    return [
        FeedForwardSNN((6,), [5], 3, neuron_kwargs={"beta": 0.9}, num_steps=3, encoder="bernoulli"),
        RecurrentSNN((3, 4), [5], 3, neuron_kwargs={"reset": "hard"}),
    ]


def _ref(m, seq):
    with torch.no_grad():
        return m._readout_fn(m.run(seq), None)  # the eager model, fused kernels


@pytest.mark.parametrize("which", [1, pytest.param(0, marks=pytest.mark.slow)])
def test_compile_fullgraph_and_export_match_the_eager_model(which):
    for m in [_models()[which]]:
        m.eval()
        seq, _ = m.encode(torch.rand(4, *m.input_shape), generator=torch.Generator().manual_seed(0))
        ref = _ref(m, seq)
        g = inference_graph(m)
        compiled = torch.compile(g, fullgraph=True, backend="aot_eager")  # fails on any graph break
        with torch.no_grad():
            assert torch.equal(compiled(seq), ref), type(m).__name__
        ep = torch.export.export(g, (seq,))
        with torch.no_grad():
            assert torch.equal(ep.module()(seq), ref), type(m).__name__


def test_reference_path_leaves_the_model_alone_and_refuses_other_neurons():
    m = _models()[0]
    r = reference_path(m)
    assert type(m.neurons[0]).__name__ == "LIF" and type(r.neurons[0]).__name__ == "ReferenceNeuron"
    with pytest.raises(ValueError, match="AdaptiveLIF has no compile-ready"):
        reference_path(FeedForwardSNN((4,), [3], 2, neuron="alif"))


@pytest.mark.slow
def test_inductor_compile_of_a_conv_model_matches():
    """Inductor codegen takes about a minute on two busy cores: run with -m slow."""
    torch.manual_seed(0)
    m = ConvSNN((1, 12, 12), [4, 8], 10, kernel_size=3, num_steps=8).eval()
    seq, _ = m.encode(torch.rand(8, 1, 12, 12), generator=torch.Generator().manual_seed(0))
    ref = _ref(m, seq)
    with torch.no_grad():
        out = torch.compile(inference_graph(m), fullgraph=True)(seq)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
