"""Spiking datasets: FSDD through the cochlea (``fsdd-spikes``) on a folder of synthetic
tone recordings the test writes, and SHD (``shd``) on small HDF5 files in the real layout
with hand-written events."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import torch

from snnbench.data import load_dataset
from snnbench.data.events import write_hsd_h5
from snnbench.data.fsdd import load_fsdd_spikes_raw
from snnbench.data.shd import load_shd_raw
from snnbench.encoding.cochlea import centre_frequencies

SR = 8000


def _write_wav(path, samples: np.ndarray) -> None:
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


# digit -> tone frequency (Hz): digit 0 is a low tone, digit 1 a high one
TONES = {0: 300.0, 1: 2000.0}


@pytest.fixture()
def tone_folder(tmp_path, monkeypatch):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    durations = {}
    for digit, f in TONES.items():
        for idx in (0, 1, 5, 6, 7):  # index 0-4 test, 5+ train
            seconds = 0.2 + 0.05 * idx
            n = int(seconds * SR)
            t = np.arange(n) / SR
            name = f"{digit}_synth_{idx}.wav"
            _write_wav(rec / name, 0.5 * np.sin(2 * np.pi * f * t))
            durations[name] = n
    monkeypatch.setenv("SNNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "fsdd", durations


def test_fsdd_spikes_shapes_lengths_split_and_tone_channels(tone_folder):
    root, durations = tone_folder
    raw = load_fsdd_spikes_raw(root, n_channels=16, dt=10.0, max_ms=300.0)
    assert raw.kind == "timeseries" and raw.name == "fsdd-spikes"
    assert (len(raw.train_x), len(raw.test_x)) == (6, 4)
    assert raw.train_y.tolist() == [0, 0, 0, 1, 1, 1] and raw.test_y.tolist() == [0, 0, 1, 1]
    # T = ceil(samples / 80) frames of 10 ms, cropped at 300 ms = 30 frames
    lengths = [a.shape[0] for a in raw.train_x]
    want = [min(30, -(-durations[f"{d}_synth_{i}.wav"] // 80)) for d in (0, 1) for i in (5, 6, 7)]
    assert lengths == want
    cf = centre_frequencies(16, 100.0, 0.45 * SR).numpy()
    for x, y in zip(raw.train_x, raw.train_y):
        assert x.shape[1] == 16 and set(np.unique(x).tolist()) <= {0.0, 1.0}
        counts = x.sum(0)
        # the tone's own channel (nearest centre frequency) fires most
        assert int(counts.argmax()) == int(np.abs(cf - TONES[int(y)]).argmin())


def test_fsdd_spikes_cache_is_used_and_equal(tone_folder, monkeypatch):
    root, _ = tone_folder
    first = load_fsdd_spikes_raw(root, n_channels=8, max_ms=250.0)
    import snnbench.encoding.cochlea as cochlea

    def boom(*a, **k):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(cochlea, "CochleaEncoder", boom)
    second = load_fsdd_spikes_raw(root, n_channels=8, max_ms=250.0)
    for a, b in zip(first.train_x + first.test_x, second.train_x + second.test_x):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(AssertionError, match="cache"):  # other parameters: a new key
        load_fsdd_spikes_raw(root, n_channels=8, max_ms=250.0, gain=2.0)


def test_fsdd_spikes_registered_and_standardised_spikes_keep_their_sign(tone_folder):
    root, _ = tone_folder
    s = load_dataset("fsdd-spikes", root=root, val_fraction=0.0, n_channels=8, max_ms=250.0)
    raw = load_fsdd_spikes_raw(root, n_channels=8, max_ms=250.0)
    assert s.info.input_shape == (25, 8) and s.info.num_classes == 10
    assert s.train.lengths.tolist() == [a.shape[0] for a in raw.train_x]
    for i, a in enumerate(raw.train_x):
        z = s.train.x[i, : a.shape[0]].numpy()
        active = a.std(0) > 0
        # per-channel standardisation is increasing: a spike is above the channel mean
        assert np.all((z[:, active] > 0) == (a[:, active] > 0))


@pytest.mark.parametrize("kw, match", [({"n_channels": 0}, "n_channels"), ({"dt": -1.0}, "dt"),
                                       ({"spiking": "poisson"}, "spiking"),
                                       ({"max_ms": 0.0}, "max_ms")])
def test_fsdd_spikes_bad_arguments(tone_folder, kw, match):
    with pytest.raises(ValueError, match=match):
        load_fsdd_spikes_raw(tone_folder[0], **kw)


# -- SHD ----------------------------------------------------------------------------------

def _shd_files(folder):
    # times in s, units 0..699; hand-binned below with dt = 10 ms, duration 100 ms
    train = (
        [np.array([0.0005, 0.004, 0.0151, 0.0152, 0.095]), np.array([0.031])],
        [np.array([0, 4, 699, 698, 5]), np.array([10])],
        [3, 17],
    )
    test = ([np.array([0.2, 0.001])], [np.array([1, 2])], [19])
    write_hsd_h5(folder / "shd_train.h5", *train)
    write_hsd_h5(folder / "shd_test.h5", *test)


def test_shd_binning_matches_hand_counts(tmp_path):
    _shd_files(tmp_path)
    raw = load_shd_raw(tmp_path, dt=10.0, duration=100.0)
    assert raw.kind == "timeseries" and raw.train_y.tolist() == [3, 17] and raw.test_y.tolist() == [19]
    a, b = raw.train_x
    # sample 0: last spike at 95 ms -> 10 frames; units 0, 4 in frame 0; 699, 698 in frame 1
    assert a.shape == (10, 700)
    want = np.zeros((10, 700), dtype=np.float32)
    want[0, [0, 4]] = 1
    want[1, [698, 699]] = 1
    want[9, 5] = 1
    np.testing.assert_array_equal(a, want)
    assert b.shape == (4, 700) and b.sum() == 1 and b[3, 10] == 1
    # test sample: the 200 ms spike is after the 100 ms window and lands in the last frame
    (c,) = raw.test_x
    assert c.shape == (10, 700) and c[0, 2] == 1 and c[9, 1] == 1 and c.sum() == 2


def test_shd_channel_bins_and_registered_name(tmp_path):
    _shd_files(tmp_path)
    raw = load_shd_raw(tmp_path, dt=10.0, duration=100.0, channel_bin=5)
    a = raw.train_x[0]
    assert a.shape == (10, 140)
    assert a[0, 0] == 2 and a[1, 139] == 2 and a[9, 1] == 1 and a.sum() == 5
    s = load_dataset("shd", root=tmp_path, val_fraction=0.0, dt=10.0, duration=100.0, channel_bin=5)
    assert s.info.input_shape == (10, 140) and s.info.num_classes == 20
    assert s.train.lengths.tolist() == [10, 4]
    assert torch.equal(s.test.y, torch.tensor([19]))


def test_shd_missing_files_and_bad_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="shd_train.h5"):
        load_shd_raw(tmp_path)
    write_hsd_h5(tmp_path / "shd_train.h5", [np.array([0.01])], [np.array([3])], [0])
    with pytest.raises(FileNotFoundError, match="shd_test.h5"):
        load_shd_raw(tmp_path)
    with pytest.raises(ValueError, match="channel_bin"):
        load_shd_raw(tmp_path, channel_bin=3)
    with pytest.raises(ValueError, match="duration"):
        load_shd_raw(tmp_path, dt=10.0, duration=5.0)


def test_ssc_reads_the_same_layout_with_35_classes(tmp_path):
    from snnbench.data.shd import load_ssc_raw

    with pytest.raises(FileNotFoundError, match="ssc_train.h5"):
        load_ssc_raw(tmp_path)
    # times in s; dt 10 ms, duration 50 ms: 12 ms -> frame 1, 49 ms -> frame 4
    write_hsd_h5(tmp_path / "ssc_train.h5", [np.array([0.012, 0.049]), np.array([0.001])],
                 [np.array([7, 699]), np.array([0])], [34, 0])
    write_hsd_h5(tmp_path / "ssc_valid.h5", [np.array([0.002])], [np.array([1])], [5])
    with pytest.raises(FileNotFoundError, match="ssc_test.h5"):
        load_ssc_raw(tmp_path)
    write_hsd_h5(tmp_path / "ssc_test.h5", [np.array([0.033])], [np.array([350])], [12])
    raw = load_ssc_raw(tmp_path, dt=10.0, duration=50.0, channel_bin=5)
    a, b = raw.train_x
    assert a.shape == (5, 140) and a[1, 1] == 1 and a[4, 139] == 1 and a.sum() == 2
    assert b.shape == (1, 140) and b[0, 0] == 1
    assert raw.train_y.tolist() == [34, 0] and len(raw.class_names) == 35
    s = load_dataset("ssc", root=tmp_path, val_fraction=0.0, dt=10.0, duration=50.0, channel_bin=5)
    assert s.info.num_classes == 35 and s.info.input_shape == (5, 140)
    assert s.test.x[0, 3, 70] == 1 and s.test.lengths.tolist() == [4]
    with pytest.raises(ValueError, match="channel_bin"):
        load_ssc_raw(tmp_path, channel_bin=3)


def test_spike_trains_are_not_standardised():
    """Spiking sets opt out of per-channel z-scoring: 0/1 stays 0/1 (ACs, not MACs)."""
    from snnbench.data import RawData, finalize

    rng = np.random.default_rng(0)
    seqs = [(rng.random((5 + i % 3, 4)) < 0.3).astype(np.float32) for i in range(20)]
    y = np.arange(20) % 2
    for standardise in (True, False):
        raw = RawData("toy", "timeseries", seqs[:14], y[:14], seqs[14:], y[14:], ("a", "b"),
                      extra={"standardise": standardise})
        x = finalize(raw, val_fraction=0.0).train.x
        binary = bool(((x == 0) | (x == 1)).all())
        assert binary is (not standardise)
