"""Tests for the event readers (N-MNIST .bin, SHD/SSC HDF5) and event binning."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from snnbench.data.events import (
    Events,
    bin_events,
    collate_time_first,
    events_to_frames,
    load_hsd,
    load_nmnist,
    read_hsd_h5,
    read_nmnist_bin,
    write_hsd_h5,
    write_nmnist_bin,
)

# the development copy of the data, passed explicitly: $SNNBENCH_DATA, else ../shared/data
# beside the repository (snnbench itself never looks there); tests skip when absent
DEV_DATA = Path(os.environ.get("SNNBENCH_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
SAMPLE = DEV_DATA / "nmnist_sample" / "sample_nmnist.bin"
needs_sample = pytest.mark.skipif(
    not SAMPLE.is_file(), reason="real N-MNIST recording not present (../shared/data/nmnist_sample)"
)


# -- N-MNIST .bin --------------------------------------------------------------------------


def test_reads_hand_assembled_bytes():
    # x=3, y=7, ON, t=0x012345; x=33, y=0, OFF, t=5; x=0, y=33, ON, t=2**23-1.
    raw = bytes([3, 7, 0x81, 0x23, 0x45, 33, 0, 0x00, 0x00, 0x05, 0, 33, 0xFF, 0xFF, 0xFF])
    ev = read_nmnist_bin(raw)
    assert ev.x.tolist() == [3, 33, 0]
    assert ev.y.tolist() == [7, 0, 33]
    assert ev.p.tolist() == [1, 0, 1]
    assert ev.t.tolist() == [0x012345, 5, 2**23 - 1]


def test_overflow_marker_is_dropped_and_raises_later_timestamps():
    ev_bytes = [1, 2, 0x80, 0, 10]  # t=10
    marker = [0, 240, 0, 0, 0]
    raw = bytes(ev_bytes + marker + [4, 5, 0x00, 0, 20] + marker + [6, 7, 0x80, 0, 30])
    ev = read_nmnist_bin(raw)
    assert ev.x.tolist() == [1, 4, 6]
    assert ev.t.tolist() == [10, 20 + 2**13, 30 + 2 * 2**13]


def test_overflow_marker_matches_tonic(tmp_path):
    tonic_io = pytest.importorskip("tonic.io")
    import tonic

    marker = [0, 240, 0, 0, 0]
    raw = bytes([1, 2, 0x80, 0, 10] + marker + [4, 5, 0x00, 1, 20] + marker + [6, 7, 0x80, 0, 30])
    path = tmp_path / "ovf.bin"
    path.write_bytes(raw)
    ref = tonic_io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    ev = read_nmnist_bin(path)
    for f in "xytp":
        assert getattr(ev, f).tolist() == ref[f].astype(np.int64).tolist()


def test_write_then_read_roundtrip(tmp_path):
    g = np.random.default_rng(0)
    n = 50
    x, y = g.integers(0, 34, n), g.integers(0, 34, n)
    t, p = np.sort(g.integers(0, 2**23, n)), g.integers(0, 2, n)
    path = tmp_path / "00001.bin"
    write_nmnist_bin(path, x, y, t, p)
    assert path.stat().st_size == 5 * n
    ev = read_nmnist_bin(path)
    for got, want in zip(ev, (x, y, t, p)):
        np.testing.assert_array_equal(got, want)


def test_write_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="t must be in"):
        write_nmnist_bin(tmp_path / "a.bin", [1], [1], [2**23], [0])
    with pytest.raises(ValueError, match="y must not be 240"):
        write_nmnist_bin(tmp_path / "a.bin", [1], [240], [5], [0])
    with pytest.raises(ValueError, match="p must have 1 entries"):
        write_nmnist_bin(tmp_path / "a.bin", [1], [2], [5], [0, 1])


def test_truncated_file_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="multiple of 5"):
        read_nmnist_bin(bytes(7))
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError, match="nope.bin.*garrickorchard"):
        read_nmnist_bin(missing)


@needs_sample
def test_real_recording_matches_tonic_reader():
    tonic_io = pytest.importorskip("tonic.io")
    import tonic

    ev = read_nmnist_bin(SAMPLE)
    ref = tonic_io.read_mnist_file(str(SAMPLE), dtype=tonic.datasets.NMNIST.dtype)
    assert len(ev.x) == len(ref) == 4325
    for f in "xytp":
        np.testing.assert_array_equal(getattr(ev, f), ref[f].astype(np.int64))
    assert ev.x.max() <= 33 and ev.y.max() <= 33
    assert (ev.t.min(), ev.t.max()) == (654, 311175)


@needs_sample
def test_real_recording_frames_conserve_events():
    ev = read_nmnist_bin(SAMPLE)
    frames = events_to_frames(ev, dt=10.0, duration=320.0)
    assert frames.shape == (32, 2, 34, 34)
    assert int(frames.sum()) == len(ev.t)
    # ON events per frame equal a direct count with integer microseconds.
    on_counts = np.bincount(ev.t[ev.p == 1] // 10_000, minlength=32)
    np.testing.assert_array_equal(frames[:, 1].sum(dim=(1, 2)).numpy(), on_counts)


def test_events_to_frames_hand_case():
    ev = Events(x=np.array([0, 5, 5, 33]), y=np.array([1, 2, 2, 33]),
                t=np.array([0, 999, 1000, 2500]), p=np.array([1, 0, 0, 1]))
    f = events_to_frames(ev, dt=1.0, num_steps=3)  # 1 ms bins
    assert f.shape == (3, 2, 34, 34)
    assert f[0, 1, 1, 0] == 1 and f[0, 0, 2, 5] == 1 and f[1, 0, 2, 5] == 1 and f[2, 1, 33, 33] == 1
    assert f.sum() == 4
    with pytest.raises(ValueError, match="events.x"):
        events_to_frames(ev._replace(x=np.array([0, 5, 5, 34])), dt=1.0)


# -- binning -------------------------------------------------------------------------------


def test_bin_events_with_dt_and_num_steps():
    f = bin_events([0.0, 0.5, 1.0, 2.9, 3.0], [0, 0, 1, 2, 1], 3, dt=1.0, num_steps=3)
    want = torch.tensor([[2, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    assert torch.equal(f, want)  # t=3.0 falls outside [0, 3 dt) and is dropped


def test_bin_events_dt_only_and_duration():
    t, u = [0.1, 0.2, 0.3, 0.7], [1, 1, 0, 1]
    f = bin_events(t, u, 2, dt=0.1)  # T = floor(0.7 / 0.1) + 1 = 8
    assert f.shape == (8, 2)
    assert f[1].tolist() == [0, 1] and f[2].tolist() == [0, 1] and f[3].tolist() == [1, 0]
    assert f[7].tolist() == [0, 1] and f.sum() == 4
    g = bin_events(t, u, 2, dt=0.25, duration=0.5)  # T = 2, the event at 0.7 dropped
    assert g.tolist() == [[0, 2], [1, 0]]


def test_bin_events_num_steps_only_and_binary():
    f = bin_events([0.0, 1.0, 1.0, 4.0], [0, 1, 1, 0], 2, num_steps=4)  # dt = 1, last event in last bin
    assert f.tolist() == [[1, 0], [0, 2], [0, 0], [1, 0]]
    assert bin_events([0.0, 1.0, 1.0, 4.0], [0, 1, 1, 0], 2, num_steps=4, binary=True)[1].tolist() == [0, 1]
    g = bin_events([0.0, 1.0, 5.0], [0, 0, 0], 1, num_steps=2, duration=2.0)
    assert g.tolist() == [[1], [1]]  # t=5 beyond duration: dropped
    empty = bin_events([], [], 3, num_steps=2)
    assert empty.shape == (2, 3) and empty.sum() == 0


def test_bin_events_errors():
    with pytest.raises(ValueError, match="units must be in \\[0, 2\\]"):
        bin_events([0.0], [3], 3, dt=1.0)
    with pytest.raises(ValueError, match="times must be finite and >= 0"):
        bin_events([-1.0], [0], 3, dt=1.0)
    with pytest.raises(ValueError, match="neither"):
        bin_events([0.0], [0], 3)
    with pytest.raises(ValueError, match="same length"):
        bin_events([0.0, 1.0], [0], 3, dt=1.0)
    with pytest.raises(ValueError, match="dt"):
        bin_events([0.0], [0], 3, dt=0.0)
    with pytest.raises(ValueError, match="at most two"):
        bin_events([0.0], [0], 3, dt=1.0, num_steps=2, duration=2.0)


# -- SHD / SSC HDF5 -------------------------------------------------------------------------


SAMPLES = [
    (np.array([0.0005, 0.0123, 0.0123, 0.5], dtype=np.float32), np.array([0, 699, 3, 3], dtype=np.uint16), 7),
    (np.array([], dtype=np.float32), np.array([], dtype=np.uint16), 0),
    (np.array([0.001, 1.2], dtype=np.float32), np.array([10, 20], dtype=np.uint16), 19),
]


def _write_raw_h5(path: Path) -> None:
    """The SHD layout written directly with h5py (independent of write_hsd_h5)."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (3,), dtype=h5py.vlen_dtype(np.dtype("float32")))
        u = f.create_dataset("spikes/units", (3,), dtype=h5py.vlen_dtype(np.dtype("uint16")))
        for i, (ti, ui, _) in enumerate(SAMPLES):
            t[i], u[i] = ti, ui
        f["labels"] = np.array([s[2] for s in SAMPLES], dtype=np.uint16)
        f["extra/speaker"] = np.array([1, 2, 3], dtype=np.uint16)


