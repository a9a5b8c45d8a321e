"""Checks on a user's data before any work: classification labels, finite features, equal
shapes, enough samples per class.

Every check raises ``ValueError`` with one line that names the problem, where it is, and
the fix. They run inside the loaders (:mod:`snnbench.data.arrays`,
:mod:`snnbench.data.tables`) and in :func:`~snnbench.data.splits.finalize`, so a bad set
is refused by ``load_dataset`` — and therefore by ``snnbench run`` before its run folder is
created.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

# Integer-valued float labels (1.0, 2.0) are classes; above this many distinct values per
# sample a float label column is read as a measured quantity, i.e. a regression target.
_REGRESSION_HINT = "snnbench trains classifiers; bin the target into classes first, or use a classification set"


def _is_int_like(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def label_strings(name: str, labels: Sequence | np.ndarray) -> list[str]:
    """Labels as strings after checking that they are class labels.

    Allowed: integers (any integer dtype, or floats that are all whole numbers such as
    ``1.0, 2.0``, which CSV readers produce) and strings. Refused with a message naming the
    fix: non-integer floats (a regression target), NaN or missing labels, booleans, and any
    other type (complex numbers, arrays, ``None``).
    """
    arr = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be one label per sample (1-D), got shape {arr.shape}; for one-hot labels "
            "store the class index (argmax) instead"
        )
    if arr.dtype.kind == "b":
        raise ValueError(
            f"{name} holds booleans; labels must be integers or strings: convert them "
            "(e.g. y.astype(int)) so that the class names are explicit"
        )
    if arr.dtype.kind in "iu":
        return [str(int(v)) for v in arr.tolist()]
    if arr.dtype.kind == "f":
        return _float_labels(name, arr)
    if arr.dtype.kind in "US":
        out = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.tolist()]
        _no_blank(name, out)
        return out
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers; labels must be integers or strings")
    # object arrays: every entry must be an int or a str (or a whole float)
    out: list[str] = []
    floats: list[float] = []
    for i, v in enumerate(arr.tolist()):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, bytes):
            out.append(v.decode(errors="replace"))
        elif _is_int_like(v):
            out.append(str(int(v)))
        elif isinstance(v, float) or isinstance(v, np.floating):
            floats.append(float(v))
            out.append(repr(float(v)))
        else:
            raise ValueError(
                f"{name}[{i}] is {v!r} ({type(v).__name__}); labels must be integers or strings"
                + (": fill in the missing labels or drop those samples" if v is None else "")
            )
    if floats:
        if len(floats) != len(out):
            raise ValueError(
                f"{name} mixes numbers and strings ({len(floats)} float entries); labels must be "
                "all integers or all strings: convert the column to one type"
            )
        return _float_labels(name, np.asarray(floats))
    _no_blank(name, out)
    return out


def _no_blank(name: str, out: list[str]) -> None:
    blank = [i for i, s in enumerate(out) if not s.strip() or s.strip().lower() in ("nan", "none")]
    if blank:
        raise ValueError(
            f"{name} has {len(blank)} empty or missing label(s) (first at index {blank[0]}): "
            "fill them in or drop those samples"
        )


def _float_labels(name: str, arr: np.ndarray) -> list[str]:
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or infinite label(s) (first at index "
            f"{int(np.flatnonzero(bad)[0])}): fill them in or drop those samples"
        )
    whole = np.all(arr == np.round(arr))
    if not whole:
        frac = arr[arr != np.round(arr)]
        raise ValueError(
            f"{name} looks like a regression problem: {len(np.unique(arr))} distinct non-integer "
            f"target values (e.g. {frac[0]:g}); {_REGRESSION_HINT}"
        )
    return [str(int(v)) for v in arr.tolist()]


def check_features(name: str, x: np.ndarray | Sequence[np.ndarray], *, allow_nan: bool = False) -> None:
    """Refuse infinite values always, and NaN unless ``allow_nan`` (NaN then marks a
    missing value that :func:`~snnbench.data.splits.finalize` fills from training data)."""
    seqs = [x] if isinstance(x, np.ndarray) and x.dtype != object else list(x)
    n_nan = n_inf = 0
    first = None
    for i, a in enumerate(seqs):
        a = np.asarray(a)
        if a.dtype.kind not in "fiub":
            raise ValueError(
                f"{name} holds {a.dtype} values; features must be numbers: encode text or "
                "category columns as numbers first (or drop them)"
            )
        if a.dtype.kind != "f":
            continue
        nan = np.isnan(a)
        inf = np.isinf(a)
        if first is None and (inf.any() or (nan.any() and not allow_nan)):
            where = np.argwhere(inf | (nan & (not allow_nan)))[0]
            first = tuple(int(w) for w in where) if len(seqs) == 1 else (i, *map(int, where))
        n_nan += int(nan.sum())
        n_inf += int(inf.sum())
    if n_inf:
        raise ValueError(
            f"{name} has {n_inf} infinite value(s) (first at index {first}): replace them "
            "(e.g. clip to a finite range) or drop those samples"
        )
    if n_nan and not allow_nan:
        raise ValueError(
            f"{name} has {n_nan} NaN value(s) (first at index {first}): fill or drop them, or set "
            "data.options.missing=impute to replace each by its feature's training median"
        )


def check_class_counts(y_train: np.ndarray, class_names: Sequence[str], *, require_all: bool = True) -> None:
    """At least two classes in train, and (``require_all``) every class present in train.

    A class seen only in test could never be predicted; a single class is not a
    classification problem.
    """
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=len(class_names))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = class_names[int(present[0])] if len(present) else "(none)"
        raise ValueError(
            f"the training split has a single class ({only!r}, {len(y_train)} samples): a "
            "classifier needs at least 2 classes; check the label column (data.label)"
        )
    missing = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if missing and require_all:
        raise ValueError(
            f"class(es) {missing[:5]} occur in the test split but not in the training split: "
            "every class needs training samples; re-split the data (e.g. stratified) or drop them"
        )
