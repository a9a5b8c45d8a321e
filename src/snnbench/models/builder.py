"""Build a classifier from a plain dict spec and the dataset's info.

``spec = {"type": T, **kwargs}`` with ``T`` one of

====================  =========================================================
``"snn_ff"``          :class:`FeedForwardSNN` (``hidden`` required)
``"snn_conv"``        :class:`ConvSNN` (``channels`` default ``[12, 32]``)
``"snn_rec"``         :class:`RecurrentSNN` (``hidden`` required)
``"snn_delay"``       :class:`DelaySNN`: feed-forward with learnable synaptic delays
                      (``hidden`` required, ``max_delay`` default 25)
``"mlp"``             :class:`MLP` (``hidden`` required)
``"cnn"``             :class:`CNN` (``channels`` default ``[12, 32]``)
``"gru"``/``"lstm"``  :class:`GRUClassifier` / :class:`LSTMClassifier`
                      (``hidden`` int required, ``num_layers`` default 1)
====================  =========================================================

``input_shape`` and ``num_classes`` come from ``info`` (any object with ``input_shape``,
``num_classes``, e.g. ``snnbench.data.DatasetInfo``; a 2-d ``input_shape`` ``(L, C)`` is a time
series). SNN encoder default: ``"direct"`` for time series, ``"poisson"`` otherwise.

Parameter-matched baseline: ``{"type": "mlp"|"cnn"|"gru"|"lstm", "match": <snn spec dict
or SNN module>, "tolerance": 0.05, "depth": None, **baseline kwargs}``; the width is chosen
by :func:`match_baseline` and its report is stored on the model as ``model.match_info``.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from .._validation import check_choice
from .ann import CNN, MLP, GRUClassifier, LSTMClassifier, sequence_input_size
from .matching import match_baseline
from .delay_snn import DelaySNN
from .snn import ConvSNN, FeedForwardSNN, RecurrentSNN

MODEL_TYPES = ("snn_ff", "snn_conv", "snn_rec", "snn_delay", "mlp", "cnn", "gru", "lstm")
_CLASSES: dict[str, type[nn.Module]] = {
    "snn_ff": FeedForwardSNN,
    "snn_conv": ConvSNN,
    "snn_rec": RecurrentSNN,
    "snn_delay": DelaySNN,
    "mlp": MLP,
    "cnn": CNN,
    "gru": GRUClassifier,
    "lstm": LSTMClassifier,
}
_FROM_INFO = {"input_shape", "num_classes", "input_size"}


def _construct(kind: str, kwargs: dict[str, Any], info: Any) -> nn.Module:
    cls = _CLASSES[kind]
    params = inspect.signature(cls.__init__).parameters
    allowed = sorted(k for k in params if k not in ("self", *_FROM_INFO))
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"model spec of type {kind!r} has unknown keys {unknown}; allowed: {allowed}"
        )
    shape = tuple(int(s) for s in info.input_shape)
    num_classes = int(info.num_classes)
    if kind in ("gru", "lstm"):
        kwargs.setdefault("num_layers", 1)
        if "hidden" not in kwargs:
            raise ValueError(f"model spec of type {kind!r} needs 'hidden' (units per layer)")
        return cls(sequence_input_size(shape), num_classes=num_classes, **kwargs)
    if kind in ("snn_ff", "snn_rec", "snn_delay", "mlp") and "hidden" not in kwargs:
        raise ValueError(f"model spec of type {kind!r} needs 'hidden' (list of layer widths)")
    if kind in ("snn_conv", "cnn"):
        kwargs.setdefault("channels", [12, 32])
    return cls(shape, num_classes=num_classes, **kwargs)


def build_model(spec: dict[str, Any], info: Any) -> nn.Module:
    """Classifier from ``spec`` (see the module docstring) for a dataset described by ``info``."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"model spec must be a dict with a 'type' key, got {spec!r}")
    kwargs = dict(spec)
    kind = check_choice("type", kwargs.pop("type"), MODEL_TYPES)
    if "match" not in kwargs:
        return _construct(kind, kwargs, info)
    if kind.startswith("snn"):
        raise ValueError(f"'match' applies to baselines (mlp, cnn, gru, lstm), not type {kind!r}")
    target = kwargs.pop("match")
    snn = target if isinstance(target, nn.Module) else build_model(target, info)
    tolerance = kwargs.pop("tolerance", 0.05)
    depth = kwargs.pop("depth", None)
    model, match_info = match_baseline(
        snn, kind, tuple(info.input_shape), int(info.num_classes), tolerance=tolerance,
        depth=depth, **kwargs,
    )
    model.match_info = match_info
    return model
