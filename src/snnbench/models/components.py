r"""Parts the spiking classifiers share: the neuron registry (builder names -> classes of
:mod:`snnbench.neurons`), the time-folding of per-sample layers and the non-spiking output
integrator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_range
from ..neurons import IF, LIF, AdaptiveLIF, Izhikevich

__all__ = ["NEURONS", "make_neuron", "builder_kwargs", "fold", "LeakyIntegrator",
           "resolve_output_beta", "last_membrane"]

#: Neuron names accepted by the builders -> module classes of snnbench.neurons. A new neuron
#: kind becomes available to every builder by one entry here.
NEURONS: dict[str, type[nn.Module]] = {
    "lif": LIF,
    "if": IF,
    "alif": AdaptiveLIF,
    "adaptive_lif": AdaptiveLIF,
    "izhikevich": Izhikevich,
}


def builder_kwargs(cls: type[nn.Module], kwargs: dict[str, Any] | None,
                   overwrite_input: bool) -> dict[str, Any]:
    """The keywords a model builder gives a neuron module of class ``cls``: the user's
    ``neuron_kwargs``, ``check_finite=False`` unless they ask for the scan (the models check
    their input once at the boundary, ``SpikingClassifier.encode``; a hidden current can only
    turn non-finite through non-finite weights, which the trainer's finite-loss check
    reports), and ``overwrite_input`` for the LIF kinds, which the builder decides per layer:
    only where nothing else reads the layer's input current."""
    kw = dict(kwargs or {})
    kw.setdefault("check_finite", False)
    if "overwrite_input" in kw:
        raise ValueError("neuron_kwargs cannot set overwrite_input: the model's builder "
                         "sets it per layer, where nothing else reads the layer's input")
    if issubclass(cls, LIF):  # LIF and IF
        kw["overwrite_input"] = bool(overwrite_input)
    return kw


def make_neuron(name: str, shape: Sequence[int], kwargs: dict[str, Any] | None = None, *,
                overwrite_input: bool = False) -> nn.Module:
    """Neuron module of ``snnbench.neurons`` by name, for a layer of ``shape`` neurons, with
    :func:`builder_kwargs`' keywords (``overwrite_input``: the layer's input current is the
    fresh output of its synapse and nothing else reads it)."""
    cls = NEURONS[check_choice("neuron", name, tuple(NEURONS))]
    kw = builder_kwargs(cls, kwargs, overwrite_input)
    try:
        return cls(tuple(shape), **kw)
    except TypeError as err:  # a misspelt or foreign option: say which neuron refused it
        raise ValueError(f"bad neuron_kwargs for neuron={name!r} ({cls.__name__}): {err}") from None


def fold(layer: Callable[[Tensor], Tensor], x_seq: Tensor) -> Tensor:
    """Run a per-sample layer on all steps in one call: ``[T, B, ...]`` is folded to
    ``[T*B, ...]``, and the result unfolded back to ``[T, B, ...]``."""
    t, b = x_seq.shape[:2]
    y = layer(x_seq.reshape(t * b, *x_seq.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class LeakyIntegrator(nn.Module):
    r"""Non-spiking output neurons: :math:`v_t = \beta v_{t-1} + x_t`, :math:`v_0 = 0`.

    ``beta = exp(-dt / tau_mem)`` (ms). Returns the membrane ``[T, B, ...]`` (with gradient)
    and the final state ``v_T``.
    """

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.beta = check_range("output_beta", beta, 0.0, 1.0)

    def forward(self, x_seq: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        v = torch.zeros_like(x_seq[0]) if state is None else state
        out = []
        for x in x_seq.unbind(0):  # unbind keeps backward linear in T
            v = self.beta * v + x
            out.append(v)
        return torch.stack(out), v

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def resolve_output_beta(neuron_kwargs: dict[str, Any], output_beta: float | None) -> float:
    """The integrator's decay: explicit, else the hidden neurons' beta / tau_mem, else 0.9."""
    if output_beta is not None:
        return output_beta
    beta = neuron_kwargs.get("beta")
    if isinstance(beta, (int, float)) and not isinstance(beta, bool):
        return float(beta)
    if "tau_mem" in neuron_kwargs:
        return math.exp(-float(neuron_kwargs.get("dt", 1.0)) / float(neuron_kwargs["tau_mem"]))
    return 0.9


def last_membrane(module: nn.Module, where: str, fix: str) -> Tensor:
    """The membrane trace ``module`` kept of its last call (``module.last_membrane``); a
    module that keeps none is an error naming ``where`` it was needed and the ``fix``."""
    mem = getattr(module, "last_membrane", None)
    if mem is None:
        raise ValueError(f"{where}: {type(module).__name__} keeps no membrane trace "
                         f"(last_membrane); {fix}")
    return mem
