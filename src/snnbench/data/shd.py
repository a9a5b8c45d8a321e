"""Spiking Heidelberg Digits (SHD, Cramer et al. 2020) as a registered dataset ``"shd"``.

Reads ``shd_train.h5`` and ``shd_test.h5`` (the official split: 8,156 / 2,264 recordings,
20 classes, English and German digits) from ``root`` (default
``default_data_root()/shd``) with :mod:`snnbench.data.events`, and bins each recording's
spikes of the 700 cochlea channels into ``dt`` ms frames: a ``"timeseries"`` sample
``[T_i, 700 / channel_bin]`` of spike counts, ``T_i`` = the frame of the last spike + 1
(at most ``duration / dt``; spikes after ``duration`` land in the last frame, as in
:func:`~snnbench.data.events.load_hsd`). ``channel_bin`` sums groups of neighbouring
channels (Hammouamri et al. 2023 use 5, i.e. 140 inputs, with 10 ms frames).

The Spiking Speech Commands (SSC, the same authors and format: ``ssc_train.h5``,
``ssc_valid.h5``, ``ssc_test.h5``; 35 classes) are the registered dataset ``"ssc"``
(:func:`load_ssc_raw`), binned the same way. Its official validation file is not read:
validation is carved from the training file like every other set's (``data.val_fraction``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._signature import takes_options_of
from .._validation import check_int, check_positive
from .paths import resolve_root
from .splits import RawData


def _split_frames(folder: Path, split: str, dt: float, duration: float, channel_bin: int,
                  binary: bool, name: str = "shd") -> tuple[list[np.ndarray], np.ndarray]:
    from .events import HSD_NUM_UNITS, load_hsd

    ds = load_hsd(folder, name, split, dt=dt, duration=duration, binary=binary)
    x = []
    for i in range(len(ds)):
        frames = ds[i][0].numpy()  # [T, 700] counts
        if channel_bin > 1:
            frames = frames.reshape(frames.shape[0], HSD_NUM_UNITS // channel_bin, channel_bin).sum(-1)
            if binary:
                frames = np.minimum(frames, 1.0)
        active = np.flatnonzero(frames.any(axis=1))
        length = int(active[-1]) + 1 if active.size else 1  # a silent recording keeps 1 frame
        x.append(frames[:length].astype(np.float32))
    return x, ds.labels.numpy()


def _check_binning(dt: float, duration: float, channel_bin: int) -> tuple[float, float, int]:
    from .events import HSD_NUM_UNITS

    dt = check_positive("dt", dt)
    duration = check_positive("duration", duration)
    channel_bin = check_int("channel_bin", channel_bin, minimum=1)
    if HSD_NUM_UNITS % channel_bin:
        divisors = [d for d in range(1, HSD_NUM_UNITS + 1) if HSD_NUM_UNITS % d == 0]
        raise ValueError(
            f"channel_bin must divide the {HSD_NUM_UNITS} cochlea channels, got {channel_bin}; "
            f"allowed: {divisors}"
        )
    if duration < dt:
        raise ValueError(f"duration must be at least dt = {dt} ms, got {duration}")
    return dt, duration, channel_bin


def _load_binned(name: str, title: str, root: str | os.PathLike[str] | None, dt: float, duration: float,
                 channel_bin: int, binary: bool) -> RawData:
    """SHD or SSC (``name``): both files checked before any is read, then binned."""
    from .events import HSD_CLASSES, HSD_NUM_UNITS, HSD_SOURCE

    dt, duration, channel_bin = _check_binning(dt, duration, channel_bin)
    folder = resolve_root(root, name)
    for split in ("train", "test"):
        path = folder / f"{name}_{split}.h5"
        if not path.is_file():
            raise FileNotFoundError(
                f"{name.upper()} needs {path} (and {name}_{'test' if split == 'train' else 'train'}.h5 "
                f"beside it); not found. {HSD_SOURCE}; pass data.root=<that folder> or set "
                f"SNNBENCH_DATA to a folder holding {name}/"
            )
    train_x, train_y = _split_frames(folder, "train", dt, duration, channel_bin, binary, name)
    test_x, test_y = _split_frames(folder, "test", dt, duration, channel_bin, binary, name)
    n_ch = HSD_NUM_UNITS // channel_bin
    return RawData(
        name=name, kind="timeseries",
        train_x=train_x, train_y=train_y.astype(np.int64),
        test_x=test_x, test_y=test_y.astype(np.int64),
        class_names=tuple(str(i) for i in range(HSD_CLASSES[name])),
        description=(
            f"{title}, {n_ch} channels, {dt:g} ms frames over {duration:g} ms "
            f"({len(train_y)} train / {len(test_y)} test)"
        ),
        extra={"dt_ms": float(dt), "standardise": False, "modality": "events"},
    )


def load_shd_raw(
    root: str | os.PathLike[str] | None = None,
    *,
    dt: float = 10.0,
    duration: float = 1000.0,
    channel_bin: int = 1,
    binary: bool = False,
) -> RawData:
    """SHD from ``root/shd_train.h5`` and ``root/shd_test.h5``, binned to ``dt`` ms frames
    over ``duration`` ms (spike counts, or 0/1 with ``binary``), ``700 / channel_bin``
    channels. Raises FileNotFoundError naming the missing file and where to get it."""
    return _load_binned("shd", "Spiking Heidelberg Digits", root, dt, duration, channel_bin, binary)


@takes_options_of(load_shd_raw)
def load_ssc_raw(root: str | os.PathLike[str] | None = None, **options) -> RawData:
    """SSC from ``root/ssc_train.h5`` and ``root/ssc_test.h5`` (default
    ``default_data_root()/ssc``), binned as :func:`load_shd_raw` bins SHD; 35 classes.
    Raises FileNotFoundError naming the missing file and where to get it."""
    o = options
    return _load_binned("ssc", "Spiking Speech Commands", root, o["dt"], o["duration"],
                        o["channel_bin"], o["binary"])
