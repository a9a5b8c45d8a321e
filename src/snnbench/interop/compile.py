"""``torch.compile`` and ``torch.export`` of trained spiking classifiers, for inference.

The fused neuron kernels (C through ctypes, numba, Triton) are opaque to TorchDynamo, so a
model compiled as it is breaks its graph at every neuron layer. The documented fallback is
the neurons' reference path: the functional cores take ``fused=False`` (``lif``,
``recurrent_lif``), a plain PyTorch loop over time with the same values (the neuron tests
compare the two). :func:`reference_path` returns a copy of a model whose neuron modules
run that path, and :func:`inference_graph` wraps its network and readout as one module on
encoded input, ``forward(seq [T, B, ...]) -> scores [B, K]``, which compiles with
``fullgraph=True`` and exports with ``torch.export.export``:

.. code-block:: python

    g = inference_graph(model)                       # a loaded TrainedModel or an SNN
    fast = torch.compile(g, fullgraph=True)          # no graph breaks
    ep = torch.export.export(g, (seq,))              # an ExportedProgram for deployment

The encoder is left out on purpose: a stochastic encoder draws from a ``torch.Generator``,
which graphs do not carry; encode with ``model.encode(x, generator=...)`` first.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ..models.recording import layer_names

__all__ = ["ReferenceNeuron", "inference_graph", "reference_path"]


class ReferenceNeuron(nn.Module):
    """A LIF / IF / RecurrentLIF population stepped through the neurons' own unchecked step
    (``snnbench.neurons.lif._core_step``, the step of the reference loop ``fused=False``):
    ``forward(x_seq) -> (spikes, state)`` like the module it wraps, starting from rest.
    The input checks of the public functions are left out: they branch on tensor values
    (``isfinite(...).all()``), which would break a graph."""

    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        kind = type(neuron).__name__
        if kind not in ("LIF", "IF", "RecurrentLIF"):
            raise ValueError(
                f"{kind} has no compile-ready reference path here (LIF, IF, RecurrentLIF have); "
                "run it eagerly"
            )
        self.neuron = neuron

    def forward(self, x_seq: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        from torch.nn import functional as F

        from ..neurons.lif import LIFState, _core_step
        from ..neurons.recurrent import RLIFState

        if state is not None:
            raise ValueError("the compile-ready path starts every sequence from rest (state=None)")
        n = self.neuron
        p = n.params()
        rec = type(n).__name__ == "RecurrentLIF"
        cur = F.linear(x_seq, n.fc_in.weight, n.fc_in.bias) if rec else x_seq
        v = torch.zeros_like(cur[0])
        ref = torch.zeros(cur.shape[1:], dtype=torch.int32, device=cur.device)
        s = torch.zeros_like(cur[0])
        out = []
        for c in cur.unbind(0):
            x = c + F.linear(s, n.fc_rec.weight) if rec else c
            s, _h, v, ref = _core_step(x, v, ref, p.beta, p.threshold, p.reset, float(p.v_reset),
                                       p.refractory_steps, p.surrogate, p.detach_reset)
            out.append(s)
        spikes = torch.stack(out)
        return spikes, (RLIFState(v, ref, s) if rec else LIFState(v, ref))


def reference_path(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (or of a loaded model's ``network``) whose neuron
    populations run the reference loop; parameters are copied, the original is untouched."""
    net = copy.deepcopy(getattr(model, "network", model))
    targets = {id(m) for m in layer_names(net).values()}
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if id(child) in targets and type(child).__name__ != "LeakyIntegrator":
                setattr(parent, name, ReferenceNeuron(child))
    # the builders switch their neurons' record flag per call; the wrapper has none to switch
    return net.eval()


class _InferenceGraph(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, seq: Tensor) -> Tensor:
        return self.net._readout_fn(self.net.run(seq), None)


def inference_graph(model: nn.Module) -> nn.Module:
    """Network + readout of a spiking classifier on encoded input ``[T, B, ...]`` ->
    scores ``[B, K]``, on the reference path (see the module docstring)."""
    net = reference_path(model)
    if not hasattr(net, "run") or not hasattr(net, "_readout_fn"):
        raise ValueError(
            f"{type(net).__name__} is not a snnbench spiking classifier; compile a baseline directly"
        )
    return _InferenceGraph(net).eval()