def test_read_hsd_reproduces_written_events(tmp_path):
    path = tmp_path / "shd_train.h5"
    _write_raw_h5(path)
    times, units, labels = read_hsd_h5(path)
    assert labels.tolist() == [7, 0, 19]
    for (ti, ui, _), a, b in zip(SAMPLES, times, units):
        np.testing.assert_array_equal(a, ti.astype(np.float64))
        np.testing.assert_array_equal(b, ui.astype(np.int64))
    # our writer produces a file the reader sees identically
    write_hsd_h5(tmp_path / "copy.h5", times, units, labels)
    t2, u2, l2 = read_hsd_h5(tmp_path / "copy.h5")
    assert l2.tolist() == labels.tolist()
    for a, b in zip(t2, times):
        np.testing.assert_array_equal(a, b)


def test_load_hsd_frames_and_batches(tmp_path):
    _write_raw_h5(tmp_path / "shd_test.h5")
    ds = load_hsd(tmp_path, "shd", "test", dt=10.0, duration=1000.0)
    assert len(ds) == 3 and ds.num_classes == 20
    x0, y0 = ds[0]
    assert x0.shape == (100, 700) and y0 == 7
    # hand binning at 10 ms: 0.5 ms -> bin 0, 12.3 ms -> bin 1 (twice), 500 ms -> bin 50
    assert x0[0, 0] == 1 and x0[1, 699] == 1 and x0[1, 3] == 1 and x0[50, 3] == 1 and x0.sum() == 4
    x2, _ = ds[2]
    assert x2[99, 20] == 1 and x2.sum() == 2  # 1.2 s beyond the 1 s window: clipped to the last bin
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate_time_first)
    xb, yb = next(iter(loader))
    assert xb.shape == (100, 3, 700) and yb.tolist() == [7, 0, 19]
    assert torch.equal(xb[:, 0], x0)
    dense, labels = ds.dense()
    assert dense.shape == (3, 100, 700) and dense.dtype == torch.uint8
    assert torch.equal(dense[2].float(), x2)


