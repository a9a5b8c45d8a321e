"""snnbench: spiking neural networks from standard parts, and a benchmark against ANNs.

Tensors are time-first, ``[T, B, ...]``. Every neuron, encoder and learning rule is a pure
function (explicit state in, state out) with a thin ``torch.nn.Module`` wrapper.
"""

from ._version import __version__

__all__ = ["__version__", "load", "nir", "record"]

# The user-facing entry points, imported on first use so that ``import snnbench`` stays cheap:
# snnbench.load(run_dir), snnbench.record(model, layers), snnbench.nir.export / .load.
_LAZY = {
    "load": ("snnbench.experiments.trained", "load"),
    "record": ("snnbench.models.recording", "record"),
    "nir": ("snnbench.interop.nir", None),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        module = importlib.import_module(mod)
        return module if attr is None else getattr(module, attr)
    raise AttributeError(f"module 'snnbench' has no attribute {name!r}")
