"""A dataset from arrays: the ``.npz`` source (``file:PATH.npz``) and the Python entry point
:func:`raw_from_arrays` that every user-file reader ends in.

Shapes (samples first) decide the kind unless ``kind`` says otherwise:

==============  ===========  ==========================================================
shape           kind         notes
==============  ===========  ==========================================================
``[N, F]``      tabular      missing values (NaN) refused unless ``missing="impute"``
``[N, L, C]``   series       optional ``lengths`` ``[N]``: steps past ``lengths[i]`` are padding
``[N, H, W]``   image        with ``kind="image"`` (a 3-D array is a series otherwise)
``[N, C, H, W]`` image       uint8 is scaled by 1/255; floats must lie in [0, 1]
==============  ===========  ==========================================================

A ``.npz`` holds ``x_train, y_train, x_test, y_test`` and optionally ``lengths_train,
lengths_test`` and ``kind`` (a string). Without ``x_test``/``y_test`` the file is split
here, stratified, 20 % test, ``random_state=0`` (:data:`SINGLE_FILE_TEST_FRACTION`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .checks import check_class_counts, check_features, label_strings
from .splits import RawData, encode_labels

SINGLE_FILE_TEST_FRACTION = 0.2
KIND_ALIASES = {"tabular": "tabular", "series": "timeseries", "timeseries": "timeseries", "image": "image"}
MISSING = ("error", "impute")


def normalise_kind(kind: str | None) -> str | None:
    """``"series"`` and ``"timeseries"`` are one kind; None passes through."""
    if kind is None:
        return None
    key = str(kind).strip().lower()
    if key not in KIND_ALIASES:
        raise ValueError(f"kind must be one of {sorted(set(KIND_ALIASES))}, got {kind!r}")
    return KIND_ALIASES[key]


def _numeric(name: str, x) -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype == object or (isinstance(x, (list, tuple)) and x and hasattr(x[0], "__len__")):
        shapes = {np.shape(s) for s in x}
        if len(shapes) > 1:
            raise ValueError(
                f"{name} is ragged (samples of shapes {sorted(shapes)[:3]}...): store series zero "
                "padded to the longest as [N, L, C] with lengths_train / lengths_test giving each "
                "series' valid steps, and images at one size"
            )
        x = np.stack([np.asarray(s) for s in x]) if len(x) else np.zeros((0,))
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError(f"{name} holds Python objects, not numbers; store a numeric array")
    check_features(name, a, allow_nan=True)  # dtype and inf here; NaN below, per kind
    return a


def _infer_kind(ndim: int, declared: str | None, name: str) -> str:
    if declared is not None:
        want = {"tabular": (2,), "timeseries": (3,), "image": (3, 4)}[declared]
        if ndim not in want:
            raise ValueError(
                f"{name} has {ndim} dimensions, but kind={declared!r} needs "
                f"{' or '.join(f'{d}-D' for d in want)} ([N, F] tabular, [N, L, C] series, "
                "[N, H, W] or [N, C, H, W] image)"
            )
        return declared
    if ndim == 2:
        return "tabular"
    if ndim == 3:
        return "timeseries"
    if ndim == 4:
        return "image"
    raise ValueError(
        f"{name} has {ndim} dimensions; expected [N, F] (tabular), [N, L, C] (series), "
        "[N, H, W] (image, with kind=image) or [N, C, H, W] (image)"
    )


def _image(name: str, a: np.ndarray) -> np.ndarray:
    if a.ndim == 3:
        a = a[:, None]
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    a = a.astype(np.float32)
    if np.isnan(a).any():
        check_features(name, a)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(
            f"{name} holds image values in [{a.min():g}, {a.max():g}]; images must be uint8 "
            "(0..255) or floats in [0, 1]: rescale them, or declare kind=tabular for other features"
        )
    return a


def _cut(name: str, x: np.ndarray, lengths) -> list[np.ndarray]:
    if lengths is None:
        return list(x)
    lengths = np.asarray(lengths)
    if lengths.shape != (len(x),) or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths for {name} must be {len(x)} integers (one per series), got {lengths.dtype} {lengths.shape}")
    if len(lengths) and (lengths.min() < 1 or lengths.max() > x.shape[1]):
        raise ValueError(
            f"lengths for {name} must be in [1, {x.shape[1]}] (the padded length), got "
            f"[{lengths.min()}, {lengths.max()}]"
        )
    return [s[: int(n)] for s, n in zip(x, lengths)]


def split_single(y: np.ndarray, test_fraction: float = SINGLE_FILE_TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices for a set without its own test split: stratified,
    ``random_state=0``, so everybody who runs the same file gets the same split."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.unique(y, return_counts=True)[1]
    if len(counts) and counts.min() < 2:
        raise ValueError(
            f"cannot split the file into train and test: a class has a single sample "
            f"({int((counts < 2).sum())} such classes); provide x_test/y_test (or a split column), "
            "or drop classes with one sample"
        )
    n_test = max(int(np.ceil(test_fraction * len(y))), len(counts))
    if len(y) - n_test < len(counts):
        raise ValueError(
            f"{len(y)} samples of {len(counts)} classes are too few for a stratified train/test split; "
            "provide x_test/y_test (or a split column)"
        )
    tr, te = train_test_split(idx, test_size=n_test, stratify=y, random_state=0)
    return np.sort(tr), np.sort(te)


def raw_from_arrays(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    *,
    lengths_train=None,
    lengths_test=None,
    kind: str | None = None,
    missing: str = "error",
    name: str = "arrays",
    description: str = "",
    source: str = "arrays",
) -> RawData:
    """Check user arrays and turn them into :class:`RawData` (see the module docstring).

    Labels must be integers or strings (class names are their sorted values); features must
    be finite (NaN allowed with ``missing="impute"`` for tabular and series: filled from the
    training split). Without ``x_test`` the arrays are split stratified 80/20.
    """
    declared = normalise_kind(kind)
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {list(MISSING)}, got {missing!r}")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither (the set is then split 80/20 here)")
    xa = _numeric("x_train", x_train)
    ya = label_strings("y_train", y_train)
    if len(ya) != len(xa):
        raise ValueError(f"x_train has {len(xa)} samples but y_train has {len(ya)} labels")
    if x_test is None:
        yl = np.asarray(ya)
        tr, te = split_single(yl)
        xt, yt = xa[te], list(yl[te])
        xa, ya = xa[tr], list(yl[tr])
        lt = None if lengths_train is None else np.asarray(lengths_train)[te]
        lengths_train = None if lengths_train is None else np.asarray(lengths_train)[tr]
        lengths_test = lt
    else:
        xt = _numeric("x_test", x_test)
        yt = label_strings("y_test", y_test)
        if len(yt) != len(xt):
            raise ValueError(f"x_test has {len(xt)} samples but y_test has {len(yt)} labels")
    if xa.shape[1:] != xt.shape[1:] and not (xa.ndim == 3 == xt.ndim and xa.shape[2] == xt.shape[2]):
        raise ValueError(f"x_train samples have shape {xa.shape[1:]} but x_test samples {xt.shape[1:]}")
    k = _infer_kind(xa.ndim, declared, "x_train")
    if len(xa) == 0 or len(xt) == 0:
        raise ValueError(f"the training and test splits must be non-empty, got {len(xa)} and {len(xt)} samples")
    y_tr, y_te, classes = encode_labels(ya, yt)
    check_class_counts(y_tr, classes)
    allow_nan = missing == "impute"
    if k == "image":
        if lengths_train is not None or lengths_test is not None:
            raise ValueError("lengths_train / lengths_test apply to series, not images")
        tr_x, te_x = _image("x_train", xa), _image("x_test", xt)
    else:
        for nm, a in (("x_train", xa), ("x_test", xt)):
            check_features(nm, a, allow_nan=allow_nan)
        if k == "tabular":
            if lengths_train is not None or lengths_test is not None:
                raise ValueError("lengths_train / lengths_test apply to series [N, L, C], not tabular [N, F]")
            tr_x, te_x = xa.astype(np.float64), xt.astype(np.float64)
        else:
            tr_x = [s.astype(np.float64) for s in _cut("x_train", xa, lengths_train)]
            te_x = [s.astype(np.float64) for s in _cut("x_test", xt, lengths_test)]
    shape = "x".join(str(d) for d in xa.shape[1:])
    return RawData(
        name=name, kind=k, train_x=tr_x, train_y=y_tr, test_x=te_x, test_y=y_te, class_names=classes,
        description=description or f"{k} arrays, {shape} per sample, {len(classes)} classes ({len(y_tr)} train / {len(y_te)} test)",
        extra={"source": source},
    )


def load_npz_raw(path: str | os.PathLike[str], *, kind: str | None = None, missing: str = "error") -> RawData:
    """``file:PATH.npz``: arrays ``x_train, y_train[, x_test, y_test, lengths_*, kind]``."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"data file {path} does not exist; check the path after 'file:'") from None
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise ValueError(
                f"{path} stores Python objects (ragged arrays?): save series zero padded as "
                "[N, L, C] with lengths_train / lengths_test, and labels as int or str arrays"
            ) from None
        raise ValueError(f"{path} is not a readable .npz file: {err}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz file (corrupt or truncated: {err})") from None
    with z:
        keys = set(z.files)
        need = {"x_train", "y_train"}
        if not need <= keys:
            raise ValueError(
                f"{path} lacks {sorted(need - keys)}; a .npz dataset holds x_train, y_train and "
                f"optionally x_test, y_test, lengths_train, lengths_test, kind (it has {sorted(keys)})"
            )
        allowed = need | {"x_test", "y_test", "lengths_train", "lengths_test", "kind"}
        extra = sorted(keys - allowed)
        if extra:
            raise ValueError(f"{path} has unexpected arrays {extra}; allowed names: {sorted(allowed)}")
        try:
            arrays = {k: z[k] for k in keys}
        except ValueError as err:
            raise ValueError(
                f"{path} stores Python objects (ragged arrays?): save series zero padded as "
                f"[N, L, C] with lengths_train / lengths_test ({err})"
            ) from None
    file_kind = str(arrays.pop("kind")) if "kind" in arrays else None
    if kind is not None and file_kind is not None and normalise_kind(kind) != normalise_kind(file_kind):
        raise ValueError(f"{path} declares kind={file_kind!r} but data.kind is {kind!r}; drop one of them")
    return raw_from_arrays(
        arrays["x_train"], arrays["y_train"], arrays.get("x_test"), arrays.get("y_test"),
        lengths_train=arrays.get("lengths_train"), lengths_test=arrays.get("lengths_test"),
        kind=kind if kind is not None else file_kind, missing=missing, name=f"file:{path.name}",
        source=f"file {path}",
    )