def test_missing_hsd_files_say_which_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"shd_train\.h5.*zenkelab\.org"):
        load_hsd(tmp_path, "shd", "train")
    with pytest.raises(FileNotFoundError, match="does not exist.*ssc_valid.h5"):
        load_hsd(tmp_path / "absent", "ssc", "valid")
    with pytest.raises(ValueError, match="split"):
        load_hsd(tmp_path, "shd", "valid")
    bad = tmp_path / "shd_test.h5"
    with h5py.File(bad, "w") as f:
        f["labels"] = np.zeros(2)
    with pytest.raises(ValueError, match="spikes/times"):
        read_hsd_h5(bad)


# -- N-MNIST folder -------------------------------------------------------------------------


def test_load_nmnist_folder(tmp_path):
    train = tmp_path / "Train"
    for d in range(10):
        (train / str(d)).mkdir(parents=True)
        write_nmnist_bin(train / str(d) / "00001.bin", [d], [d + 1], [1000 * d], [d % 2])
    ds = load_nmnist(tmp_path, "train", dt=1.0, duration=10.0)
    assert len(ds) == 10 and ds.labels.tolist() == list(range(10))
    x, y = ds[4]
    assert x.shape == (10, 2, 34, 34) and y == 4
    assert x[4, 0, 5, 4] == 1 and x.sum() == 1
    with pytest.raises(FileNotFoundError, match=r"Test.*garrickorchard"):
        load_nmnist(tmp_path, "test")
    (train / "7" / "00001.bin").unlink()
    (train / "7").rmdir()
    with pytest.raises(FileNotFoundError, match="digit 7"):
        load_nmnist(tmp_path, "train")
