"""snnbench: spiking neural networks from standard parts, and a benchmark against ANNs.

Tensors are time-first, ``[T, B, ...]``. Every neuron, encoder and learning rule is a pure
function (explicit state in, state out) with a thin ``torch.nn.Module`` wrapper.
"""

from ._version import __version__

__all__ = ["__version__"]
