r"""Event data: N-MNIST ``.bin`` files, SHD/SSC HDF5 files, and binning events into frames.

Formats (read by our own code, so no full-dataset download is needed):

- **N-MNIST / N-Caltech101 ``.bin``** (Orchard et al. 2015): 5 bytes (40 bits) per event,
  big-endian fields: byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), and the
  remaining 23 bits ``(byte2 & 0x7F) << 16 | byte3 << 8 | byte4`` = timestamp in µs. An
  event with ``y == 240`` is not an event but a timestamp-overflow marker; as in the
  dataset authors' reader, every later timestamp is raised by ``2**13`` and the marker is
  dropped. Sensor 34 x 34, 2 polarities.
- **SHD / SSC HDF5** (Cramer et al. 2020): ``spikes/times`` (one float array per sample,
  seconds), ``spikes/units`` (one int array per sample, 0..699), ``labels`` (int per
  sample). Files ``shd_train.h5``, ``shd_test.h5``, ``ssc_train.h5``, ``ssc_valid.h5``,
  ``ssc_test.h5`` in a folder the user names.

Binning (:func:`bin_events`) turns ``(times, units)`` into counts ``[T, n_units]``:
event ``(t, u)`` adds 1 to ``frames[floor(t / dt), u]``. Times in ms by convention, but any
unit works as long as ``times``, ``dt`` and ``duration`` agree.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive

__all__ = [
    "Events",
    "NMNIST_SENSOR_SIZE",
    "HSD_NUM_UNITS",
    "EventFrameDataset",
    "bin_events",
    "collate_time_first",
    "events_to_frames",
    "load_hsd",
    "load_nmnist",
    "read_hsd_h5",
    "read_nmnist_bin",
    "write_hsd_h5",
    "write_nmnist_bin",
]

NMNIST_SENSOR_SIZE = (34, 34, 2)  # (width x, height y, polarities)
HSD_NUM_UNITS = 700
_OVERFLOW_Y = 240
_OVERFLOW_INCREMENT = 2**13  # as in the N-MNIST authors' reader (and tonic's)
_TS_BITS = 23

NMNIST_SOURCE = (
    "N-MNIST (Orchard et al. 2015) comes from https://www.garrickorchard.com/datasets/n-mnist "
    "or Mendeley Data doi:10.17632/468j46mzdv.1: unzip Train.zip and Test.zip so that the "
    "folder holds Train/<digit>/*.bin and Test/<digit>/*.bin"
)
HSD_SOURCE = (
    "SHD and SSC (Cramer et al. 2020) come from https://zenkelab.org/datasets/ "
    "(e.g. shd_train.h5.gz, shd_test.h5.gz): download and gunzip them into this folder"
)
HSD_SPLITS = {"shd": ("train", "test"), "ssc": ("train", "valid", "test")}
HSD_CLASSES = {"shd": 20, "ssc": 35}


class Events(NamedTuple):
    """Address events of a camera recording, one numpy array per field (same length):
    ``x``, ``y`` pixel (int64), ``t`` timestamp in µs (int64), ``p`` polarity 0/1 (int64)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray


# -- N-MNIST ------------------------------------------------------------------------------


def read_nmnist_bin(source: str | os.PathLike[str] | bytes) -> Events:
    """Read an N-MNIST / N-Caltech101 ``.bin`` recording (path or raw bytes) into
    :class:`Events`, in file order (see the module docstring for the bit layout)."""
    if isinstance(source, (bytes, bytearray)):
        raw, name = bytes(source), "<bytes>"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"N-MNIST file {path} not found. {NMNIST_SOURCE}")
        raw, name = path.read_bytes(), str(path)
    if len(raw) % 5:
        raise ValueError(
            f"{name} is not an N-MNIST .bin file: its size {len(raw)} bytes is not a multiple "
            f"of 5 (5 bytes per event)"
        )
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    x, y = b[:, 0], b[:, 1]
    p = b[:, 2] >> 7
    t = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
    overflow = y == _OVERFLOW_Y
    if overflow.any():
        # Each marker raises the timestamps of all events after it (cumulative count).
        t = t + _OVERFLOW_INCREMENT * np.cumsum(overflow)
    keep = ~overflow
    return Events(x=x[keep], y=y[keep], t=t[keep], p=p[keep])


