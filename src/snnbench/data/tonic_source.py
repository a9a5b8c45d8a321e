"""Any tonic event dataset as a source: ``tonic:<ClassName>`` with ``data.root``, or any
two tonic dataset objects through :func:`raw_from_tonic`.

``tonic:NMNIST`` builds ``tonic.datasets.NMNIST(save_to=root, train=True|False)`` (files in
``root/NMNIST/``, tonic's own layout) and converts every recording at this boundary with
tonic's own transforms: ``Downsample(spatial_factor)`` if asked, then ``ToFrame(sensor_size,
time_window=dt_ms * 1000)`` (or ``n_time_bins``), giving event counts ``[T_i, P, H, W]``
that are stored flattened as a ``"timeseries"`` sample ``[T_i, P*H*W]`` (time first, as
every series in snnbench). Counts are kept as they are (no standardisation), like SHD.

tonic checks for a complete, extracted archive and otherwise downloads it. Here nothing
is downloaded unless ``download=True`` (``data.download: true``): without it a folder
that tonic would not accept as complete is read as it is, and a missing folder is an
error naming where the files go. Full N-MNIST at 10 ms frames is large (60,000 x 32 x
2,312 values): use ``spatial_factor`` and ``max_samples`` to keep it in memory.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._validation import check_int, check_positive
from .splits import RawData


def _tonic_class(name: str):
    try:
        import tonic.datasets as tds
    except ImportError:
        raise ValueError(f"tonic:{name} needs tonic: pip install tonic (or pip install 'snnbench[events]')") from None
    cls = getattr(tds, name, None)
    if not isinstance(cls, type):
        known = sorted(n for n in dir(tds) if isinstance(getattr(tds, n), type) and not n.startswith("_"))
        raise ValueError(f"tonic has no dataset {name!r}; tonic.datasets offers {known}")
    if "train" not in inspect.signature(cls.__init__).parameters:
        raise ValueError(
            f"tonic:{name} has no train/test switch (train=True/False), so it has no canonical split "
            "to read; use a tonic dataset with one (e.g. NMNIST, SHD, POKERDVS, DVSGesture)"
        )
    return cls


def _offline(cls):
    """A subclass that reads what is in the folder and never downloads."""

    def _check_exists(self) -> bool:
        folder = Path(self.location_on_system)
        return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))

    def download(self) -> None:
        raise ValueError(
            f"tonic:{cls.__name__}: no files in {self.location_on_system}; put the extracted dataset there "
            f"(tonic's layout), pass data.root=<folder holding {cls.__name__}/>, or set data.download: true "
            "to let tonic download it (with its checksum)"
        )

    return type(cls.__name__, (cls,), {"_check_exists": _check_exists, "download": download})


def _frame_transform(sensor: tuple[int, ...], dt_ms: float, n_time_bins: int | None,
                     duration_ms: float | None, spatial_factor: float):
    """tonic's own transforms: optional CropTime and Downsample, then ToFrame."""
    import tonic.transforms as tt

    dt_ms = check_positive("dt_ms", dt_ms)
    if n_time_bins is not None:
        n_time_bins = check_int("n_time_bins", n_time_bins)
    spatial_factor = check_positive("spatial_factor", spatial_factor)
    if spatial_factor > 1:
        raise ValueError(f"spatial_factor must be in (0, 1] (it shrinks the sensor), got {spatial_factor}")
    steps: list[Callable] = []
    if duration_ms is not None:
        steps.append(tt.CropTime(max=check_positive("duration_ms", duration_ms) * 1000.0))
    if spatial_factor != 1.0:
        steps.append(tt.Downsample(spatial_factor=spatial_factor))
        sensor = (max(1, int(sensor[0] * spatial_factor)), max(1, int(sensor[1] * spatial_factor)), sensor[2])
    if n_time_bins is not None:
        steps.append(tt.ToFrame(sensor_size=sensor, n_time_bins=n_time_bins))
    else:
        steps.append(tt.ToFrame(sensor_size=sensor, time_window=dt_ms * 1000.0, include_incomplete=True))
    return tt.Compose(steps), sensor


