r"""Synaptic operations (NeuroBench names): dense, effective MACs, effective ACs.

For a layer with binarised weights :math:`\hat W = [W \ne 0]` and an input :math:`x`:

.. math::

    \text{effective} = \sum_{\text{valid rows}} \sum_j [x_j \ne 0]\, \mathrm{fanout}_j(\hat W),
    \qquad
    \text{dense} = \sum_{\text{valid rows}} \sum_j \mathrm{fanout}_j(\mathbf{1}),

where a row is one sample (sample-first input) or one sample at one time step
(time-first input) and :math:`\mathrm{fanout}_j` is the number of connections input
element ``j`` drives (see :func:`~snnbench.metrics._layers.fan_out_map`). Effective operations
are accumulates (ACs) when every input value is in {-1, 0, 1} (spikes: the weight is added,
no multiply) and multiply-accumulates (MACs) otherwise, decided per layer call, as in
NeuroBench. Biases are not synaptic operations. Dense counts every connection of every
valid row, whatever the activity or weight sparsity.

Recurrent layers (RNN/GRU/LSTM) count their gate matrix products per valid step:
``W_ih x_t`` (input part; ACs if the input is spikes) and ``W_hh h_{t-1}`` (hidden part;
``h_{-1} = 0``, so the first step has no recurrent operations in the effective count).
Every layer of a stacked module is replayed to get its hidden sequence. Element-wise gate
products are neuron-state work, not synaptic operations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ._layers import (
    ALL_STEPS,
    Activity,
    LayerKind,
    ValidSteps,
    binary_like,
    fan_out_map,
    is_time_first,
    layer_kind,
)


@dataclass
class SynOps:
    """Operation counts of one layer (or a sum of layers), totals over the rows seen."""

    dense: float = 0.0
    effective_macs: float = 0.0
    effective_acs: float = 0.0

    def __add__(self, other: SynOps) -> SynOps:
        return SynOps(
            self.dense + other.dense,
            self.effective_macs + other.effective_macs,
            self.effective_acs + other.effective_acs,
        )

    @property
    def effective(self) -> float:
        return self.effective_macs + self.effective_acs

    def scaled(self, factor: float) -> SynOps:
        return SynOps(self.dense * factor, self.effective_macs * factor, self.effective_acs * factor)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _rows(x: Tensor, nd: int, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Fold leading axes into rows: ``[R, *sample]`` and the row mask ``[R]``."""
    rows = x.reshape(-1, *x.shape[x.ndim - nd:])
    if mask is None:
        return rows, None
    lead = x.shape[: x.ndim - nd]
    m = mask.reshape(mask.shape + (1,) * (len(lead) - mask.ndim)).expand(lead)
    return rows, m.reshape(-1)


def _count(x: Tensor, fan: Tensor, fan_dense: Tensor, nd: int, mask: Tensor | None) -> tuple[float, float]:
    """(dense, effective) operations of input ``x`` through a layer with these fan-out maps."""
    rows, m = _rows(x, nd, mask)
    nz = rows != 0
    if m is not None:
        nz = nz & m.view(-1, *([1] * nd)).to(torch.bool)
        n_rows = int(m.sum())
    else:
        n_rows = rows.shape[0]
    # integer counts per input position, then an exact float64 dot with the fan-out
    per_pos = nz.sum(0, dtype=torch.int64).to(torch.float64)
    eff = float((per_pos * fan.to(per_pos.device)).sum())
    dense = float(n_rows * fan_dense.sum())
    return dense, eff


def _split(eff: float, binary: bool) -> tuple[float, float]:
    return (0.0, eff) if binary else (eff, 0.0)


