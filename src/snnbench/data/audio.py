"""Audio front end: WAV reading, mel filterbank and log-mel spectrogram.

The mel scale is the HTK one, ``mel(f) = 2595 log10(1 + f / 700)`` (f in Hz). Filters are
triangles whose corners sit at ``n_mels + 2`` points equally spaced in mel between
``fmin`` and ``fmax``, evaluated at the FFT bin frequencies ``k * sample_rate / n_fft``.
Times are in ms, frequencies in Hz.
"""

from __future__ import annotations

import functools
import io
import os
import wave as _wavefile
from pathlib import Path

import numpy as np
import torch

from .._validation import check_int, check_positive


def hz_to_mel(f: float | np.ndarray | torch.Tensor):
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    if isinstance(f, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: float | np.ndarray | torch.Tensor):
    """Inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)``."""
    if isinstance(m, torch.Tensor):
        return 700.0 * (torch.pow(10.0, m / 2595.0) - 1.0)
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_fft: int,
    n_mels: int,
    sample_rate: float,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    norm: str | None = None,
    dtype: torch.dtype = torch.float64,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Triangular mel filters, ``[n_mels, n_fft // 2 + 1]``.

    Filter ``m`` rises linearly from corner ``f[m]`` to 1 at ``f[m+1]`` and falls to 0 at
    ``f[m+2]``, the corners being equally spaced in mel. ``norm="slaney"`` scales each
    triangle by ``2 / (f[m+2] - f[m])`` (equal area); ``None`` keeps peak height 1.
    Raises ValueError when a filter catches no FFT bin (too many bands for ``n_fft``),
    unless ``allow_empty``: then such filters stay rows of zeros and ``fmax`` may lie above
    the Nyquist frequency (the bands above it are empty), as torchaudio's ``MelScale`` builds
    them (used to reproduce published front ends).
    """
    n_fft = check_int("n_fft", n_fft, minimum=2)
    n_mels = check_int("n_mels", n_mels, minimum=1)
    sample_rate = check_positive("sample_rate", sample_rate)
    nyquist = sample_rate / 2.0
    fmax = nyquist if fmax is None else float(fmax)
    fmin = float(fmin)
    if not (0.0 <= fmin < fmax and (allow_empty or fmax <= nyquist)):
        raise ValueError(
            f"need 0 <= fmin < fmax <= sample_rate / 2 = {nyquist} Hz, got fmin={fmin}, fmax={fmax}"
        )
    if norm not in (None, "slaney"):
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (sample_rate / n_fft)
    mels = torch.linspace(float(hz_to_mel(fmin)), float(hz_to_mel(fmax)), n_mels + 2, dtype=torch.float64)
    corners = mel_to_hz(mels)
    lower, centre, upper = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    empty = torch.nonzero(fb.sum(dim=1) == 0).flatten().tolist()
    if empty and not allow_empty:
        raise ValueError(
            f"mel filters {empty} of n_mels={n_mels} contain no FFT bin with n_fft={n_fft} at "
            f"{sample_rate} Hz; increase n_fft or reduce n_mels"
        )
    if norm == "slaney":
        fb = fb * (2.0 / (upper - lower))
    return fb.to(dtype)


def _frame_sizes(sample_rate: float, win_ms: float, hop_ms: float, n_fft: int | None) -> tuple[int, int, int]:
    win = int(round(check_positive("win_ms", win_ms) * sample_rate / 1000.0))
    hop = int(round(check_positive("hop_ms", hop_ms) * sample_rate / 1000.0))
    if win < 2 or hop < 1:
        raise ValueError(f"win_ms={win_ms} / hop_ms={hop_ms} give fewer than 2 / 1 samples at {sample_rate} Hz")
    if n_fft is None:
        n_fft = 1 << (win - 1).bit_length()  # next power of two >= window
    n_fft = check_int("n_fft", n_fft, minimum=2)
    if n_fft < win:
        raise ValueError(f"n_fft must be >= the window length {win} samples, got {n_fft}")
    return win, hop, n_fft


def num_frames(n_samples: int, sample_rate: float, win_ms: float = 25.0, hop_ms: float = 10.0) -> int:
    """Frames :func:`log_mel_spectrogram` returns for ``n_samples`` samples:
    ``1 + (n_samples - win) // hop`` (a clip shorter than one window gives 1 frame)."""
    win, hop, _ = _frame_sizes(sample_rate, win_ms, hop_ms, None)
    return 1 + max(0, n_samples - win) // hop


def log_mel_spectrogram(
    wave: np.ndarray | torch.Tensor,
    sample_rate: float,
    n_mels: int = 40,
    *,
    win_ms: float = 25.0,
    hop_ms: float = 10.0,
    n_fft: int | None = None,
    fmin: float = 0.0,
    fmax: float | None = None,
    log_offset: float = 1e-6,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Log mel energies of a mono signal, ``[frames, n_mels]`` float32.

    Frames of ``win_ms`` (25 ms) every ``hop_ms`` (10 ms), no centring padding, the
    incomplete tail dropped (a clip shorter than one window is zero padded to one frame).
    Each frame is multiplied by a periodic Hann window ``w[n] = 0.5 - 0.5 cos(2 pi n / win)``,
    zero padded to ``n_fft`` (default: next power of two >= window), and
    ``E[t, m] = log(sum_k fb[m, k] |X_t[k]|^2 + log_offset)``. ``allow_empty`` as in
    :func:`mel_filterbank` (an empty band gives ``log(log_offset)`` in every frame).
    """
    x = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"wave must be a non-empty 1-D signal, got shape {tuple(x.shape)}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("wave contains NaN or infinite samples")
    sample_rate = check_positive("sample_rate", sample_rate)
    log_offset = check_positive("log_offset", log_offset)
    win, hop, n_fft = _frame_sizes(sample_rate, win_ms, hop_ms, n_fft)
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    # numpy, not torch: for many short clips torch's per-op and thread-pool overhead
    # dominates (measured ~15x slower on a busy 2-core machine)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]  # [F, win]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win) / win)
    power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)) ** 2
    fb = _filterbank_np(n_fft, n_mels, float(sample_rate), float(fmin), None if fmax is None else float(fmax),
                        bool(allow_empty))
    return torch.from_numpy(np.log(power @ fb.T + log_offset).astype(np.float32))


@functools.lru_cache(maxsize=16)
def _filterbank_np(n_fft: int, n_mels: int, sample_rate: float, fmin: float, fmax: float | None,
                   allow_empty: bool = False) -> np.ndarray:
    fb = mel_filterbank(n_fft, n_mels, sample_rate, fmin, fmax, allow_empty=allow_empty).numpy()
    fb.setflags(write=False)  # shared between calls
    return fb


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """PCM WAV -> (samples float32 in [-1, 1], sample rate in Hz); channels averaged."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read WAV file {path}: {err}") from None
    return decode_wav(data, str(path))


def decode_wav(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, int]:
    """The bytes of a PCM WAV file -> (samples float32 in [-1, 1], rate in Hz).

    8-bit (unsigned), 16- and 32-bit (signed) PCM; channels are averaged to mono.
    ``name`` only labels error messages.
    """
    try:
        with _wavefile.open(io.BytesIO(data), "rb") as w:
            n_ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (_wavefile.Error, EOFError) as err:
        raise ValueError(f"{name} is not a readable PCM WAV file: {err}") from None
    whole = len(raw) - len(raw) % (width * max(n_ch, 1))  # a cut-off last frame is dropped
    raw = raw[:whole]
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dt = np.dtype("<i2") if width == 2 else np.dtype("<i4")
        samples = np.frombuffer(raw, dtype=dt).astype(np.float32) / float(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{name}: {8 * width}-bit samples are not supported (8, 16 or 32-bit PCM)")
    if samples.size != n * n_ch or n == 0:
        raise ValueError(
            f"{name} is truncated or empty: header says {n} frames, found {samples.size // max(n_ch, 1)}"
        )
    return samples.reshape(-1, n_ch).mean(axis=1), rate
