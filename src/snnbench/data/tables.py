"""Tables and ``.ts`` files as datasets: ``file:PATH.csv``, ``file:PATH.parquet``,
``file:PATH.ts``.

CSV / Parquet, one row per sample (wide) or one row per time step (long):

- wide: a label column (``label``, default ``"label"``) and numeric feature columns ->
  a tabular set ``[N, F]``;
- long: also ``series_id`` and ``time`` columns; the rows of one series, sorted by time,
  become one ``[L_i, C]`` series (lengths may differ), its label must be the same on every
  row.

Train and test: a column ``split`` with values ``train`` / ``test``; or a pair of files
``NAME_TRAIN.csv`` / ``NAME_TEST.csv`` (name the first); otherwise one file is split
stratified 80/20 with ``random_state=0``. ``.ts`` files (aeon / UEA format) follow the same
rule: ``NAME_TRAIN.ts`` finds ``NAME_TEST.ts`` beside it.

Parquet needs ``pyarrow`` (or ``fastparquet``), which snnbench does not install.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .arrays import MISSING, normalise_kind, raw_from_arrays, split_single
from .checks import check_class_counts, check_features, label_strings
from .splits import RawData, encode_labels

SPLIT_COLUMN = "split"
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _pair(path: Path) -> Path | None:
    """``NAME_TRAIN.ext`` -> ``NAME_TEST.ext`` (same case style) if it exists."""
    stem = path.stem
    for tr, te in (("_TRAIN", "_TEST"), ("_train", "_test"), ("_Train", "_Test")):
        if stem.endswith(tr):
            cand = path.with_name(stem[: -len(tr)] + te + path.suffix)
            if not cand.is_file():
                raise ValueError(f"{path.name} is a training file, but its test file {cand} does not exist")
            return cand
    return None


def read_table(path: Path):
    """A pandas DataFrame from a .csv or .parquet file (errors name the fix)."""
    import pandas as pd

    if not path.is_file():
        raise ValueError(f"data file {path} does not exist; check the path after 'file:'")
    if path.suffix.lower() == ".csv":
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not a readable CSV file: {err}") from None
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise ValueError(
            f"reading {path.name} needs a Parquet engine: pip install pyarrow (or save the table as .csv)"
        ) from None
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise ValueError(f"{path} is not a readable Parquet file: {type(err).__name__}: {err}") from None


def _column(df, name: str, what: str, path: Path, option: str) -> str:
    if name in df.columns:
        return name
    lower = {str(c).lower(): c for c in df.columns}
    if name.lower() in lower:
        return lower[name.lower()]
    raise ValueError(
        f"{path.name} has no {what} column {name!r}; its columns are {list(map(str, df.columns))[:12]}: "
        f"name it with --set data.{option}=COLUMN"
    )


def _features(df, exclude: list[str], path: Path) -> tuple[np.ndarray, list[str]]:
    cols = [c for c in df.columns if c not in exclude]
    if not cols:
        raise ValueError(f"{path.name} has no feature columns besides {exclude}")
    bad = [str(c) for c in cols if df[c].dtype.kind not in "fiub"]
    if bad:
        raise ValueError(
            f"{path.name}: column(s) {bad[:5]} are not numeric; features must be numbers: encode or "
            "drop them (or name the label column with data.label if it is one of them)"
        )
    return df[cols].to_numpy(dtype=np.float64), [str(c) for c in cols]


def _long_to_series(df, label: str, sid: str, time: str, path: Path, missing: str):
    feats = [c for c in df.columns if c not in (label, sid, time, SPLIT_COLUMN)]
    _features(df, [label, sid, time, SPLIT_COLUMN], path)
    xs, ys, splits = [], [], []
    for key, g in df.groupby(sid, sort=True):
        g = g.sort_values(time, kind="stable")
        if g[time].duplicated().any():
            raise ValueError(
                f"{path.name}: series {key!r} has repeated {time!r} values; each (series, time) pair "
                "must occur once"
            )
        labels = g[label].unique()
        if len(labels) != 1:
            raise ValueError(
                f"{path.name}: series {key!r} has {len(labels)} different labels ({list(labels)[:3]}); "
                "a series has one label on all its rows"
            )
        xs.append(g[feats].to_numpy(dtype=np.float64))
        ys.append(labels[0])
        if SPLIT_COLUMN in g.columns:
            sp = g[SPLIT_COLUMN].unique()
            if len(sp) != 1:
                raise ValueError(f"{path.name}: series {key!r} has rows in more than one split")
            splits.append(sp[0])
    check_features(f"{path.name} features", xs, allow_nan=missing == "impute")
    return xs, np.asarray(ys, dtype=object), (np.asarray(splits, dtype=object) if splits else None)


def _split_mask(values: np.ndarray, path: Path) -> np.ndarray:
    s = np.asarray([str(v).strip().lower() for v in values])
    bad = sorted(set(s) - {"train", "test"})
    if bad:
        raise ValueError(f"{path.name}: column {SPLIT_COLUMN!r} must hold 'train' or 'test', got {bad[:3]}")
    return s == "test"


def load_table_raw(
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    series_id: str | None = None,
    time: str | None = None,
    kind: str | None = None,
    missing: str = "error",
) -> RawData:
    """``file:PATH.csv|.parquet`` (see the module docstring)."""
    path = Path(path)
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {list(MISSING)}, got {missing!r}")
    if (series_id is None) != (time is None):
        raise ValueError("a long-format series table needs both data.series_id and data.time (or neither for wide rows)")
    declared = normalise_kind(kind)
    long = series_id is not None
    if declared == "image":
        raise ValueError(f"{path.name}: images cannot come from a table; store them in a .npz as [N, H, W] or [N, C, H, W]")
    if declared == "timeseries" and not long:
        raise ValueError(f"{path.name}: a series table needs data.series_id and data.time (long format, one row per step)")
    label = label or "label"
    test_path = _pair(path)
    frames = [read_table(path)] + ([read_table(test_path)] if test_path is not None else [])
    out = []
    for df, p in zip(frames, [path, test_path]):
        lab = _column(df, label, "label", p, "label")
        if long:
            sid = _column(df, series_id, "series id", p, "series_id")
            tim = _column(df, time, "time", p, "time")
            x, y, sp = _long_to_series(df.drop(columns=[]), lab, sid, tim, p, missing)
        else:
            excl = [lab] + ([SPLIT_COLUMN] if SPLIT_COLUMN in df.columns else [])
            x, _ = _features(df, excl, p)
            y = df[lab].to_numpy()
            sp = df[SPLIT_COLUMN].to_numpy() if SPLIT_COLUMN in df.columns else None
        out.append((x, y, sp))
    source = f"file {path}" + (f" + {test_path.name}" if test_path is not None else "")
    name = f"file:{path.name}"
    if test_path is not None:
        (xtr, ytr, _), (xte, yte, _) = out
    else:
        x, y, sp = out[0]
        if sp is not None:
            te = _split_mask(sp, path)
            tr = ~te
            if not te.any() or not tr.any():
                raise ValueError(f"{path.name}: column {SPLIT_COLUMN!r} must mark both train and test rows")
        else:
            tr_i, te_i = split_single(np.asarray(label_strings(f"{path.name} labels", y)))
            tr = np.zeros(len(y), dtype=bool)
            tr[tr_i] = True
            te = ~tr
        if long:
            xtr = [s for s, t in zip(x, tr) if t]
            xte = [s for s, t in zip(x, te) if t]
        else:
            xtr, xte = x[tr], x[te]
        ytr, yte = y[tr], y[te]
    if not long:
        return raw_from_arrays(xtr, ytr, xte, yte, kind="tabular", missing=missing, name=name, source=source)
    # series of different lengths: checked here, padded later by finalize
    y_tr, y_te, classes = encode_labels(label_strings("train labels", ytr), label_strings("test labels", yte))
    check_class_counts(y_tr, classes)
    chans = {s.shape[1] for s in list(xtr) + list(xte)}
    if len(chans) != 1:
        raise ValueError(f"{path.name}: series differ in number of feature columns {sorted(chans)}")
    lengths = [len(s) for s in list(xtr) + list(xte)]
    return RawData(
        name=name, kind="timeseries", train_x=list(xtr), train_y=y_tr, test_x=list(xte), test_y=y_te,
        class_names=classes,
        description=f"series table, {chans.pop()} channels x {min(lengths)}-{max(lengths)} steps, "
        f"{len(classes)} classes ({len(y_tr)} train / {len(y_te)} test)",
        extra={"source": source},
    )


def load_ts_raw(path: str | os.PathLike[str], *, missing: str = "error") -> RawData:
    """``file:PATH.ts``: aeon's ``.ts`` format; ``NAME_TRAIN.ts`` pairs with ``NAME_TEST.ts``."""
    from .ucr import _read_ts, is_regression_file

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist; check the path after 'file:'")
    test_path = _pair(path)
    for p in [path] + ([test_path] if test_path else []):
        if is_regression_file(p):
            raise ValueError(
                f"{p.name} is a regression problem (@targetlabel true): snnbench trains classifiers; "
                "use a classification .ts file (@classLabel true ...)"
            )
    x, lab = _read_ts(path)
    if test_path is not None:
        xt, labt = _read_ts(test_path)
        ytr_s, yte_s = label_strings("train labels", lab), label_strings("test labels", labt)
        xtr, xte = x, xt
    else:
        ys = np.asarray(label_strings("labels", lab))
        tr, te = split_single(ys)
        xtr, xte = [x[i] for i in tr], [x[i] for i in te]
        ytr_s, yte_s = list(ys[tr]), list(ys[te])
    check_features(f"{path.name} series", list(xtr) + list(xte), allow_nan=missing == "impute")
    y_tr, y_te, classes = encode_labels(ytr_s, yte_s)
    check_class_counts(y_tr, classes)
    lengths = [len(s) for s in xtr + xte]
    return RawData(
        name=f"file:{path.name}", kind="timeseries", train_x=xtr, train_y=y_tr, test_x=xte, test_y=y_te,
        class_names=classes,
        description=f".ts series, {xtr[0].shape[1]} ch x {min(lengths)}-{max(lengths)}, {len(classes)} classes "
        f"({len(y_tr)} train / {len(y_te)} test)",
        extra={"source": f"file {path}" + (f" + {test_path.name}" if test_path else "")},
    )
