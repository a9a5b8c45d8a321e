r"""ANN-to-SNN conversion: a trained ReLU MLP/CNN becomes an integrate-and-fire SNN.

Data-based threshold balancing (Diehl et al. 2015; Rueckauer et al. 2017): run the ANN on
calibration data and take, per ReLU layer :math:`l`, the scale :math:`\lambda_l` = the
``percentile``-th percentile of its positive activations (100 = the maximum). The weights
and biases become

.. math::

    W'_l = W_l \,\lambda_{l-1} / \lambda_l, \qquad b'_l = b_l / \lambda_l, \qquad \lambda_0 = 1,

so every IF neuron has threshold 1 and fires at a rate (spikes per step) close to
:math:`\min(a_l / \lambda_l, 1)`. Input is direct: the analog sample is the input current
at every step. Each hidden unit integrates :math:`v_t = v_{t-1} + z_t`, spikes when
:math:`v_t \ge 1` and resets by subtraction (:math:`v_t \leftarrow v_t - 1`), so no charge
above threshold is lost; :math:`v_0` = ``v_init`` (0.5 centres the rounding error: for a
constant current :math:`z \in [0, 1]` the count after :math:`T` steps is
:math:`\lfloor T z + v_0 \rfloor`). The output layer does not spike: it accumulates
:math:`W_L \lambda_{L-1} s_t + b_L`, whose running mean over steps is the SNN's logits.

Max pooling (after ReLU in :class:`~snnbench.models.ann.CNN`; ReLU and max commute) pools
the *accumulated* input current of a conv layer: with :math:`S_t = \sum_{k \le t} z_k`, the
pooled unit receives :math:`\max_{win} S_t - \max_{win} S_{t-1}`, so after :math:`T` steps it
has integrated :math:`T` times the max of the mean currents, the ANN's pooled value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_int, check_range, check_tensor
from .ann import CNN, MLP

StepHook = Callable[[int, list[tuple[nn.Module, Tensor]]], None]


def if_soft_reset(v: Tensor, current: Tensor) -> tuple[Tensor, Tensor]:
    """One step of integrate-and-fire, threshold 1, reset by subtraction.

    ``v' = v + current``; ``s = [v' >= 1]``; returns ``(v' - s, s)`` (dimensionless units of
    the threshold; at most one spike per step)."""
    v = v + current
    s = (v >= 1.0).to(v.dtype)
    return v - s, s


def _relu_layers(ann: nn.Module) -> list[tuple[str, nn.Module, nn.Module | None]]:
    """``(name, weight layer, pool or None)`` of every ReLU layer, in forward order."""
    if isinstance(ann, CNN):
        out: list[tuple[str, nn.Module, nn.Module | None]] = []
        for i, (conv, pool) in enumerate(zip(ann.convs, ann.pools)):
            if not isinstance(pool, (nn.MaxPool2d, nn.Identity)):
                raise ValueError(f"convs.{i} is followed by {type(pool).__name__}; conversion handles MaxPool2d")
            out.append((f"convs.{i}", conv, None if isinstance(pool, nn.Identity) else pool))
        out += [(f"hidden_layers.{i}", lay, None) for i, lay in enumerate(ann.hidden_layers)]
        return out
    if isinstance(ann, MLP):
        return [(f"hidden_layers.{i}", lay, None) for i, lay in enumerate(ann.hidden_layers)]
    raise ValueError(
        f"conversion takes a ReLU MLP or CNN from snnbench.models.ann, got {type(ann).__name__}; "
        "recurrent baselines (GRU/LSTM) have no rate-coded IF equivalent"
    )


@torch.no_grad()
def activation_scales(ann: nn.Module, batches: Iterable[Tensor], percentile: float = 99.9) -> list[float]:
    """Per ReLU layer of ``ann`` (forward order), the ``percentile``-th percentile of its
    positive activations (after pooling) over all calibration ``batches`` ``[B, ...]``.

    A layer that never activates gets scale 1 (its units stay silent either way)."""
    check_range("percentile", percentile, 0.0, 100.0)
    if percentile <= 0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    names = [name for name, _, _ in _relu_layers(ann)]
    positives: dict[str, list[np.ndarray]] = {n: [] for n in names}
    was_training, was_recording = ann.training, ann.record
    ann.eval()
    ann.record = True
    seen = 0
    try:
        for x in batches:
            ann(x)
            seen += 1
            for n in names:
                a = ann.last_activity[n]["output"]
                positives[n].append(a[a > 0].to(torch.float64).cpu().numpy())
    finally:
        ann.record = was_recording
        ann.train(was_training)
    if seen == 0:
        raise ValueError("calibration data is empty: pass at least one batch of training samples")
    scales = []
    for n in names:
        vals = np.concatenate(positives[n])
        scales.append(float(np.percentile(vals, percentile)) if vals.size else 1.0)
    return scales


class ConvertedSNN(nn.Module):
    """IF network converted from a ReLU ANN (see the module docstring).

    ``layers``: the normalised weight layers in order (the last is the non-spiking output);
    ``pools``: per hidden layer a MaxPool2d of the accumulated current or None; ``flatten_at``:
    index of the first linear layer (inputs are flattened before it)."""

    def __init__(self, layers: Sequence[nn.Module], pools: Sequence[nn.Module | None], flatten_at: int,
                 input_shape: Sequence[int], scales: Sequence[float], v_init: float = 0.5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.pools = list(pools)
        self.flatten_at = flatten_at
        self.input_shape = tuple(int(s) for s in input_shape)
        self.scales = [float(s) for s in scales]
        self.v_init = check_range("v_init", v_init, 0.0, 1.0)

    def synapse_layers(self) -> list[tuple[str, nn.Module]]:
        return [(f"layers.{i}", lay) for i, lay in enumerate(self.layers)]

    @torch.no_grad()
    def simulate(self, x: Tensor, num_steps: int, on_step: StepHook | None = None) -> Tensor:
        """Run ``num_steps`` steps on the direct input ``x`` ``[B, *input_shape]``; returns the
        running-mean logits after every step, ``[num_steps, B, K]``. ``on_step(t, [(layer,
        its input at step t), ...])`` sees what entered every weight layer (for operation counts)."""
        num_steps = check_int("num_steps", num_steps)
        check_tensor("x", x, finite=True)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x must have shape [B, {', '.join(map(str, self.input_shape))}], got {tuple(x.shape)}")
        n_hidden = len(self.layers) - 1
        v: list[Tensor | None] = [None] * n_hidden
        acc: list[Tensor | None] = [None] * n_hidden  # accumulated pre-pool current
        prev_max: list[Tensor | None] = [None] * n_hidden
        out_sum = None
        means = []
        first_current: Tensor | None = None  # the direct input's current is the same every step
        for t in range(num_steps):
            h = x
            seen: list[tuple[nn.Module, Tensor]] = []
            for i, layer in enumerate(self.layers):
                if i == self.flatten_at:
                    h = h.flatten(1)
                seen.append((layer, h))
                if i == 0:
                    if first_current is None:
                        first_current = layer(h)
                    z = first_current
                else:
                    z = layer(h)
                if i == n_hidden:
                    out_sum = z if out_sum is None else out_sum + z
                    break
                pool = self.pools[i]
                if pool is not None:
                    acc[i] = z if acc[i] is None else acc[i] + z
                    m = pool(acc[i])
                    z = m if prev_max[i] is None else m - prev_max[i]
                    prev_max[i] = m
                if v[i] is None:
                    v[i] = torch.full_like(z, self.v_init)
                v[i], h = if_soft_reset(v[i], z)
            if on_step is not None:
                on_step(t, seen)
            means.append(out_sum / (t + 1))
        return torch.stack(means)

    def forward(self, x: Tensor, num_steps: int = 64) -> Tensor:
        """Logits after ``num_steps`` steps, ``[B, K]``."""
        return self.simulate(x, num_steps)[-1]


def _scaled_copy(layer: nn.Module, w_scale: float, b_scale: float) -> nn.Module:
    new = copy.deepcopy(layer).requires_grad_(False)
    new.weight.mul_(w_scale)
    if new.bias is not None:
        new.bias.mul_(b_scale)
    return new


@torch.no_grad()
def convert(ann: nn.Module, calibration: Iterable[Tensor], *, percentile: float = 99.9,
            v_init: float = 0.5) -> ConvertedSNN:
    """Convert a trained ReLU :class:`MLP` or :class:`CNN` into a :class:`ConvertedSNN`,
    with thresholds balanced by the ``percentile``-th percentile of each layer's positive
    activations on ``calibration`` batches (training samples, ``[B, ...]``)."""
    relu = _relu_layers(ann)
    scales = activation_scales(ann, calibration, percentile)
    layers, pools = [], []
    prev = 1.0
    for (_, layer, pool), lam in zip(relu, scales):
        layers.append(_scaled_copy(layer, prev / lam, 1.0 / lam))
        pools.append(pool)
        prev = lam
    layers.append(_scaled_copy(ann.out, prev, 1.0))
    flatten_at = len(ann.convs) if isinstance(ann, CNN) else 0
    return ConvertedSNN(layers, pools, flatten_at, ann.input_shape, scales, v_init)


def describe(snn: ConvertedSNN) -> dict[str, Any]:
    """Plain-data summary (scales per ReLU layer, ``v_init``) for run records."""
    return {"scales": list(snn.scales), "v_init": snn.v_init, "layers": len(snn.layers)}
