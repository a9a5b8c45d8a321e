"""WISDM v1.1 activity recognition, transformed features (Kwapisz, Weiss & Moore 2010).

Each row summarises 10 s of 20 Hz phone accelerometer data of one user into 43 features
(binned distributions, means, peak intervals, deviations, resultant), labelled with one of
six activities. The file's ``user`` and ``class`` attributes carry no type, which
``scipy.io.arff`` rejects, so the file is parsed here (it is a plain CSV body).

Split: by default **user-wise** — 20% of the 36 users (``GroupShuffleSplit(test_size=0.2,
random_state=0)``) are test. Windows of one person share gait and phone placement, so a
random row split puts near-duplicates of test rows into train and overstates accuracy on
new people. ``split="random"`` gives the stratified 80/20 row split
(``random_state=0``) that much of the literature reports.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._validation import check_choice
from .paths import resolve_root
from .splits import RawData, encode_labels

WISDM_URL = "https://www.cis.fordham.edu/wisdm/dataset.php"
FOLDER = "wisdm_v1.1_transformed"
FILE = "WISDM_ar_v1.1_transformed.arff"
SPLITS = ("user", "random")
_DROP = ("unique_id", "user", "class")


def read_arff(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    """Attribute names and the raw string cells of every data row of a dense ARFF file.

    Lines starting with ``%`` and blank lines are skipped; quotes around attribute names
    are removed. Raises ValueError naming the file and line for a row of the wrong width.
    """
    path = Path(path)
    names: list[str] = []
    rows: list[list[str]] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("%"):
                continue
            if not in_data:
                low = s.lower()
                if low.startswith("@attribute"):
                    rest = s[len("@attribute"):].strip()
                    if rest.startswith(("'", '"')):
                        q = rest[0]
                        end = rest.find(q, 1)
                        if end < 0:
                            raise ValueError(f"{path}:{lineno}: unterminated attribute name")
                        names.append(rest[1:end])
                    else:
                        names.append(rest.split()[0])
                elif low.startswith("@data"):
                    in_data = True
                continue
            cells = [c.strip() for c in s.split(",")]
            if len(cells) != len(names):
                raise ValueError(
                    f"{path}:{lineno}: expected {len(names)} comma-separated values "
                    f"(one per @attribute), got {len(cells)}"
                )
            rows.append(cells)
    if not in_data or not names:
        raise ValueError(f"{path} is not an ARFF file: no @attribute/@data section found")
    return names, rows


def read_wisdm(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(features [N, 43] float64 with NaN for '?', users [N], activity labels [N],
    feature names)`` from the transformed arff."""
    names, rows = read_arff(path)
    low = [n.lower() for n in names]
    for col in _DROP:
        if col not in low:
            raise ValueError(f"{path}: expected an attribute {col!r}, found {names}")
    if not rows:
        raise ValueError(f"{path}: no data rows after @data")
    keep = [i for i, n in enumerate(low) if n not in _DROP]
    table = np.array(rows, dtype=object)
    try:
        x = np.array(
            [[np.nan if c == "?" else float(c) for c in r] for r in table[:, keep]], dtype=np.float64
        )
        users = table[:, low.index("user")].astype(np.int64)
    except ValueError as err:
        raise ValueError(f"{path}: non-numeric feature or user value ({err})") from None
    labels = table[:, low.index("class")].astype(str)
    return x, users, labels, [names[i] for i in keep]


def load_wisdm_raw(root: str | os.PathLike[str] | None = None, *, split: str = "user") -> RawData:
    """WISDM v1.1 transformed features as a tabular set (43 features, 6 activities).

    ``root`` is the folder holding ``WISDM_ar_v1.1_transformed.arff`` (or its parent
    ``wisdm_v1.1_transformed/``); default ``default_data_root()/wisdm_v1.1_transformed``.
    UNIQUE_ID and user are dropped from the features; missing values ('?') are imputed
    later with the training median. ``split``: ``"user"`` (default) or ``"random"``.
    """
    check_choice("split", split, SPLITS)
    base = resolve_root(root, FOLDER)
    candidates = [base / FILE, base / FOLDER / FILE]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise ValueError(
            f"WISDM file {FILE} not found in {base} (looked for {candidates[0]} and "
            f"{candidates[1]}). Download WISDM_ar_latest.tar.gz (v1.1) from {WISDM_URL}, "
            f"unpack it and pass root=<folder containing {FILE}>"
        )
    x, users, labels, _ = read_wisdm(path)
    y_all, _, classes = encode_labels(labels, labels[:0])
    idx = np.arange(len(y_all))
    if split == "user":
        from sklearn.model_selection import GroupShuffleSplit

        tr, te = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(idx, y_all, users))
    else:
        from sklearn.model_selection import train_test_split

        tr, te = train_test_split(idx, test_size=0.2, stratify=y_all, random_state=0)
    tr, te = np.sort(tr), np.sort(te)
    n_users = len(np.unique(users))
    how = (
        f"user-wise split, {len(np.unique(users[te]))} of {n_users} users in test"
        if split == "user" else "stratified random 80/20 split"
    )
    return RawData(
        name="wisdm", kind="tabular",
        train_x=x[tr], train_y=y_all[tr], test_x=x[te], test_y=y_all[te], class_names=classes,
        description=f"WISDM v1.1 transformed features ({len(tr)} train / {len(te)} test, {how})",
        extra={"train_users": sorted(set(users[tr].tolist())), "test_users": sorted(set(users[te].tolist()))},
    )
