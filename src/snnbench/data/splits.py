"""Dataset containers and the shared post-processing every loader goes through.

A loader returns :class:`RawData`: the canonical train/test partition as numpy arrays,
before any scaling. :func:`finalize` then carves validation out of train (stratified,
seeded), fits the normalisation on what is left of train only, and applies it to all
three splits. Keeping that step in one place is what guarantees that no statistic of the
test (or validation) data leaks into the inputs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_choice, check_int, check_range
from .checks import check_class_counts

KINDS = ("image", "timeseries", "tabular")


@dataclass(frozen=True)
class ArraySplit:
    """One split, samples first.

    ``x``: ``[N, C, H, W]`` (image), ``[N, L, C]`` (timeseries, zero padded after the
    valid steps) or ``[N, F]`` (tabular), float32. ``y``: ``[N]`` long class indices.
    ``lengths``: ``[N]`` long number of valid steps per sample (timeseries), else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise ValueError("ArraySplit x and y must be torch.Tensors")
        if self.y.ndim != 1 or self.y.dtype != torch.long:
            raise ValueError(f"ArraySplit y must be a 1-D long tensor, got {tuple(self.y.shape)} {self.y.dtype}")
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"ArraySplit x has {self.x.shape[0]} samples but y has {self.y.shape[0]}"
            )
        if self.lengths is not None:
            if self.lengths.shape != self.y.shape or self.lengths.dtype != torch.long:
                raise ValueError(
                    f"ArraySplit lengths must be a long tensor of shape {tuple(self.y.shape)}, "
                    f"got {tuple(self.lengths.shape)} {self.lengths.dtype}"
                )

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:  # tensors' own repr would print thousands of values
        lengths = "None" if self.lengths is None else f"[{len(self.lengths)}]"
        return f"ArraySplit(n={len(self)}, x={list(self.x.shape)} {self.x.dtype}, lengths={lengths})"

    def subset(self, index: torch.Tensor | Sequence[int]) -> ArraySplit:
        """The samples at ``index`` (a long tensor, a list of ints or a bool mask)."""
        idx = torch.as_tensor(index)
        if idx.dtype != torch.bool:
            idx = idx.long()
        lengths = self.lengths[idx] if self.lengths is not None else None
        return ArraySplit(self.x[idx], self.y[idx], lengths)


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    ``input_shape`` is one sample's shape: ``(C, H, W)``, ``(L_max, C)`` or ``(F,)``.
    ``class_names[k]`` is the name of class index ``k``.
    """

    name: str
    kind: str
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...]
    description: str = ""
    source: str = ""  # where the data came from: a package loader, a file, a download
    # what the data is, beyond its array layout: tabular, series, image, audio or events
    # (audio and events arrive as series of features or frames)
    modality: str = ""
    sizes: tuple[int, int, int] = (0, 0, 0)  # (train, val, test) samples


@dataclass(frozen=True)
class DatasetSplits:
    """Train, validation (carved from train) and test splits plus :class:`DatasetInfo`."""

    train: ArraySplit
    val: ArraySplit
    test: ArraySplit
    info: DatasetInfo


@dataclass
class RawData:
    """A loader's output: the canonical partition, unscaled.

    image: ``x`` float array ``[N, C, H, W]`` already in [0, 1].
    timeseries: ``x`` a sequence of ``[L_i, C]`` float arrays (NaN marks a missing value).
    tabular: ``x`` float array ``[N, F]`` (NaN marks a missing value).
    ``y`` int arrays of class indices into ``class_names``.
    ``extra["standardise"] = False`` keeps a time series as it is (spike trains stay 0/1).
    ``extra["source"]`` says where the data came from (shown in results beside the name).
    """

    name: str
    kind: str
    train_x: np.ndarray | list[np.ndarray]
    train_y: np.ndarray
    test_x: np.ndarray | list[np.ndarray]
    test_y: np.ndarray
    class_names: tuple[str, ...]
    description: str = ""
    extra: dict = field(default_factory=dict)


def encode_labels(
    train_labels: Sequence, test_labels: Sequence
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Map arbitrary labels to ints ``0..K-1`` in sorted order of their names.

    Labels that all read as integers (``'1'``, ``'2'``, ..., ``'10'``) sort by value, so
    class index follows the archive's numbering; otherwise they sort as strings. Classes
    are taken from train and test together; a test label unseen in train still gets an
    index (the model will simply never predict it correctly).
    """
    tr = [str(v) for v in np.asarray(train_labels).tolist()]
    te = [str(v) for v in np.asarray(test_labels).tolist()]
    names = set(tr) | set(te)
    try:
        ordered = sorted(names, key=lambda s: (int(s), s))
    except ValueError:
        ordered = sorted(names)
    index = {n: i for i, n in enumerate(ordered)}
    y_tr = np.array([index[v] for v in tr], dtype=np.int64)
    y_te = np.array([index[v] for v in te], dtype=np.int64)
    return y_tr, y_te, tuple(ordered)


