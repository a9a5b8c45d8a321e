"""Mel filterbank, log-mel spectrogram and WAV reading against direct computations."""

from __future__ import annotations

import wave
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbench.data import (
    hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz, num_frames, read_wav,
)

# the development copy of the data, passed explicitly: $SNNBENCH_DATA, else ../shared/data
# beside the repository (snnbench itself never looks there); tests skip when absent
DEV_DATA = Path(os.environ.get("SNNBENCH_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FSDD = DEV_DATA / "fsdd" / "recordings"


def test_mel_scale_round_trip_and_anchor():
    # the HTK scale is built so that 1000 Hz is ~1000 mel
    assert abs(float(hz_to_mel(1000.0)) - 1000.0) < 0.1
    f = np.array([0.0, 55.0, 440.0, 3999.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
    t = torch.tensor(f)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(t)).numpy(), f, atol=1e-9)


def _triangles(n_fft, n_mels, sr, fmin, fmax):
    """Direct per-filter, per-bin evaluation of the triangle definition."""
    m = np.linspace(2595 * np.log10(1 + fmin / 700), 2595 * np.log10(1 + fmax / 700), n_mels + 2)
    edges = 700 * (10 ** (m / 2595) - 1)
    out = np.zeros((n_mels, n_fft // 2 + 1))
    for i in range(n_mels):
        a, b, c = edges[i], edges[i + 1], edges[i + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if a < f <= b:
                out[i, k] = (f - a) / (b - a)
            elif b < f < c:
                out[i, k] = (c - f) / (c - b)
    return out, edges


def test_filterbank_matches_triangle_definition():
    fb = mel_filterbank(256, 40, 8000)
    want, _ = _triangles(256, 40, 8000, 0.0, 4000.0)
    assert fb.shape == (40, 129) and fb.dtype == torch.float64
    np.testing.assert_allclose(fb.numpy(), want, atol=1e-12)
    fb2 = mel_filterbank(512, 20, 16000, 300.0, 6000.0, norm="slaney")
    want2, edges = _triangles(512, 20, 16000, 300.0, 6000.0)
    np.testing.assert_allclose(fb2.numpy(), want2 * (2 / (edges[2:] - edges[:-2]))[:, None], atol=1e-12)
    assert float(fb2[:, : int(300 * 512 / 16000)].abs().max()) == 0.0  # nothing below fmin


def test_filterbank_rejects_bad_arguments():
    with pytest.raises(ValueError, match="fmax"):
        mel_filterbank(256, 40, 8000, fmax=5000)
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(256, 0, 8000)
    with pytest.raises(ValueError, match="contain no FFT bin.*increase n_fft"):
        mel_filterbank(64, 60, 8000)
    with pytest.raises(ValueError, match="norm"):
        mel_filterbank(256, 40, 8000, norm="area")


def _log_mel_direct(x, sr, n_mels, win, hop, n_fft):
    """Explicit DFT sums frame by frame (no FFT routine, no striding tricks)."""
    fb, _ = _triangles(n_fft, n_mels, sr, 0.0, sr / 2)
    n = np.arange(win)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / win)
    k = np.arange(n_fft // 2 + 1)[:, None]
    basis = np.exp(-2j * np.pi * k * n[None, :] / n_fft)  # zero padding to n_fft is implicit
    frames = np.array([x[s : s + win] for s in range(0, len(x) - win + 1, hop)])
    spec = (frames * w) @ basis.T  # [frames, bins]
    return np.log(np.abs(spec) ** 2 @ fb.T + 1e-6)


def test_log_mel_matches_direct_computation_on_a_tone():
    sr = 8000
    t = np.arange(1234) / sr
    x = 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.01 * np.cos(2 * np.pi * 130 * t)
    got = log_mel_spectrogram(x, sr, 40)
    assert got.dtype == torch.float32 and got.shape == (num_frames(1234, sr), 40)
    assert got.shape[0] == 1 + (1234 - 200) // 80
    np.testing.assert_allclose(got.numpy(), _log_mel_direct(x, sr, 40, 200, 80, 256), rtol=1e-5, atol=1e-4)
    # the loudest band is the one whose triangle is highest at 1000 Hz
    fb = mel_filterbank(256, 40, sr).numpy()
    assert int(got.mean(0).argmax()) == int(fb[:, 32].argmax())  # bin 32 = 1000 Hz
    # torch input gives the same result; a clip shorter than a window gives one frame
    np.testing.assert_allclose(log_mel_spectrogram(torch.tensor(x), sr, 40).numpy(), got.numpy())
    assert log_mel_spectrogram(x[:50], sr, 40).shape == (1, 40)
    with pytest.raises(ValueError, match="1-D"):
        log_mel_spectrogram(np.zeros((2, 100)), sr)
    with pytest.raises(ValueError, match="NaN"):
        log_mel_spectrogram(np.array([0.0, np.nan] * 200), sr)


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not present at {FSDD}")
def test_log_mel_of_a_real_recording_matches_direct_computation():
    x, sr = read_wav(FSDD / "3_jackson_7.wav")
    assert sr == 8000 and x.dtype == np.float32 and np.abs(x).max() <= 1.0
    with wave.open(str(FSDD / "3_jackson_7.wav")) as w:
        ints = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(x, ints / 32768.0)
    got = log_mel_spectrogram(x, sr, 40).numpy()
    np.testing.assert_allclose(got, _log_mel_direct(x.astype(np.float64), sr, 40, 200, 80, 256), rtol=1e-5, atol=1e-4)


def _write_wav(path, samples, sr=8000, width=2, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(samples.tobytes())


def test_read_wav_formats_and_errors(tmp_path):
    s16 = np.array([0, 16384, -32768, 32767], dtype="<i2")
    _write_wav(tmp_path / "a.wav", s16)
    x, sr = read_wav(tmp_path / "a.wav")
    assert sr == 8000
    np.testing.assert_allclose(x, [0.0, 0.5, -1.0, 32767 / 32768])
    s8 = np.array([128, 192, 0], dtype=np.uint8)
    _write_wav(tmp_path / "b.wav", s8, width=1)
    np.testing.assert_allclose(read_wav(tmp_path / "b.wav")[0], [0.0, 0.5, -1.0])
    stereo = np.array([100, 300, -200, 0], dtype="<i2")  # two frames of (L, R)
    _write_wav(tmp_path / "c.wav", stereo, channels=2)
    np.testing.assert_allclose(read_wav(tmp_path / "c.wav")[0], [200 / 32768, -100 / 32768])
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "t.wav").write_bytes(data[:-3])
    with pytest.raises(ValueError, match=r"t\.wav is truncated"):
        read_wav(tmp_path / "t.wav")
    (tmp_path / "g.wav").write_bytes(b"not a wav at all")
    with pytest.raises(ValueError, match=r"g\.wav is not a readable PCM WAV"):
        read_wav(tmp_path / "g.wav")
    with pytest.raises(ValueError, match="cannot read WAV file"):
        read_wav(tmp_path / "missing.wav")