def write_nmnist_bin(
    path: str | os.PathLike[str], x: Sequence[int], y: Sequence[int], t: Sequence[int], p: Sequence[int]
) -> None:
    """Write events in the N-MNIST ``.bin`` format (no overflow markers: ``t < 2**23`` µs,
    ``0 <= x, y <= 255``, ``y != 240``, ``p`` in {0, 1})."""
    cols = [np.asarray(v, dtype=np.int64).ravel() for v in (x, y, t, p)]
    n = cols[0].size
    for name, v, lo, hi in zip("xytp", cols, (0, 0, 0, 0), (255, 255, 2**_TS_BITS - 1, 1)):
        if v.size != n:
            raise ValueError(f"{name} must have {n} entries like x, got {v.size}")
        if n and (v.min() < lo or v.max() > hi):
            raise ValueError(f"{name} must be in [{lo}, {hi}], got values in [{v.min()}, {v.max()}]")
    x, y, t, p = cols
    if n and (y == _OVERFLOW_Y).any():
        raise ValueError(f"y must not be {_OVERFLOW_Y} (reserved for timestamp-overflow markers)")
    out = np.empty((n, 5), dtype=np.uint8)
    out[:, 0] = x
    out[:, 1] = y
    out[:, 2] = (p << 7) | (t >> 16)
    out[:, 3] = (t >> 8) & 0xFF
    out[:, 4] = t & 0xFF
    Path(path).write_bytes(out.tobytes())


# -- binning ------------------------------------------------------------------------------


def _bin_index(q):
    """``floor(q)`` with a 1e-9 relative slack: a time on a bin edge up to float rounding
    (0.3 / 0.1 = 2.9999999999999996) belongs to the later bin, as in exact arithmetic."""
    return np.floor(q + 1e-9 * np.maximum(q, 1.0))


