"""Google Speech Commands v0.02 (Warden 2018), 35 words, as log-mel series: the front end
of Hammouamri et al. 2023 ("Learning delays in SNNs with dilated convolutions with
learnable spacings", configuration ``best_config_GSC.py`` and ``datasets.py`` of their
code, github.com/Thvnvtos/SNN-delays).

Folder (the archive ``speech_commands_v0.02.tar.gz`` unpacked): ``<root>/<word>/*.wav``
(16 kHz, 16-bit mono, at most 1 s), ``validation_list.txt`` and ``testing_list.txt`` (one
``word/file.wav`` per line); ``_background_noise_/`` is not a class and is skipped.
Split: the files of ``testing_list.txt`` are test; train is every other file that is not
in ``validation_list.txt`` (the dataset's standard training set). Validation is carved
from train as for every set (``data.val_fraction``); the official validation list is not
read further.

Features of one clip (the reference's transform, Hammouamri et al.'s ``build_transform``):

1. zero padded (at the end) or cut to 1 s = 16,000 samples;
2. resampled to 8 kHz (``scipy.signal.resample_poly``, a Kaiser-windowed FIR; the
   reference uses torchaudio's windowed-sinc ``Resample``);
3. power spectrum of 256-sample (32 ms) periodic-Hann frames every 80 samples (10 ms),
   centred as torchaudio's ``Spectrogram(center=True)`` centres them (reflect padding of
   128 samples at each end), so 101 frames;
4. 140 HTK mel bands from 50 Hz to 14 kHz without normalisation: the reference asks for
   ``f_max = 14000`` at an 8 kHz sample rate, so the bands above the 4 kHz Nyquist
   frequency are empty (as in torchaudio's ``MelScale``, which allows that);
5. decibels, ``10 log10(max(E, 1e-10))`` (torchaudio's ``AmplitudeToDB``; an empty band
   reads -100 dB in every frame).

A sample is ``[101, 140]``. Reading the full set decodes 105,829 files once per load
(several minutes on one core) and holds about 6 GB of float32 features.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .._signature import takes_options_of
from .._validation import check_int, check_positive
from .audio import log_mel_spectrogram, read_wav
from .paths import resolve_root
from .splits import RawData

__all__ = ["GSC_WORDS", "gsc_features", "load_gsc_raw"]

FOLDER = "speech_commands_v0.02"
GSC_SOURCE = (
    "Google Speech Commands v0.02 comes from "
    "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz: unpack it into a folder "
    "(it holds one folder per word, validation_list.txt and testing_list.txt)"
)
#: The 35 words of v0.02 in the reference's label order (alphabetical).
GSC_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual",
    "wow", "yes", "zero",
)
SAMPLE_RATE = 16000


def gsc_features(
    wave: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    clip_s: float = 1.0,
    target_rate: int = 8000,
    n_fft: int = 256,
    hop: int = 80,
    n_mels: int = 140,
    fmin: float = 50.0,
    fmax: float = 14000.0,
) -> np.ndarray:
    """Log-mel (dB) features ``[frames, n_mels]`` float32 of one clip (steps 1-5 of the
    module docstring; ``hop`` and ``n_fft`` in samples at ``target_rate``)."""
    from scipy.signal import resample_poly

    sample_rate = check_int("sample_rate", sample_rate, minimum=1)
    target_rate = check_int("target_rate", target_rate, minimum=1)
    n = int(round(check_positive("clip_s", clip_s) * sample_rate))
    x = np.asarray(wave, dtype=np.float64).ravel()[:n]
    x = np.pad(x, (0, n - x.size))
    if target_rate != sample_rate:
        g = math.gcd(target_rate, sample_rate)
        x = resample_poly(x, target_rate // g, sample_rate // g)
    x = np.pad(x, n_fft // 2, mode="reflect")  # centred frames, as torchaudio's center=True
    log_e = log_mel_spectrogram(
        x, target_rate, n_mels, win_ms=1000.0 * n_fft / target_rate, hop_ms=1000.0 * hop / target_rate,
        n_fft=n_fft, fmin=fmin, fmax=fmax, log_offset=1e-10, allow_empty=True,
    ).numpy().astype(np.float64)
    # log(E + 1e-10) -> 10 log10(max(E, 1e-10)): equal up to the 1e-10 floor's rounding
    return (10.0 / math.log(10.0) * log_e).astype(np.float32)


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise FileNotFoundError(f"Speech Commands needs {path}; not found. {GSC_SOURCE}")
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


@takes_options_of(gsc_features, drop=("wave", "sample_rate"))
def load_gsc_raw(root: str | os.PathLike[str] | None = None, **options) -> RawData:
    """Speech Commands v0.02 from ``root`` (the unpacked archive, or a folder holding
    ``speech_commands_v0.02/``; default ``default_data_root()/speech_commands_v0.02``) as
    ``[101, 140]`` dB log-mel series; the keywords are :func:`gsc_features`' (defaults: the
    reference's). Raises FileNotFoundError naming what is missing and where the data comes
    from."""
    base = resolve_root(root, FOLDER)
    folder = next((p for p in (base, base / FOLDER) if (p / "testing_list.txt").is_file()), base)
    test_list = _read_list(folder / "testing_list.txt")
    val_list = _read_list(folder / "validation_list.txt")
    missing = [w for w in GSC_WORDS if not (folder / w).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"Speech Commands folder {folder} lacks the word folders {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} ({len(missing)} of 35). {GSC_SOURCE}"
        )
    parts: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    for label, word in enumerate(GSC_WORDS):
        for wav in sorted((folder / word).glob("*.wav")):
            rel = f"{word}/{wav.name}"
            split = "test" if rel in test_list else None if rel in val_list else "train"
            if split is None:
                continue
            wave, rate = read_wav(wav)
            if rate != SAMPLE_RATE:
                raise ValueError(f"{wav}: sample rate {rate} Hz, Speech Commands clips are {SAMPLE_RATE} Hz")
            parts[split][0].append(gsc_features(wave, rate, **options))
            parts[split][1].append(label)
    for split, (xs, _) in parts.items():
        if not xs:
            raise ValueError(f"Speech Commands folder {folder}: no {split} clips found (check the lists). {GSC_SOURCE}")
    return RawData(
        name="gsc", kind="timeseries",
        train_x=parts["train"][0], train_y=np.asarray(parts["train"][1], dtype=np.int64),
        test_x=parts["test"][0], test_y=np.asarray(parts["test"][1], dtype=np.int64),
        class_names=GSC_WORDS,
        description=(
            f"Google Speech Commands v0.02, 35 words, {parts['train'][0][0].shape[1]} dB log-mel bands, "
            f"10 ms frames ({len(parts['train'][1])} train / {len(parts['test'][1])} test)"
        ),
        extra={"dt_ms": 10.0, "modality": "audio"},
    )
