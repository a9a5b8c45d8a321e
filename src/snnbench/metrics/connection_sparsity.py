"""Connection sparsity (NeuroBench ``ConnectionSparsity``): fraction of zero weights.

Counted over the weight matrices of the synapse layers (Linear/Conv ``weight``, recurrent
``weight_ih_l*`` and ``weight_hh_l*``). Biases are not connections and are left out (NeuroBench
also counts the biases of recurrent layers; for Linear/Conv models both agree).
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

from ._layers import layer_kind


def _synapses(model: nn.Module) -> Iterable[nn.Module]:
    layers = getattr(model, "synapse_layers", None)
    if callable(layers):
        return [m for _, m in layers()]
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd, nn.RNNBase))]


def connection_weights(model: nn.Module) -> list[Tensor]:
    """The weight tensors whose zeros count as missing connections."""
    out: list[Tensor] = []
    for layer in _synapses(model):
        if layer_kind(layer) == "rnn":
            out += [getattr(layer, f"weight_{p}_l{k}") for k in range(layer.num_layers) for p in ("ih", "hh")]
        else:
            out.append(layer.weight)
    return out


def connection_sparsity(model: nn.Module) -> float:
    """``#(w == 0) / #w`` over all connection weights; 0.0 for a fully dense model."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weights = connection_weights(model)
    total = sum(w.numel() for w in weights)
    if total == 0:
        raise ValueError(f"model {type(model).__name__} has no Linear/Conv/recurrent weights to measure")
    zeros = sum(int((w.detach() == 0).sum()) for w in weights)
    return zeros / total
