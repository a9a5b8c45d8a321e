"""UEA/UCR time-series classification archives in aeon's ``.ts`` format.

A problem ``Name`` is a folder ``Name/`` holding ``Name_TRAIN.ts`` and ``Name_TEST.ts``
(the archive's own split). aeon ships a few (BasicMotions, JapaneseVowels, GunPoint, ...)
inside its package; any other must be downloaded once and unpacked into a folder that is
searched. Nothing is downloaded here: machines may be offline, and a silent download in
the middle of a benchmark is a surprise nobody wants.

Only classification problems load: a regression problem (``@targetlabel true`` in the
header, or a name in aeon's regression lists, e.g. ``Covid3Month``) is refused by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .paths import default_data_root
from .checks import label_strings
from .splits import RawData, encode_labels

ARCHIVE_URL = "https://timeseriesclassification.com/dataset.php"


def _aeon_bundled_dir() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).resolve().parent / "data"


def _aeon_home() -> Path:
    # aeon's own download cache (same resolution as aeon's _get_data_home, without
    # creating the folder as a side effect)
    return Path(os.environ.get("AEON_DATA", "~/aeon_data")).expanduser().resolve()


def search_dirs(root: str | os.PathLike[str] | None) -> list[Path]:
    """Folders searched for ``Name/Name_TRAIN.ts``: ``root`` alone if given; otherwise
    aeon's bundled data, ``default_data_root()/ucr`` and aeon's download cache."""
    if root is not None:
        return [Path(root).expanduser().resolve()]
    return [_aeon_bundled_dir(), default_data_root() / "ucr", _aeon_home()]


def _has_problem(folder: Path, name: str) -> bool:
    return (folder / name / f"{name}_TRAIN.ts").is_file() and (folder / name / f"{name}_TEST.ts").is_file()


def is_regression_file(path: Path) -> bool:
    """True if a ``.ts`` header declares a regression target (``@targetlabel true``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            s = line.strip().lower()
            if s.startswith("@data"):
                return False
            if s.startswith("@targetlabel") and s.split()[-1] == "true":
                return True
    return False


def _regression_names() -> set[str]:
    from aeon.datasets import tser_datasets

    names: set[str] = set()
    for v in vars(tser_datasets).values():
        if isinstance(v, (list, tuple, set, dict)):
            names |= {str(n).lower() for n in v}
    return names


def _regression_error(name: str) -> ValueError:
    return ValueError(
        f"{name!r} is a regression problem (its target is a number, not a class): snnbench trains "
        "classifiers; pick a classification problem, e.g. ucr:BasicMotions or ucr:GunPoint"
    )


def _known_names() -> list[str]:
    from aeon.datasets import tsc_datasets

    names = set(tsc_datasets.tsc_zenodo) | set(tsc_datasets.univariate) | set(tsc_datasets.multivariate)
    return sorted(names)


def find_problem(name: str, root: str | os.PathLike[str] | None = None) -> tuple[str, Path]:
    """Case-insensitive lookup: ``(canonical name, folder holding the two .ts files)``.

    Raises ValueError saying where to put the archive when it is not on this machine.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a UEA/UCR problem name such as 'BasicMotions', got {name!r}")
    want = name.strip().lower()
    dirs = search_dirs(root)
    for folder in dirs:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and entry.name.lower() == want and _has_problem(folder, entry.name):
                if is_regression_file(entry / f"{entry.name}_TRAIN.ts"):
                    raise _regression_error(entry.name)
                return entry.name, entry
    if want in _regression_names():
        raise _regression_error(name.strip())
    known = {n.lower(): n for n in _known_names()}
    shipped = sorted(
        e.name for e in _aeon_bundled_dir().iterdir()
        if e.is_dir() and _has_problem(e.parent, e.name) and not is_regression_file(e / f"{e.name}_TRAIN.ts")
    )
    searched = ", ".join(str(d) for d in dirs)
    if want not in known:
        raise ValueError(
            f"unknown UEA/UCR dataset {name!r}: it is not in aeon's list of classification "
            f"problems (aeon.datasets.tsc_datasets.tsc_zenodo) and no folder {name}/ with "
            f"{name}_TRAIN.ts and {name}_TEST.ts was found in: {searched}"
        )
    canon = known[want]
    target = Path(root).expanduser().resolve() if root is not None else default_data_root() / "ucr"
    raise ValueError(
        f"UEA/UCR dataset {canon!r} is not on this machine (aeon ships only {shipped}). "
        f"Download the archive (e.g. {ARCHIVE_URL}?Dataset={canon}, or once online: "
        f"aeon.datasets.load_classification({canon!r}, extract_path={str(target)!r})) and unpack "
        f"it so that {target / canon / (canon + '_TRAIN.ts')} and {canon}_TEST.ts exist; then "
        f"pass root={str(target)!r} (or set SNNBENCH_DATA so that <data>/ucr is searched). "
        f"Searched: {searched}"
    )


def _read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    from aeon.datasets import load_from_ts_file

    try:
        x, y = load_from_ts_file(str(path))
    except Exception as err:  # aeon raises IOError/ValueError/IndexError on bad files
        raise ValueError(f"could not read {path}: {type(err).__name__}: {err}") from None
    # aeon gives [N, C, L] (equal length) or a list of [C, L_i]; store [L_i, C]
    seqs = [np.asarray(s, dtype=np.float64).T for s in x]
    return seqs, np.asarray(y)


def load_ucr_raw(name: str, root: str | os.PathLike[str] | None = None) -> RawData:
    """The archive's own train/test split of UEA/UCR problem ``name``.

    Sequences become ``[L_i, C]`` (variable length kept; :func:`finalize` pads and
    records lengths). String labels map to ints in sorted order (numeric labels by value).
    """
    canon, folder = find_problem(name, root)
    x_tr, lab_tr = _read_ts(folder / f"{canon}_TRAIN.ts")
    x_te, lab_te = _read_ts(folder / f"{canon}_TEST.ts")
    y_tr, y_te, classes = encode_labels(
        label_strings(f"{canon} train labels", lab_tr), label_strings(f"{canon} test labels", lab_te)
    )
    lengths = [len(s) for s in x_tr + x_te]
    shape = f"{x_tr[0].shape[1]} ch x " + (
        f"{min(lengths)}-{max(lengths)}" if min(lengths) != max(lengths) else f"{lengths[0]}"
    )
    return RawData(
        name=canon.lower(), kind="timeseries",
        train_x=x_tr, train_y=y_tr, test_x=x_te, test_y=y_te, class_names=classes,
        description=f"UEA/UCR {canon} ({len(x_tr)} train / {len(x_te)} test, {shape}, {len(classes)} classes)",
        extra={"folder": str(folder), "problem": canon, "source": f"UEA/UCR .ts files in {folder}"},
    )