def bin_events(
    times: np.ndarray | torch.Tensor | Sequence[float],
    units: np.ndarray | torch.Tensor | Sequence[int],
    n_units: int,
    *,
    num_steps: int | None = None,
    dt: float | None = None,
    duration: float | None = None,
    binary: bool = False,
) -> torch.Tensor:
    """Count events per time bin and unit: ``[T, n_units]`` float32.

    Give ``dt`` and/or ``num_steps`` (``times``, ``dt``, ``duration`` in one unit, ms by
    convention):

    - ``dt`` and ``num_steps``: bins ``[k dt, (k+1) dt)``, ``k < num_steps``; later events
      are dropped.
    - ``dt`` only: ``T = ceil(duration / dt)`` bins covering ``[0, duration]`` (default
      ``duration`` = last event time, ``T = floor(t_last / dt) + 1``); an event exactly at
      ``duration`` goes to the last bin, later ones are dropped.
    - ``num_steps`` only: ``dt = duration / num_steps`` (default ``duration`` = last event
      time, which rescales time per sample); same end rule.

    ``binary=True`` clips counts to 1 (spike / no spike). Negative times or units outside
    ``[0, n_units)`` raise ValueError.
    """
    n_units = check_int("n_units", n_units, minimum=1)
    if isinstance(times, torch.Tensor):
        times = times.detach().cpu()
    t = np.asarray(times, dtype=np.float64).ravel()
    u = np.asarray(units.detach().cpu() if isinstance(units, torch.Tensor) else units).ravel()
    if u.size and not np.issubdtype(u.dtype, np.integer):
        if not np.all(np.mod(u, 1) == 0):
            raise ValueError("units must be integers (unit indices)")
    u = u.astype(np.int64)
    if t.size != u.size:
        raise ValueError(f"times and units must have the same length, got {t.size} and {u.size}")
    if t.size:
        if not np.all(np.isfinite(t)) or t.min() < 0:
            raise ValueError(f"times must be finite and >= 0, got a minimum of {t.min()}")
        if u.min() < 0 or u.max() >= n_units:
            raise ValueError(
                f"units must be in [0, {n_units - 1}] (n_units={n_units}), got values in "
                f"[{u.min()}, {u.max()}]"
            )
    if num_steps is None and dt is None:
        raise ValueError("give dt (bin width) and/or num_steps (number of bins), got neither")
    if num_steps is not None and dt is not None and duration is not None:
        raise ValueError("give at most two of num_steps, dt and duration (they fix each other)")
    t_last = float(t.max()) if t.size else 0.0
    if duration is not None:
        duration = check_positive("duration", duration)
    if dt is not None:
        dt = check_positive("dt", dt)
        if num_steps is not None:
            n_steps, end = check_int("num_steps", num_steps), None
        else:
            end = t_last if duration is None else duration
            n_steps = max(1, math.ceil(end / dt)) if duration is not None else int(_bin_index(end / dt)) + 1
    else:
        n_steps = check_int("num_steps", num_steps)
        end = duration if duration is not None else (t_last if t_last > 0 else 1.0)
        dt = end / n_steps
    idx = _bin_index(t / dt).astype(np.int64)
    if end is not None:
        idx = np.where(t <= end * (1 + 1e-12), np.minimum(idx, n_steps - 1), n_steps)
    keep = idx < n_steps
    flat = torch.from_numpy(idx[keep] * n_units + u[keep])
    counts = torch.bincount(flat, minlength=n_steps * n_units).reshape(n_steps, n_units)
    out = counts.to(torch.float32)
    return out.clamp_(max=1.0) if binary else out


def events_to_frames(
    events: Events,
    sensor_size: tuple[int, int, int] = NMNIST_SENSOR_SIZE,
    *,
    num_steps: int | None = None,
    dt: float | None = None,
    duration: float | None = None,
    binary: bool = False,
) -> torch.Tensor:
    """Camera events -> time-first frames ``[T, polarities, height, width]`` (event counts).

    ``sensor_size`` is ``(width, height, polarities)`` as tonic writes it; ``dt`` and
    ``duration`` in ms (event timestamps are µs); binning as in :func:`bin_events`.
    """
    w, h, n_p = (check_int(n, v) for n, v in zip(("width", "height", "polarities"), sensor_size))
    x, y, p = (np.asarray(v, dtype=np.int64) for v in (events.x, events.y, events.p))
    for name, v, hi in (("x", x, w), ("y", y, h), ("p", p, n_p)):
        if v.size and (v.min() < 0 or v.max() >= hi):
            raise ValueError(f"events.{name} must be in [0, {hi - 1}] for sensor_size {sensor_size}, "
                             f"got values in [{v.min()}, {v.max()}]")
    units = (p * h + y) * w + x
    # Bin in integer µs so that no ms conversion rounds an event into a neighbouring bin.
    frames = bin_events(
        np.asarray(events.t), units, n_p * h * w, num_steps=num_steps,
        dt=None if dt is None else check_positive("dt", dt) * 1000.0,
        duration=None if duration is None else check_positive("duration", duration) * 1000.0,
        binary=binary,
    )
    return frames.reshape(-1, n_p, h, w)


# -- SHD / SSC ----------------------------------------------------------------------------