def carve_validation(
    y: np.ndarray, val_fraction: float, seed: int, class_names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, val) index arrays into a training set with labels ``y``.

    ``sklearn.model_selection.train_test_split(test_size=val_fraction, stratify=y,
    random_state=seed)``; both index arrays are returned sorted, so the kept training
    samples stay in file order. ``val_fraction == 0`` gives an empty validation set.

    Small sets with many classes: a stratified split needs at least one validation sample
    per class. When ``ceil(val_fraction * n)`` is smaller than the number of classes K, K
    samples (one per class) are taken instead and a warning says so (e.g. 50 series of 10
    classes: 10 validation samples, not 5). A class with a single training sample cannot
    be split at all; the error names it and the fix (``val_fraction=0``).
    """
    from sklearn.model_selection import train_test_split

    val_fraction = check_range("val_fraction", val_fraction, 0.0, 0.99)
    n = len(y)
    all_idx = np.arange(n)
    if val_fraction == 0.0:
        return all_idx, all_idx[:0]
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y) if n else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(counts)
    k = len(present)

    def cname(i: int) -> str:
        return repr(class_names[i]) if class_names is not None and i < len(class_names) else str(i)

    rare = [int(i) for i in present if counts[i] < 2]
    if rare:
        raise ValueError(
            f"val_fraction={val_fraction}: class {cname(rare[0])} has a single training sample"
            f"{f' ({len(rare)} such classes)' if len(rare) > 1 else ''}, and a stratified validation "
            "split needs at least 2 per class; set data.val_fraction=0 (no validation set) or add samples"
        )
    test_size: float | int = val_fraction
    n_val = math.ceil(val_fraction * n)
    if n_val < k:
        test_size = k
        warnings.warn(
            f"val_fraction={val_fraction} gives {n_val} validation samples for {k} classes; "
            f"using {k} (one per class, {k / n:.0%} of the {n} training samples) so that the split "
            "stays stratified",
            stacklevel=3,
        )
    if n - max(n_val, k) < k:
        raise ValueError(
            f"val_fraction={val_fraction} leaves {n - max(n_val, k)} of {n} training samples for {k} "
            f"classes; lower data.val_fraction to at most {(n - k) / n:.2f}, or set it to 0"
        )
    try:
        tr, va = train_test_split(all_idx, test_size=test_size, stratify=y, random_state=seed)
    except ValueError as err:
        raise ValueError(
            f"val_fraction={val_fraction} cannot carve a stratified validation set out of "
            f"{n} training samples with class counts {counts.tolist()} ({err}); use a "
            "larger val_fraction, or val_fraction=0 for no validation set"
        ) from None
    return np.sort(tr), np.sort(va)


def _check_labels(name: str, y: np.ndarray, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and (y.min() < 0 or y.max() >= num_classes)):
        raise ValueError(f"{name} must be 1-D class indices in [0, {num_classes}), got shape {y.shape}")
    return y.astype(np.int64)


def _standardise_sequences(
    seqs: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardise each ``[L_i, C]`` sequence and zero pad to ``max_len``.

    Missing values (NaN) become 0 after standardisation, i.e. the training mean.
    """
    n = len(seqs)
    c = mean.shape[0]
    out = np.zeros((n, max_len, c), dtype=np.float32)
    lengths = np.zeros(n, dtype=np.int64)
    for i, s in enumerate(seqs):
        z = (np.asarray(s, dtype=np.float64) - mean) / std
        out[i, : len(s)] = np.nan_to_num(z, nan=0.0)
        lengths[i] = len(s)
    return torch.from_numpy(out), torch.from_numpy(lengths)