def raw_from_tonic(
    train,
    test,
    *,
    sensor_size: tuple[int, int, int] | None = None,
    dt_ms: float = 10.0,
    n_time_bins: int | None = None,
    duration_ms: float | None = None,
    spatial_factor: float = 1.0,
    max_samples: int | None = None,
    class_names: tuple[str, ...] | None = None,
    name: str = "tonic",
    source: str = "tonic dataset objects",
) -> RawData:
    """Any two tonic dataset objects (train, test) that yield ``(events, target)`` without
    a transform of their own -> :class:`RawData` of event-count frames ``[T_i, P*H*W]``.

    ``sensor_size`` defaults to the dataset's ``sensor_size``; the frames come from tonic's
    ``ToFrame`` (see :func:`_frame_transform`); ``max_samples`` keeps the first N of each.
    """
    sensor = tuple(int(v) for v in (sensor_size or getattr(train, "sensor_size", None) or ()))
    if len(sensor) != 3:
        raise ValueError(f"{name}: give sensor_size=(width, height, polarities); the dataset has none ({sensor})")
    transform, sensor = _frame_transform(sensor, dt_ms, n_time_bins, duration_ms, spatial_factor)
    if max_samples is not None:
        max_samples = check_int("max_samples", max_samples)
    out = {}
    for split, ds in (("train", train), ("test", test)):
        if getattr(ds, "transform", None) is not None:
            raise ValueError(f"{name}: the {split} dataset has a transform already; pass it without one "
                             "(the frames are made here with tonic's ToFrame)")
        n = len(ds) if max_samples is None else min(len(ds), max_samples)
        if n == 0:
            raise ValueError(f"{name}: the {split} split has no recordings")
        xs, ys = [], []
        for i in range(n):
            events, target = ds[i]
            f = np.asarray(transform(events), dtype=np.float32)
            xs.append(f.reshape(f.shape[0], -1))
            ys.append(int(target))
        out[split] = (xs, np.asarray(ys, dtype=np.int64))
    classes = tuple(class_names or ()) or tuple(str(c) for c in getattr(train, "classes", [])) or tuple(
        str(i) for i in range(int(max(out["train"][1].max(), out["test"][1].max())) + 1)
    )
    width = out["train"][0][0].shape[1]
    frame = f"{n_time_bins} bins" if n_time_bins is not None else f"{dt_ms:g} ms frames"
    return RawData(
        name=name, kind="timeseries",
        train_x=out["train"][0], train_y=out["train"][1], test_x=out["test"][0], test_y=out["test"][1],
        class_names=classes,
        description=f"{name}, event counts, {width} channels, {frame} "
        f"({len(out['train'][1])} train / {len(out['test'][1])} test)",
        extra={"standardise": False, "modality": "events", "source": source,
               "frame_shape": (sensor[2], sensor[1], sensor[0])},
    )


def load_tonic_raw(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    dt_ms: float = 10.0,
    n_time_bins: int | None = None,
    duration_ms: float | None = None,
    spatial_factor: float = 1.0,
    max_samples: int | None = None,
    download: bool = False,
) -> RawData:
    """The train and test split of ``tonic.datasets.<name>`` as event-count frames.

    ``dt_ms``: frame length (ToFrame ``time_window``; tonic timestamps are µs);
    ``n_time_bins`` instead fixes the number of frames per recording (tonic then ends the last
    bin just before the last timestamp, so events at exactly that time drop out; the
    default ``time_window`` slicing keeps every event). ``duration_ms`` drops
    later events (tonic ``CropTime``). ``spatial_factor`` (<= 1) shrinks the sensor with
    tonic ``Downsample``. ``max_samples`` keeps the first N recordings of each split.
    """
    from .paths import default_data_root

    cls = _tonic_class(name)
    base = Path(root).expanduser().resolve() if root is not None else default_data_root()
    klass = cls if download else _offline(cls)
    train, test = (klass(save_to=str(base), train=flag) for flag in (True, False))
    return raw_from_tonic(
        train, test, sensor_size=tuple(cls.sensor_size), dt_ms=dt_ms, n_time_bins=n_time_bins,
        duration_ms=duration_ms, spatial_factor=spatial_factor, max_samples=max_samples,
        name=f"tonic:{name}", source=f"tonic.datasets.{name} in {base / cls.__name__}",
    )


def bind_tonic(name: str) -> Callable[..., RawData]:
    """The registry loader for ``tonic:<name>`` (the class is checked on first load)."""
    return functools.partial(load_tonic_raw, name)  # its signature: load_tonic_raw's less the name