def _rnn_operations(layer: nn.RNNBase, x: Tensor, mask: Tensor | None) -> SynOps:
    if x.ndim != 3 or x.shape[-1] != layer.input_size:
        raise ValueError(
            f"inputs of {type(layer).__name__} must be time-first [T, B, {layer.input_size}], "
            f"got shape {tuple(x.shape)}"
        )
    t_steps, b = x.shape[:2]
    total = SynOps()
    seq = x
    hidden = layer.hidden_size
    for k in range(layer.num_layers):
        w_ih = getattr(layer, f"weight_ih_l{k}").detach()
        w_hh = getattr(layer, f"weight_hh_l{k}").detach()
        # replay layer k alone (eval mode: no dropout between layers) for its hidden sequence
        single = type(layer)(seq.shape[-1], hidden, num_layers=1, bias=layer.bias).to(seq.device, w_ih.dtype)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                src = getattr(layer, f"{name}_l{k}", None)
                if src is not None:
                    getattr(single, f"{name}_l0").copy_(src)
            out, _ = single(seq.to(w_ih.dtype))
        prev = torch.cat([torch.zeros_like(out[:1]), out[:-1]], 0)  # h_{t-1}, h_{-1} = 0
        fan_ih, fan_hh = (w_ih != 0).sum(0).double(), (w_hh != 0).sum(0).double()
        d_ih, e_ih = _count(seq, fan_ih, torch.full_like(fan_ih, w_ih.shape[0]), 1, mask)
        d_hh, e_hh = _count(prev, fan_hh, torch.full_like(fan_hh, w_hh.shape[0]), 1, mask)
        mac_ih, ac_ih = _split(e_ih, binary_like(seq))
        mac_hh, ac_hh = _split(e_hh, binary_like(prev))
        total = total + SynOps(d_ih + d_hh, mac_ih + mac_hh, ac_ih + ac_hh)
        seq = out
    return total


def layer_synaptic_operations(
    layer: nn.Module,
    inputs: Tensor,
    *,
    lengths: Tensor | None = None,
    padded_length: int | None = None,
    extra_steps: int = 0,
) -> SynOps:
    """Operation counts (totals over the batch) of one layer call on the recorded ``inputs``.

    ``inputs`` is what entered the layer: ``[B, ...]`` or time-first ``[T, B, ...]``. With
    ``lengths`` ``[B]`` and ``padded_length`` (the padded series length of the batch), the
    padding steps of time-first inputs are not counted (``extra_steps``: see
    :class:`~snnbench.metrics._layers.ValidSteps`).
    """
    if not isinstance(inputs, Tensor):
        raise ValueError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    kind: LayerKind = layer_kind(layer)
    x = inputs.detach()
    time_first = is_time_first(layer, x)
    mask = None
    if time_first:
        mask = ValidSteps(lengths, padded_length, extra_steps).mask(x)
        if mask is not None:
            mask = mask.to(x.device)
    if kind == "rnn":
        return _rnn_operations(layer, x, mask)
    nd = 1 if kind == "linear" else 1 + len(layer.kernel_size)
    sample_shape = tuple(x.shape[x.ndim - nd:])
    fan = fan_out_map(layer, sample_shape)
    fan_dense = fan_out_map(layer, sample_shape, dense=True)
    dense, eff = _count(x, fan, fan_dense, nd, mask)
    mac, ac = _split(eff, binary_like(x))
    return SynOps(dense, mac, ac)


def synaptic_operations(model: nn.Module, activity: Activity,
                        steps: ValidSteps = ALL_STEPS) -> dict[str, SynOps]:
    """Per synapse layer of ``model`` (``model.synapse_layers()``), the counts of the last
    recorded forward pass (``activity = model.last_activity``), totals over its batch.

    A synapse layer without a recorded ``"input"`` raises ValueError: silently skipping it
    would under-count the model.
    """
    layers = getattr(model, "synapse_layers", None)
    if not callable(layers):
        raise ValueError(f"model must define synapse_layers() (see the model contract), got {type(model).__name__}")
    out: dict[str, SynOps] = {}
    for name, layer in layers():
        rec = activity.get(name)
        if rec is None or "input" not in rec:
            raise ValueError(
                f"synapse layer {name!r} has no recorded 'input' in last_activity "
                f"(recorded: {sorted(activity)}); run forward with model.record = True"
            )
        out[name] = layer_synaptic_operations(layer, rec["input"], lengths=steps.lengths,
                                              padded_length=steps.padded_length,
                                              extra_steps=steps.extra_steps)
    return out