def _as_sequences(name: str, x) -> list[np.ndarray]:
    if isinstance(x, np.ndarray) and x.ndim == 3:
        seqs = list(x)
    else:
        seqs = [np.asarray(s) for s in x]
    for i, s in enumerate(seqs):
        if s.ndim != 2 or len(s) == 0:
            raise ValueError(f"{name}[{i}] must be a non-empty [L, C] array, got shape {s.shape}")
    if seqs and len({s.shape[1] for s in seqs}) != 1:
        raise ValueError(f"{name}: every sequence must have the same number of channels")
    return seqs


def _split_of(x: torch.Tensor, y: np.ndarray, lengths: torch.Tensor | None = None) -> ArraySplit:
    return ArraySplit(x, torch.from_numpy(np.ascontiguousarray(y)), lengths)


def _finalize_timeseries(raw: RawData, ys: tuple, tr_idx, va_idx) -> tuple[list[ArraySplit], tuple[int, ...]]:
    """Train/val/test splits of a timeseries set (per-channel z-score on the training steps,
    zero padded to the longest sequence) and its input shape ``(max_len, channels)``."""
    y_tr_all, y_te = ys
    seqs_all = _as_sequences("train_x", raw.train_x)
    seqs_te = _as_sequences("test_x", raw.test_x)
    if len(seqs_all) != len(y_tr_all) or len(seqs_te) != len(y_te):
        raise ValueError("timeseries x and y disagree in number of samples")
    if not seqs_all:
        raise ValueError("timeseries train_x is empty")
    if seqs_te and seqs_te[0].shape[1] != seqs_all[0].shape[1]:
        raise ValueError(
            f"test sequences have {seqs_te[0].shape[1]} channels, train sequences {seqs_all[0].shape[1]}"
        )
    seqs_tr = [seqs_all[i] for i in tr_idx]
    seqs_va = [seqs_all[i] for i in va_idx]
    stacked = np.concatenate([np.asarray(s, dtype=np.float64) for s in seqs_tr], axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.nan_to_num(np.nanmean(stacked, axis=0), nan=0.0)
        std = np.nan_to_num(np.nanstd(stacked, axis=0), nan=0.0)
    std = np.where(std > 0, std, 1.0)
    if not raw.extra.get("standardise", True):  # spike trains: keep them binary
        mean, std = np.zeros_like(mean), np.ones_like(std)
    max_len = max(len(s) for s in seqs_all + seqs_te)
    parts = []
    for seqs, y in ((seqs_tr, y_tr_all[tr_idx]), (seqs_va, y_tr_all[va_idx]), (seqs_te, y_te)):
        if seqs:
            x, lengths = _standardise_sequences(seqs, mean, std, max_len)
        else:
            x = torch.zeros(0, max_len, mean.shape[0])
            lengths = torch.zeros(0, dtype=torch.long)
        parts.append(_split_of(x, y, lengths))
    return parts, (max_len, int(mean.shape[0]))


def _tabular_scaler(fit: np.ndarray, n_features: int):
    """``x -> clip((impute(x) - min) / (max - min), 0, 1)`` with the median, min and max of
    ``fit`` (missing values -> median; a constant feature -> 0)."""
    with warnings.catch_warnings():
        # an all-missing column is imputed with 0 on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nan_to_num(np.nanmedian(fit, axis=0), nan=0.0) if len(fit) else np.zeros(fit.shape[1])
    fit = np.where(np.isnan(fit), med, fit)
    lo = fit.min(axis=0) if len(fit) else np.zeros(n_features)
    span = (fit.max(axis=0) - lo) if len(fit) else np.ones(n_features)
    span = np.where(span > 0, span, np.inf)  # constant feature -> 0

    def scale(a: np.ndarray) -> np.ndarray:
        a = np.where(np.isnan(a), med, a)
        return np.clip((a - lo) / span, 0.0, 1.0).astype(np.float32)

    return scale


def _finalize_arrays(raw: RawData, ys: tuple, tr_idx, va_idx) -> tuple[list[ArraySplit], tuple[int, ...]]:
    """Train/val/test splits of an image or tabular set and its input shape."""
    y_tr_all, y_te = ys
    x_all = np.asarray(raw.train_x, dtype=np.float64 if raw.kind == "tabular" else np.float32)
    x_te = np.asarray(raw.test_x, dtype=x_all.dtype)
    if len(x_all) != len(y_tr_all) or len(x_te) != len(y_te):
        raise ValueError("x and y disagree in number of samples")
    if raw.kind == "image":
        if x_all.ndim != 4 or x_te.shape[1:] != x_all.shape[1:]:
            raise ValueError(f"image x must be [N, C, H, W], got {x_all.shape} and {x_te.shape}")
        for nm, arr in (("train_x", x_all), ("test_x", x_te)):
            if arr.size and (arr.min() < 0 or arr.max() > 1 or not np.isfinite(arr).all()):
                raise ValueError(f"image {nm} must be finite and in [0, 1]")
        xs = [x_all[tr_idx], x_all[va_idx], x_te]
    else:
        if x_all.ndim != 2 or x_te.ndim != 2 or x_te.shape[1] != x_all.shape[1]:
            raise ValueError(f"tabular x must be [N, F], got {x_all.shape} and {x_te.shape}")
        scale = _tabular_scaler(x_all[tr_idx], x_all.shape[1])
        xs = [scale(x_all[tr_idx]), scale(x_all[va_idx]), scale(x_te)]
    parts = [
        _split_of(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), y)
        for x, y in zip(xs, (y_tr_all[tr_idx], y_tr_all[va_idx], y_te))
    ]
    return parts, tuple(int(s) for s in x_all.shape[1:])


