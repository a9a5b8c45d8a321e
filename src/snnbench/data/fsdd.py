"""Free Spoken Digit Dataset (FSDD): 8 kHz recordings of spoken digits.

Files ``{digit}_{speaker}_{index}.wav``; the official split puts recording index 0-4 in
test (300 of 3,000) and 5-49 in train (2,700). Log-mel features are cached in
:func:`~snnbench.data.paths.cache_dir` under a key made of the feature parameters and the
bytes of every file read, so an edited, added or removed recording gives a new key.

Spiking FSDD (registered as ``"fsdd-spikes"``): :func:`load_fsdd_spikes_raw` turns each
recording into cochlea spikes ``[T, channels]`` (the SHD recipe), cached the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_write
from .._signature import bound_options, keywords_of
from .._validation import check_choice, check_int, check_positive
from .audio import decode_wav, log_mel_spectrogram
from .paths import cache_dir, default_data_root
from .splits import RawData

FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"
FILENAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$")
TEST_INDICES = range(0, 5)
FEATURES = ("logmel", "waveform")
_CACHE_VERSION = 1  # bump when the feature computation changes


def find_recordings(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the wavs: ``root/recordings``, ``root/fsdd/recordings`` or
    ``root`` itself; default ``default_data_root()/fsdd/recordings``."""
    base = Path(root).expanduser().resolve() if root is not None else default_data_root() / "fsdd"
    for cand in (base / "recordings", base / "fsdd" / "recordings", base):
        if cand.is_dir() and any(FILENAME.match(p.name) for p in cand.iterdir()):
            return cand
    raise ValueError(
        f"no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) found in {base} "
        f"(looked in {base / 'recordings'}, {base / 'fsdd' / 'recordings'} and {base}). "
        f"Get them from {FSDD_URL} (folder recordings/) and pass root=<folder containing "
        "recordings/>, or set SNNBENCH_DATA to a folder holding fsdd/recordings/"
    )


def list_recordings(folder: Path) -> list[tuple[Path, int, str, int]]:
    """``(path, digit, speaker, index)`` for every well-named wav, sorted by
    (digit, speaker, index); other files are ignored."""
    out = []
    for p in folder.iterdir():
        m = FILENAME.match(p.name)
        if m and p.is_file():
            out.append((p, int(m.group(1)), m.group(2), int(m.group(3))))
    out.sort(key=lambda r: (r[1], r[2], r[3]))
    return out


def official_test_mask(recs: list[tuple[Path, int, str, int]]) -> np.ndarray:
    """Official split: True for recordings with index 0-4 (test), False for 5-49 (train)."""
    return np.array([r[3] in TEST_INDICES for r in recs], dtype=bool)


def _cache_key(params: dict, names: list[str], blobs: list[bytes]) -> str:
    h = hashlib.sha256(repr((_CACHE_VERSION, sorted(params.items()))).encode())
    for name, blob in zip(names, blobs):
        h.update(name.encode())
        h.update(len(blob).to_bytes(8, "little"))
        h.update(blob)
    return h.hexdigest()[:32]