def read_hsd_h5(path: str | os.PathLike[str]) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Read an SHD/SSC HDF5 file: ``(times, units, labels)``; ``times[i]`` in seconds
    (float64), ``units[i]`` int64, ``labels`` int64 ``[N]``."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SHD/SSC file {path} not found. {HSD_SOURCE}")
    with h5py.File(path, "r") as f:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise ValueError(f"{path} is not an SHD/SSC file: it has no '{key}' dataset")
        times = [np.asarray(a, dtype=np.float64) for a in f["spikes/times"][()]]
        units = [np.asarray(a, dtype=np.int64) for a in f["spikes/units"][()]]
        labels = np.asarray(f["labels"][()], dtype=np.int64)
    if not len(times) == len(units) == len(labels):
        raise ValueError(
            f"{path}: spikes/times, spikes/units and labels differ in length "
            f"({len(times)}, {len(units)}, {len(labels)})"
        )
    for i, (a, b) in enumerate(zip(times, units)):
        if a.shape != b.shape:
            raise ValueError(f"{path}: sample {i} has {a.size} spike times but {b.size} units")
    return times, units, labels


def write_hsd_h5(
    path: str | os.PathLike[str],
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels: Sequence[int],
) -> None:
    """Write samples in the SHD/SSC layout (variable-length ``spikes/times`` float32 in s,
    ``spikes/units`` uint16, ``labels`` uint16), e.g. to make small test files."""
    import h5py

    if not len(times) == len(units) == len(labels):
        raise ValueError(f"times, units and labels must have the same length, got "
                         f"{len(times)}, {len(units)}, {len(labels)}")
    with h5py.File(path, "w") as f:
        g = f.create_group("spikes")
        dt_t = g.create_dataset("times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        dt_u = g.create_dataset("units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (a, b) in enumerate(zip(times, units)):
            dt_t[i] = np.asarray(a, dtype=np.float32)
            dt_u[i] = np.asarray(b, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))


class EventFrameDataset(torch.utils.data.Dataset):
    """Samples kept as events, binned on access: ``ds[i] -> (frames [T, ...], label)``.

    ``loader(i)`` returns ``(times, units)`` for sample ``i`` (times in ms); frames are
    :func:`bin_events` counts reshaped to ``frame_shape`` (default ``(n_units,)``). Use
    :func:`collate_time_first` in a DataLoader to get ``[T, B, ...]`` batches.
    """

    def __init__(self, loader, labels: np.ndarray, n_units: int, *, num_steps: int | None = None,
                 dt: float | None = None, duration: float | None = None, binary: bool = False,
                 frame_shape: tuple[int, ...] | None = None, num_classes: int | None = None) -> None:
        self._loader = loader
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.n_units = check_int("n_units", n_units)
        if num_steps is None and dt is None:
            raise ValueError("give dt (ms) and/or num_steps, got neither")
        if num_steps is None and duration is None:
            # A fixed T across samples is what batching needs: without it T would follow each
            # sample's last event.
            raise ValueError("with dt only, give duration (ms) too, so that every sample has the same T")
        self.bin_kwargs = dict(num_steps=num_steps, dt=dt, duration=duration, binary=binary)
        self.frame_shape = (self.n_units,) if frame_shape is None else tuple(frame_shape)
        if math.prod(self.frame_shape) != self.n_units:
            raise ValueError(f"frame_shape {self.frame_shape} must have n_units={self.n_units} entries")
        self.num_classes = num_classes

    def __len__(self) -> int:
        return int(self.labels.numel())

    def events(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(times in ms, units)`` of sample ``index``."""
        return self._loader(index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        times, units = self._loader(index)
        frames = bin_events(times, units, self.n_units, **self.bin_kwargs)
        return frames.reshape(-1, *self.frame_shape), int(self.labels[index])

    def dense(self, dtype: torch.dtype = torch.uint8) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples binned: ``(x [N, T, ...] in dtype, labels [N])`` (counts saturate at
        the dtype's maximum; mind memory: SHD train at T=100 is ~0.6 GB in uint8)."""
        frames = [self[i][0] for i in range(len(self))]
        if dtype == torch.uint8:
            frames = [f.clamp(max=255) for f in frames]
        return torch.stack(frames).to(dtype), self.labels.clone()


# the binning options of EventFrameDataset that the loaders take, with their own defaults
_BINNING = ("num_steps", "dt", "duration", "binary")


def collate_time_first(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """DataLoader collate: ``[(frames [T, ...], label), ...] -> ([T, B, ...], labels [B])``."""
    frames, labels = zip(*batch)
    return torch.stack(frames, dim=1), torch.as_tensor(labels, dtype=torch.int64)


@takes_options_of(EventFrameDataset.__init__, only=_BINNING, defaults={"dt": 10.0, "duration": 1400.0})
def load_hsd(root: str | os.PathLike[str], name: str = "shd", split: str = "train",
             **binning) -> EventFrameDataset:
    """SHD (20 classes) or SSC (35 classes) split from ``root/{name}_{split}.h5``.

    700 input units; times converted to ms. Default binning: ``dt=10`` ms bins over
    ``duration=1400`` ms (T = 140; SHD clips last up to about 1.4 s, and any later spike
    lands in the last bin). Splits: SHD train/test, SSC train/valid/test.
    """
    num_steps, dt, duration, binary = (binning[k] for k in _BINNING)
    name = check_choice("name", name, tuple(HSD_SPLITS))
    split = check_choice("split", split, HSD_SPLITS[name])
    folder = Path(root)
    path = folder / f"{name}_{split}.h5"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"dataset folder {folder} does not exist (looking for {path.name}). {HSD_SOURCE}"
        )
    times, units, labels = read_hsd_h5(path)
    n_classes = HSD_CLASSES[name]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{path}: labels must be in [0, {n_classes - 1}] for {name.upper()}, "
                         f"got [{labels.min()}, {labels.max()}]")
    if num_steps is not None and dt is not None and duration is not None:
        duration = None  # num_steps and dt fix the window; ignore the default duration

    def loader(i: int) -> tuple[np.ndarray, np.ndarray]:
        t_ms = times[i] * 1000.0
        if duration is not None:
            # Spikes after the window go to the last bin rather than being lost.
            t_ms = np.minimum(t_ms, duration)
        return t_ms, units[i]

    return EventFrameDataset(loader, labels, HSD_NUM_UNITS, num_steps=num_steps, dt=dt,
                             duration=duration, binary=binary, num_classes=n_classes)


