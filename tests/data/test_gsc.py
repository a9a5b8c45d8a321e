"""Google Speech Commands v0.02 on a small folder written in the real layout (16 kHz 16-bit
wavs in word folders, validation_list.txt, testing_list.txt)."""

import wave

import numpy as np
import pytest

from snnbench.data import load_dataset
from snnbench.data.audio import hz_to_mel, mel_to_hz
from snnbench.data.gsc import GSC_WORDS, gsc_features, load_gsc_raw


def _write_wav(path, samples, rate=16000):
    pcm = np.clip(np.round(np.asarray(samples) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _tone(f_hz, seconds=1.0, rate=16000, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * f_hz * t)


@pytest.fixture
def gsc_root(tmp_path):
    root = tmp_path / "speech_commands_v0.02"
    for w in GSC_WORDS:
        (root / w).mkdir(parents=True)
    (root / "_background_noise_").mkdir()
    _write_wav(root / "_background_noise_" / "noise.wav", _tone(300, 2.0))
    files = {("yes", "a_nohash_0.wav"): 500, ("yes", "b_nohash_0.wav"): 700,
             ("no", "a_nohash_0.wav"): 900, ("no", "c_nohash_1.wav"): 1100,
             ("zero", "d_nohash_0.wav"): 1300, ("backward", "e_nohash_0.wav"): 1500}
    for (word, name), f in files.items():
        _write_wav(root / word / name, _tone(f, 0.6))
    (root / "testing_list.txt").write_text("yes/b_nohash_0.wav\nzero/d_nohash_0.wav\n")
    (root / "validation_list.txt").write_text("no/c_nohash_1.wav\n")
    return tmp_path


def test_split_labels_and_shapes(gsc_root):
    raw = load_gsc_raw(gsc_root)
    assert raw.kind == "timeseries" and raw.class_names == GSC_WORDS and len(GSC_WORDS) == 35
    # train: yes/a, no/a, backward/e (no/c is in the validation list, noise is no class)
    assert sorted(raw.train_y.tolist()) == sorted([GSC_WORDS.index(w) for w in ("yes", "no", "backward")])
    assert sorted(raw.test_y.tolist()) == sorted([GSC_WORDS.index(w) for w in ("yes", "zero")])
    assert all(x.shape == (101, 140) and x.dtype == np.float32 for x in [*raw.train_x, *raw.test_x])
    s = load_dataset("gsc", root=gsc_root, val_fraction=0.0)
    assert s.info.input_shape == (101, 140) and s.info.num_classes == 35


def test_features_of_a_tone_peak_in_its_band_and_empty_bands_read_minus_100_db():
    feats = gsc_features(_tone(1000.0))
    assert feats.shape == (101, 140)
    # corners of the 140 HTK bands from 50 Hz to 14 kHz; a band is empty when no FFT bin of
    # the 8 kHz, 256-point spectrum (31.25 Hz apart, up to 4 kHz) lies strictly inside it
    corners = mel_to_hz(np.linspace(hz_to_mel(50.0), hz_to_mel(14000.0), 142))
    bins = np.arange(129) * 8000.0 / 256
    empty = [m for m in range(140) if not ((bins > corners[m]) & (bins < corners[m + 2])).any()]
    assert len(empty) > 40  # every band whose lower corner is above the 4 kHz Nyquist frequency
    np.testing.assert_allclose(feats[:, empty], -100.0, atol=1e-3)
    mid = feats[50]
    assert corners[int(np.argmax(mid))] < 1000.0 < corners[int(np.argmax(mid)) + 2]
    assert np.all(gsc_features(np.zeros(16000)) == pytest.approx(-100.0, abs=1e-3))


def test_clips_are_padded_or_cut_to_one_second():
    long = _tone(700.0, 1.5)
    np.testing.assert_array_equal(gsc_features(long), gsc_features(long[:16000]))
    short = _tone(700.0, 0.5)
    np.testing.assert_array_equal(gsc_features(short), gsc_features(np.concatenate([short, np.zeros(8000)])))


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="testing_list.txt"):
        load_gsc_raw(tmp_path)
    (tmp_path / "testing_list.txt").write_text("")
    (tmp_path / "validation_list.txt").write_text("")
    with pytest.raises(FileNotFoundError, match="word folders"):
        load_gsc_raw(tmp_path)
    with pytest.raises(ValueError, match="unknown option"):
        load_dataset("gsc", root=tmp_path, n_bands=3)