def _read_cache(path: Path, names: list[str], n_mels: int) -> list[np.ndarray] | None:
    """Features from a cache file, or None if it is absent, unreadable or inconsistent."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            feats, lengths, cached_names = z["features"], z["lengths"], z["names"]
        ok = (
            feats.ndim == 2 and feats.shape[1] == n_mels and lengths.ndim == 1
            and int(lengths.sum()) == feats.shape[0] and (lengths > 0).all()
            and cached_names.tolist() == names and bool(np.isfinite(feats).all())
        )
    except Exception:  # a truncated/corrupt npz raises many types; recompute in every case
        return None
    if not ok:
        return None
    return np.split(feats, np.cumsum(lengths)[:-1])


def _write_cache(path: Path, names: list[str], feats: list[np.ndarray]) -> None:
    try:
        # atomic: a reader never sees a half-written file
        atomic_write(path, lambda f: np.savez(
            f, features=np.concatenate(feats).astype(np.float32),
            lengths=np.array([len(a) for a in feats], dtype=np.int64),
            names=np.array(names),
        ))
    except OSError as err:
        warnings.warn(f"could not write the feature cache {path}: {err}", stacklevel=3)


def fsdd_features(
    root: str | os.PathLike[str] | None = None,
    *,
    features: str = "logmel",
    n_mels: int = 40,
    win_ms: float = 25.0,
    hop_ms: float = 10.0,
    cache: bool = True,
) -> tuple[list[np.ndarray], list[tuple[Path, int, str, int]]]:
    """Per-recording features, ``[frames, n_mels]`` (log-mel) or ``[samples, 1]``
    (waveform in [-1, 1]), and the recording list they belong to."""
    check_choice("features", features, FEATURES)
    n_mels = check_int("n_mels", n_mels, minimum=1)
    check_positive("win_ms", win_ms)
    check_positive("hop_ms", hop_ms)
    recs = list_recordings(find_recordings(root))
    names = [r[0].name for r in recs]
    blobs = [r[0].read_bytes() for r in recs]
    if features == "waveform":
        return [decode_wav(b, str(r[0]))[0][:, None] for b, r in zip(blobs, recs)], recs
    params = {"features": features, "n_mels": n_mels, "win_ms": float(win_ms), "hop_ms": float(hop_ms)}
    path = cache_dir() / f"fsdd-{features}-{_cache_key(params, names, blobs)}.npz"
    if cache:
        hit = _read_cache(path, names, n_mels)
        if hit is not None:
            return hit, recs
    feats = []
    for blob, rec in zip(blobs, recs):
        samples, rate = decode_wav(blob, str(rec[0]))
        feats.append(
            log_mel_spectrogram(samples, rate, n_mels, win_ms=win_ms, hop_ms=hop_ms).numpy()
        )
    if cache:
        _write_cache(path, names, feats)
    return feats, recs


def _official_split(name: str, series: list[np.ndarray], recs, what: str, extra: dict) -> RawData:
    """A ``"timeseries"`` RawData of one array per recording with the official split
    (recording index 0-4 test, 5-49 train); labels are the spoken digits."""
    is_test = official_test_mask(recs)
    y = np.array([r[1] for r in recs], dtype=np.int64)
    if is_test.all() or not is_test.any():
        raise ValueError(
            f"FSDD folder {recs[0][0].parent} needs recordings with index 0-4 (test) and 5-49 "
            f"(train); found only {'test' if is_test.all() else 'train'} recordings"
        )
    return RawData(
        name=name, kind="timeseries",
        train_x=[f for f, t in zip(series, is_test) if not t], train_y=y[~is_test],
        test_x=[f for f, t in zip(series, is_test) if t], test_y=y[is_test],
        class_names=tuple(str(i) for i in range(10)),
        description=f"{what} ({int((~is_test).sum())} train / {int(is_test.sum())} test)",
        extra={"modality": "audio", "speakers": sorted({r[2] for r in recs}), **extra},
    )


@keywords_of(fsdd_features)
def load_fsdd_raw(root: str | os.PathLike[str] | None = None, **options) -> RawData:
    """FSDD as a time series ``[frames, n_mels]`` per recording (``features="logmel"``,
    25 ms window, 10 ms hop, 40 bands) or ``[samples, 1]`` (``"waveform"``, 8 kHz).

    Official split: recording index 0-4 test, 5-49 train. Labels are the spoken digit.
    """
    feats, recs = fsdd_features(root, **options)
    opts = bound_options(fsdd_features, root, **options)
    what = f"{opts['n_mels']} log-mel bands" if opts["features"] == "logmel" else "raw 8 kHz waveform"
    return _official_split("fsdd", feats, recs, f"Free Spoken Digit Dataset, {what}", {})


# -- spiking FSDD: cochlea spikes ---------------------------------------------------------

SPIKE_SPIKINGS = ("lif", "delta")


def fsdd_spike_trains(
    root: str | os.PathLike[str] | None = None,
    *,
    n_channels: int = 64,
    dt: float = 10.0,
    max_ms: float = 1000.0,
    spiking: str = "lif",
    tau_mem: float = 10.0,
    gain: float = 1.5,
    threshold: float = 1.0,
    delta_threshold: float = 0.1,
    cache: bool = True,
) -> tuple[list[np.ndarray], list[tuple[Path, int, str, int]]]:
    """Cochlea spike trains per recording, ``[T_i, channels]`` float32 0/1, and the
    recording list.

    Each 8 kHz recording goes through :class:`~snnbench.encoding.cochlea.CochleaEncoder`
    (``n_channels`` gammatone channels on the ERB scale from 100 Hz to 3.6 kHz, envelopes
    at one frame per ``dt`` ms, power-law compression, per-recording peak normalisation,
    then one LIF unit per channel (``gain`` 1.5: ~18% of channel-frames spike), or delta up/down units giving ``2 n_channels``).
    ``T_i = ceil(duration / dt)``, cropped to ``max_ms / dt`` frames (1 s keeps 99% of the
    recordings whole). Cached like the log-mel features.
    """
    from ..encoding.cochlea import CochleaEncoder

    n_channels = check_int("n_channels", n_channels, minimum=1)
    dt = check_positive("dt", dt)
    max_ms = check_positive("max_ms", max_ms)
    spiking = check_choice("spiking", spiking, SPIKE_SPIKINGS)
    max_steps = max(1, int(max_ms // dt))
    recs = list_recordings(find_recordings(root))
    names = [r[0].name for r in recs]
    blobs = [r[0].read_bytes() for r in recs]
    params = {
        "features": "cochlea", "n_channels": n_channels, "dt": float(dt), "max_ms": float(max_ms),
        "spiking": spiking, "tau_mem": float(tau_mem), "gain": float(gain),
        "threshold": float(threshold), "delta_threshold": float(delta_threshold),
    }
    width = n_channels * (2 if spiking == "delta" else 1)
    path = cache_dir() / f"fsdd-cochlea-{_cache_key(params, names, blobs)}.npz"
    if cache:
        hit = _read_cache(path, names, width)
        if hit is not None:
            return hit, recs
    encoders: dict[int, CochleaEncoder] = {}
    trains = []
    for blob, rec in zip(blobs, recs):
        samples, rate = decode_wav(blob, str(rec[0]))
        enc = encoders.get(rate)
        if enc is None:  # filters depend on the sample rate; FSDD is all 8 kHz
            enc = encoders[rate] = CochleaEncoder(
                float(rate), n_channels, dt=dt, spiking=spiking, tau_mem=tau_mem, gain=gain,
                threshold=threshold, delta_threshold=delta_threshold,
            )
        spikes = enc(torch.as_tensor(np.asarray(samples, dtype=np.float32)))[:max_steps, 0]
        trains.append(spikes.numpy().astype(np.float32))
    if cache:
        _write_cache(path, names, trains)
    return trains, recs


@keywords_of(fsdd_spike_trains)
def load_fsdd_spikes_raw(root: str | os.PathLike[str] | None = None, **options) -> RawData:
    """Spiking FSDD (dataset ``"fsdd-spikes"``): cochlea spikes ``[T, channels]`` per
    recording, the SHD recipe applied to FSDD (see :func:`fsdd_spike_trains`).

    A ``"timeseries"`` dataset with lengths (``T = ceil(duration / dt)`` frames, at most
    ``max_ms / dt``); official split (index 0-4 test). Note: :func:`~snnbench.data.load_dataset`
    standardises every time-series channel with training statistics, so the 0/1 spikes
    arrive as ``(s - mean_c) / std_c``, an affine map per channel that the first synapse
    absorbs (spike <=> value > 0; padding is 0, i.e. below every spike value).
    """
    trains, recs = fsdd_spike_trains(root, **options)
    opts = bound_options(fsdd_spike_trains, root, **options)
    spiking, dt = opts["spiking"], opts["dt"]
    what = f"Spiking FSDD: {trains[0].shape[1] if trains else 0} cochlea spike channels ({spiking}), {dt:g} ms steps"
    return _official_split("fsdd-spikes", trains, recs, what, {"dt_ms": float(dt), "standardise": False})