@takes_options_of(EventFrameDataset.__init__, only=_BINNING, defaults={"dt": 10.0, "duration": 320.0})
def load_nmnist(root: str | os.PathLike[str], split: str = "train", **binning) -> EventFrameDataset:
    """N-MNIST split from ``root/Train/<digit>/*.bin`` or ``root/Test/<digit>/*.bin``;
    samples are ``[T, 2, 34, 34]`` event counts (default 10 ms bins over 320 ms: T = 32,
    covering the three ~100 ms saccades; later events are dropped)."""
    split = check_choice("split", split, ("train", "test"))
    folder = Path(root) / ("Train" if split == "train" else "Test")
    if not folder.is_dir():
        raise FileNotFoundError(f"N-MNIST folder {folder} not found. {NMNIST_SOURCE}")
    files: list[Path] = []
    labels: list[int] = []
    for digit in range(10):
        sub = folder / str(digit)
        if not sub.is_dir():
            raise FileNotFoundError(f"N-MNIST folder {sub} (digit {digit}) not found. {NMNIST_SOURCE}")
        for f in sorted(sub.glob("*.bin")):
            files.append(f)
            labels.append(digit)
    if not files:
        raise FileNotFoundError(f"no .bin files under {folder}/<digit>/. {NMNIST_SOURCE}")
    w, h, n_p = NMNIST_SENSOR_SIZE

    def loader(i: int) -> tuple[np.ndarray, np.ndarray]:
        ev = read_nmnist_bin(files[i])
        return ev.t / 1000.0, (ev.p * h + ev.y) * w + ev.x

    ds = EventFrameDataset(loader, np.asarray(labels), n_p * h * w, **binning, frame_shape=(n_p, h, w),
                           num_classes=10)
    ds.files = files
    return ds
