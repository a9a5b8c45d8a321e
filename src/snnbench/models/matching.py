"""Parameter matching: size an ANN baseline so its trainable parameter count is within a
tolerance of an SNN's, for a fair same-size comparison.

The baseline keeps the SNN's depth (number of hidden layers) unless told otherwise and
scales one width ``w``:

- ``"mlp"``: hidden widths ``[w] * depth``;
- ``"cnn"``: for a ``ConvSNN``, its conv stack and head with every width scaled by
  ``w / channels[0]`` (kernel sizes, pooling, padding kept); otherwise ``depth`` conv stages
  of ``[w, 2w, 4w, ...]`` channels, kernel 3, ``padding="same"``, pool 2;
- ``"gru"`` / ``"lstm"``: ``depth`` stacked layers of ``w`` units;
- ``"cnn1d"``: ``depth`` temporal conv layers of ``w`` channels (:class:`~.cnn1d.CNN1d`).

The count grows monotonically with ``w``, so a doubling then bisection search finds the
smallest ``w`` whose count reaches the target; the closer of ``w`` and ``w - 1`` is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from .._validation import check_choice, check_int, check_positive
from .ann import BASELINES, CNN, MLP, GRUClassifier, LSTMClassifier, sequence_input_size

_MAX_WIDTH = 1 << 20


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (``requires_grad`` parameters, each counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _snn_depth(snn: nn.Module) -> int:
    depth = getattr(snn, "depth", None)
    if isinstance(depth, int):
        return max(depth, 1)
    hidden = getattr(snn, "hidden", None)
    return max(len(hidden), 1) if hidden is not None else 1


def _family(
    snn: nn.Module,
    baseline: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    depth: int,
    kwargs: dict[str, Any],
) -> Callable[[int], nn.Module]:
    """``w -> baseline model`` whose parameter count is non-decreasing in ``w``."""
    if baseline == "mlp":
        return lambda w: MLP(input_shape, [w] * depth, num_classes, **kwargs)
    if baseline in ("gru", "lstm"):
        cls = GRUClassifier if baseline == "gru" else LSTMClassifier
        size = sequence_input_size(input_shape)
        return lambda w: cls(size, w, depth, num_classes, **kwargs)
    if baseline == "cnn1d":
        from .cnn1d import CNN1d

        size = sequence_input_size(input_shape)
        return lambda w: CNN1d(size, w, depth, num_classes, **kwargs)
    if len(input_shape) != 3:
        raise ValueError(
            f"baseline='cnn' needs an image input_shape (C, H, W), got {input_shape}"
        )
    channels = getattr(snn, "channels", None)
    if channels:
        # mirror the conv SNN: same stages and head, every width scaled together
        ref = channels[0]
        head = list(getattr(snn, "hidden", []))
        opts = dict(
            kernel_size=list(snn.kernel_sizes), pool=snn.pool, padding=snn.padding, **kwargs
        )

        def scaled(w: int) -> nn.Module:
            chans = [max(1, round(c * w / ref)) for c in channels]
            hid = [max(1, round(h * w / ref)) for h in head]
            return CNN(input_shape, chans, num_classes, hidden=hid, **opts)

        return scaled
    opts = dict(kernel_size=3, pool=2, padding="same")
    opts.update(kwargs)
    return lambda w: CNN(input_shape, [w * 2**i for i in range(depth)], num_classes, **opts)


def match_baseline(
    snn_model: nn.Module,
    baseline: str,
    input_shape: Sequence[int],
    num_classes: int,
    tolerance: float = 0.05,
    depth: int | None = None,
    **baseline_kwargs: Any,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the ``baseline`` (``"mlp"``, ``"cnn"``, ``"gru"``, ``"lstm"``, ``"cnn1d"``) whose trainable
    parameter count is closest to the SNN's, and at most ``tolerance`` away (relative).

    Returns ``(model, info)`` with ``info = {"baseline", "width", "depth", "snn_params",
    "baseline_params", "ratio" (baseline / snn), "tolerance"}``. Raises ``ValueError`` when
    no width gets within tolerance (e.g. the SNN is smaller than the narrowest baseline).
    Extra keyword arguments go to the baseline's constructor.
    """
    check_choice("baseline", baseline, BASELINES)
    tolerance = check_positive("tolerance", tolerance)
    shape = tuple(int(s) for s in input_shape)
    num_classes = check_int("num_classes", num_classes, minimum=2)
    depth = _snn_depth(snn_model) if depth is None else check_int("depth", depth)
    reserved = sorted({"hidden", "channels", "num_layers", "input_size", "width"} & set(baseline_kwargs))
    if reserved:
        raise ValueError(
            f"baseline_kwargs must not set {reserved}: matching chooses the width and the "
            "depth (pass depth=...)"
        )
    target = count_parameters(snn_model)
    if target == 0:
        raise ValueError("snn_model has no trainable parameters to match")
    make = _family(snn_model, baseline, shape, num_classes, depth, dict(baseline_kwargs))

    def size(w: int) -> int:
        return count_parameters(make(w))

    # doubling to bracket the target, then bisection for the smallest w with size >= target
    lo, hi = 1, 1
    while size(hi) < target:
        lo, hi = hi, hi * 2
        if hi > _MAX_WIDTH:
            raise ValueError(
                f"no {baseline} width up to {_MAX_WIDTH} reaches the SNN's {target} parameters"
            )
    while lo < hi:
        mid = (lo + hi) // 2
        if size(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    candidates = [w for w in (hi - 1, hi) if w >= 1]
    width = min(candidates, key=lambda w: abs(size(w) - target))
    model = make(width)
    n = count_parameters(model)
    ratio = n / target
    info = {
        "baseline": baseline,
        "width": width,
        "depth": depth,
        "snn_params": target,
        "baseline_params": n,
        "ratio": ratio,
        "tolerance": tolerance,
    }
    if abs(ratio - 1.0) > tolerance:
        raise ValueError(
            f"cannot match a {baseline} of depth {depth} to the SNN's {target} parameters "
            f"within tolerance={tolerance}: the closest, width {width}, has {n} "
            f"(ratio {ratio:.3f}); change depth, the SNN size or the tolerance"
        )
    return model, info
