"""Record any layer's spikes, membrane and state without editing the model.

.. code-block:: python

    with record(model, ["fc1", "out"], membrane=True, neurons=64) as rec:
        model(x)
    rec["fc1"].spikes      # [T, B, 64] spikes of the first 64 neurons of layer fc1
    rec["fc1"].membrane    # [T, B, 64] pre-reset membrane h_t (threshold units)
    rec["out"].state       # final state of the last call (e.g. LIFState, detached)

Layers are named as the model names them (``fc1``, ``conv1``, ``rec1``, ``out`` of the
SNN builders: :func:`layer_names`), or by any module path of ``model.named_modules()``
(``"neurons.0"``). Recording works through forward hooks, removed when the ``with`` block
ends; a neuron module's ``record`` flag is switched on only for the duration of its own
call and only when the membrane is asked for (membrane traces need the reference loop, so
they cost time; spikes and state cost nothing but the copy).

Memory is bounded by ``neurons`` (the first n neurons of the flattened population, or
explicit flat indices), ``steps`` (a ``slice`` of time steps), ``max_samples`` (stop
recording after that many samples) and ``reduce="sum"`` (keep per-sample totals over
time, ``[B, n]``, instead of traces). Calls are concatenated along the batch axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .components import last_membrane

__all__ = ["LayerRecord", "Recorder", "layer_names", "record", "resolve_layers"]


def _unwrap(model: nn.Module) -> nn.Module:
    """The network inside a wrapper that keeps it as ``model.network`` (a loaded model)."""
    inner = getattr(model, "network", None)
    return inner if isinstance(inner, nn.Module) else model


def layer_names(model: nn.Module) -> dict[str, nn.Module]:
    """``{name: neuron module}`` of every neuron population in forward order, named as
    the model names its layers (``_layers()`` of the SNN builders, module paths of the
    zoo's spiking VGG and ResNet; a population that appears under two synapses, e.g.
    ``rec1`` and ``rec1_rec``, once)."""
    net = _unwrap(model)
    zoo = getattr(net, "_named_neurons", None)
    if callable(zoo):  # spiking VGG/ResNet: populations named by module path (their LIF)
        return {name: nrn.neuron for name, nrn in zoo() if nrn.neuron is not None}
    layers = getattr(net, "_layers", None)
    out: dict[str, nn.Module] = {}
    if callable(layers):
        seen: set[int] = set()
        for name, _syn, nrn in layers():
            if id(nrn) not in seen:
                seen.add(id(nrn))
                out[name] = nrn
    return out


def resolve_layers(model: nn.Module, layers: Iterable[str] | None) -> dict[str, nn.Module]:
    """Modules for ``layers`` (layer names or module paths); all populations when None."""
    named = layer_names(model)
    if layers is None:
        if not named:
            raise ValueError(
                f"{type(_unwrap(model)).__name__} names no neuron layers; pass layers=[module paths] "
                f"from model.named_modules()"
            )
        return named
    if isinstance(layers, str):
        layers = [layers]
    net = _unwrap(model)
    paths = dict(net.named_modules())
    out: dict[str, nn.Module] = {}
    for name in layers:
        if name in named:
            out[name] = named[name]
        elif name in paths and name != "":
            out[name] = paths[name]
        else:
            raise ValueError(
                f"no layer {name!r} in {type(net).__name__}; layer names: {list(named)}, or a module "
                f"path of model.named_modules() such as {[p for p in paths if p][:6]}"
            )
    return out


@dataclass
class LayerRecord:
    """What one layer produced over the recorded calls (concatenated along the batch)."""

    spikes: Tensor | None = None
    membrane: Tensor | None = None
    output: Tensor | None = None
    state: Any = None
    _parts: dict[str, list[Tensor]] = field(default_factory=dict, repr=False)

    def _add(self, key: str, value: Tensor) -> None:
        self._parts.setdefault(key, []).append(value)
        setattr(self, key, None)  # concatenated lazily by Recorder.__getitem__

    def _join(self, batch_dim: int) -> None:
        for key, parts in self._parts.items():
            if getattr(self, key) is None and parts:
                dim = 0 if key == "output" else batch_dim
                joined = parts[0] if len(parts) == 1 else torch.cat(parts, dim)
                self._parts[key] = [joined]
                setattr(self, key, joined)


def _detach_state(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_detach_state(s) for s in state)
    return state


class Recorder:
    """Context manager recording ``layers`` (names or module paths; all neuron
    populations when None) of ``model`` during every forward pass inside the block
    (forward hooks; use as :func:`record`).

    ``spikes`` ``[T, B, n]``, ``membrane`` (pre-reset ``h_t``; for a non-spiking output
    integrator its potential ``v_t``), ``state`` (final state of the last call); other
    modules (a Linear, a Conv2d) record their ``output`` as they return it (the builders' folded
    synapses give ``[T*B, ...]``), concatenated along dim 0, without the bounds. See the module docstring for
    the memory bounds.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[str] | str | None = None,
        *,
        spikes: bool = True,
        membrane: bool = False,
        state: bool = False,
        neurons: int | Sequence[int] | None = None,
        steps: slice | None = None,
        max_samples: int | None = None,
        reduce: str | None = None,
        to_cpu: bool = False,
    ) -> None:
        if reduce not in (None, "sum"):
            raise ValueError(f"reduce must be None (traces) or 'sum' (totals over time), got {reduce!r}")
        if steps is not None and not isinstance(steps, slice):
            raise ValueError(f"steps must be a slice of time steps (e.g. slice(0, 50)), got {steps!r}")
        if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 1):
            raise ValueError(f"max_samples must be a positive int or None, got {max_samples!r}")
        if isinstance(neurons, bool) or (isinstance(neurons, int) and neurons < 1):
            raise ValueError(f"neurons must be a positive count, a list of flat indices or None, got {neurons!r}")
        self.model = model
        self.modules = resolve_layers(model, layers)
        self.want_spikes, self.want_membrane, self.want_state = bool(spikes), bool(membrane), bool(state)
        self.neurons = neurons
        self.steps = steps
        self.max_samples = max_samples
        self.reduce = reduce
        self.to_cpu = bool(to_cpu)
        self.records: dict[str, LayerRecord] = {n: LayerRecord() for n in self.modules}
        self._seen: dict[str, int] = {n: 0 for n in self.modules}
        self._handles: list[Any] = []
        self._saved_flags: dict[str, bool] = {}
        self._overwrites: list[nn.Module] = []
        self._index_cache: dict[tuple[str, int], Tensor | slice] = {}

    # -- hooks -----------------------------------------------------------------------------

    def _select(self, name: str, x: Tensor, remaining: int) -> Tensor:
        """Time steps, samples and neurons kept of one ``[T, B, ...]`` tensor."""
        x = x.detach()
        if self.steps is not None:
            x = x[self.steps]
        if remaining < x.shape[1]:
            x = x[:, :remaining]
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        if self.neurons is not None:
            n = flat.shape[2]
            if isinstance(self.neurons, int):
                flat = flat[..., : min(self.neurons, n)]
            else:
                key = (name, n)
                idx = self._index_cache.get(key)
                if idx is None:
                    idx = torch.as_tensor(list(self.neurons), dtype=torch.long)
                    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
                        raise ValueError(
                            f"neurons indices must lie in [0, {n}) for layer {name!r} ({n} neurons)"
                        )
                    self._index_cache[key] = idx
                flat = flat.index_select(2, idx.to(flat.device))
        elif x.ndim > 3 and self.reduce is None:
            flat = x  # keep the neuron shape when nothing is selected
        if self.reduce == "sum":
            flat = flat.sum(0)
        return flat.cpu() if self.to_cpu else flat

    def _pre_hook(self, name: str):
        def hook(module: nn.Module, args: Any) -> None:
            if self.want_membrane and hasattr(module, "record"):
                self._saved_flags[name] = module.record
                module.record = True
        return hook

    def _post_hook(self, name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if name in self._saved_flags:
                module.record = self._saved_flags.pop(name)
            rec = self.records[name]
            out, st = (output[0], output[1]) if isinstance(output, tuple) and len(output) == 2 else (output, None)
            if not isinstance(out, Tensor) or out.ndim < 2:
                return
            remaining = out.shape[1] if self.max_samples is None else self.max_samples - self._seen[name]
            if remaining <= 0:
                return
            is_integrator = type(module).__name__ == "LeakyIntegrator"  # non-spiking output layer
            is_neuron = st is not None
            if self.want_state and st is not None:
                rec.state = _detach_state(st)
            if is_neuron and not is_integrator:
                if self.want_spikes:
                    rec._add("spikes", self._select(name, out, remaining))
                if self.want_membrane:
                    mem = last_membrane(module, f"layer {name!r}", "record it with membrane=False")
                    rec._add("membrane", self._select(name, mem, remaining))
            elif is_integrator:
                if self.want_membrane:
                    rec._add("membrane", self._select(name, out, remaining))
            else:  # a synapse: its output as it returns it (folded layers give [T*B, ...])
                rec._add("output", out.detach().cpu() if self.to_cpu else out.detach())
                return
            self._seen[name] += min(remaining, out.shape[1])
        return hook

    # -- context ---------------------------------------------------------------------------

    def __enter__(self) -> Recorder:
        # a recorded synapse output may be the next neurons' input: they must not keep
        # their membrane in it while recording
        self._overwrites = [m for m in _unwrap(self.model).modules()
                            if getattr(m, "overwrite_input", False)]
        for m in self._overwrites:
            m.overwrite_input = False
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
            self._handles.append(module.register_forward_hook(self._post_hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove the hooks (the records stay readable)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for m in self._overwrites:
            m.overwrite_input = True
        self._overwrites.clear()
        for name, flag in self._saved_flags.items():
            self.modules[name].record = flag
        self._saved_flags.clear()

    def clear(self) -> None:
        """Forget what was recorded so far (the hooks stay)."""
        self.records = {n: LayerRecord() for n in self.modules}
        self._seen = {n: 0 for n in self.modules}

    def __getitem__(self, name: str) -> LayerRecord:
        if name not in self.records:
            raise KeyError(f"layer {name!r} was not recorded; recorded: {list(self.records)}")
        rec = self.records[name]
        rec._join(0 if self.reduce == "sum" else 1)
        return rec

    def __iter__(self):
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def keys(self):
        return self.records.keys()


#: ``with record(model, ...) as rec:`` -- the entry point (the class's own name).
record = Recorder