def finalize(raw: RawData, *, val_fraction: float = 0.1, seed: int = 0) -> DatasetSplits:
    """Carve validation from train, fit the scaling on the rest of train, apply to all.

    image: unchanged (already in [0, 1]).
    timeseries: per-channel ``z = (x - mean) / std`` over the valid steps of the training
    split (std 0 -> 1; skipped when ``raw.extra["standardise"]`` is False), zero padded to the longest sequence of any split, with lengths.
    tabular: missing values -> training median, then ``(x - min) / (max - min)`` with
    training min/max (range 0 -> 0), clipped to [0, 1].
    """
    check_choice("kind", raw.kind, KINDS)
    seed = check_int("seed", seed, minimum=0)
    k = len(raw.class_names)
    y_tr_all = _check_labels("train_y", raw.train_y, k)
    y_te = _check_labels("test_y", raw.test_y, k)
    check_class_counts(y_tr_all, raw.class_names, require_all=False)
    tr_idx, va_idx = carve_validation(y_tr_all, val_fraction, seed, raw.class_names)

    build = _finalize_timeseries if raw.kind == "timeseries" else _finalize_arrays
    parts, input_shape = build(raw, (y_tr_all, y_te), tr_idx, va_idx)

    info = DatasetInfo(
        name=raw.name,
        kind=raw.kind,
        input_shape=input_shape,
        num_classes=k,
        class_names=tuple(raw.class_names),
        description=raw.description,
        source=str(raw.extra.get("source", "")),
        modality=str(raw.extra.get("modality", {"timeseries": "series"}.get(raw.kind, raw.kind))),
        sizes=(len(parts[0]), len(parts[1]), len(parts[2])),
    )
    return DatasetSplits(train=parts[0], val=parts[1], test=parts[2], info=info)

