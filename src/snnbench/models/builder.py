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
``"cnn1d"``           :class:`~.cnn1d.CNN1d` temporal CNN (``width`` and ``depth`` required)
``"snn_vgg"``         :class:`~.zoo.SpikingVGG` spiking VGG-11 (32x32 images)
``"snn_resnet"``      :class:`~.zoo.SpikingResNet` spiking ResNet-19 style
``"snn_mlp"``         :class:`~.zoo.SpikingMLP` fully connected SNN with batch norm over time
                      and dropout (``hidden`` required; ``rows=True`` reads images row by row)
``"snn_delay_mlp"``   :class:`~.delay_mlp.DelaySpikingMLP` Hammouamri et al.'s delay network:
                      delayed synapses, batch norm over time, dropout (``hidden`` required)
``"vgg"``/``"resnet"`` their ANN twins; with ``"match": <snn_vgg/snn_resnet spec>`` the
                      twin of that SNN (same layers with ReLU, equal parameter count)
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
from .matching import count_parameters, match_baseline
from .delay_snn import DelaySNN
from .snn import ConvSNN, FeedForwardSNN, RecurrentSNN

MODEL_TYPES = ("snn_ff", "snn_conv", "snn_rec", "snn_delay", "mlp", "cnn", "gru", "lstm",
               "cnn1d", "snn_vgg", "snn_resnet", "vgg", "resnet", "snn_mlp", "snn_delay_mlp")
_ZOO = ("snn_vgg", "snn_resnet", "vgg", "resnet")  # validate their own options (**arch)
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
    if kind in _ZOO or kind in ("cnn1d", "snn_mlp", "snn_delay_mlp"):
        return _construct_new(kind, kwargs, info)
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


def _construct_new(kind: str, kwargs: dict[str, Any], info: Any) -> nn.Module:
    """The model zoo and the 1-D CNN (imported here: the zoo builds on the SNN classes)."""
    from . import zoo
    from .cnn1d import CNN1d

    shape, k = tuple(int(s) for s in info.input_shape), int(info.num_classes)
    if kind == "cnn1d":
        missing = sorted({"width", "depth"} - set(kwargs))
        if missing:
            raise ValueError(f"model spec of type 'cnn1d' needs {missing} (channels, conv layers)")
        return CNN1d(sequence_input_size(shape), num_classes=k, **kwargs)
    if kind == "snn_mlp":
        if "hidden" not in kwargs:
            raise ValueError("model spec of type 'snn_mlp' needs 'hidden' (list of layer widths)")
        return zoo.SpikingMLP(shape, num_classes=k, **kwargs)
    if kind == "snn_delay_mlp":
        from .delay_mlp import DelaySpikingMLP

        if "hidden" not in kwargs:
            raise ValueError("model spec of type 'snn_delay_mlp' needs 'hidden' (list of layer widths)")
        try:
            return DelaySpikingMLP(shape, num_classes=k, **kwargs)
        except TypeError as err:
            raise ValueError(f"model spec of type 'snn_delay_mlp': {err}") from None
    cls = {"snn_vgg": zoo.SpikingVGG, "snn_resnet": zoo.SpikingResNet,
           "vgg": zoo.VGG, "resnet": zoo.ResNet}[kind]
    try:
        return cls(shape, k, **kwargs)
    except TypeError as err:
        raise ValueError(f"model spec of type {kind!r}: {err}") from None


def _twin(kind: str, target: Any, info: Any) -> nn.Module:
    """The ANN twin of a zoo SNN: same layers with ReLU; parameter counts equal."""
    snn = target if isinstance(target, nn.Module) else build_model(target, info)
    if not hasattr(snn, "twin") or getattr(snn, "kind", None) != kind:
        raise ValueError(f"a {kind!r} baseline matches an snn_{kind} model, got {type(snn).__name__}")
    model = snn.twin()
    n_snn, n_ann = count_parameters(snn), count_parameters(model)
    model.match_info = {"baseline": kind, "width": None, "depth": None, "snn_params": n_snn,
                        "baseline_params": n_ann, "ratio": n_ann / n_snn, "tolerance": 0.0}
    return model


def build_model(spec: dict[str, Any], info: Any) -> nn.Module:
    """Classifier from ``spec`` (see the module docstring) for a dataset described by ``info``."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"model spec must be a dict with a 'type' key, got {spec!r}")
    kwargs = dict(spec)
    kind = check_choice("type", kwargs.pop("type"), MODEL_TYPES)
    if "match" not in kwargs:
        return _construct(kind, kwargs, info)
    if kind.startswith("snn"):
        raise ValueError(
            f"'match' applies to baselines (mlp, cnn, gru, lstm, cnn1d, vgg, resnet), not type {kind!r}"
        )
    target = kwargs.pop("match")
    if kind in ("vgg", "resnet"):
        extra = sorted(set(kwargs) - {"tolerance"})
        if extra:
            raise ValueError(f"a {kind!r} twin takes its layers from the SNN; drop {extra}")
        return _twin(kind, target, info)
    snn = target if isinstance(target, nn.Module) else build_model(target, info)
    tolerance = kwargs.pop("tolerance", 0.05)
    depth = kwargs.pop("depth", None)
    model, match_info = match_baseline(
        snn, kind, tuple(info.input_shape), int(info.num_classes), tolerance=tolerance,
        depth=depth, **kwargs,
    )
    model.match_info = match_info
    return model
