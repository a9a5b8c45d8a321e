"""``tonic:<Name>`` as a source: small N-MNIST files in tonic's layout, converted at the
boundary by tonic's own ToFrame into time-first event-count frames."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tonic")

from snnbench.data import load_dataset  # noqa: E402
from snnbench.data.events import read_nmnist_bin, write_nmnist_bin  # noqa: E402


def _tree(root, rng, per_digit=2):
    """``root/NMNIST/{Train,Test}/<digit>/*.bin`` with a few random events each."""
    files = {}
    for split in ("Train", "Test"):
        for d in range(10):
            folder = root / "NMNIST" / split / str(d)
            folder.mkdir(parents=True)
            for k in range(per_digit if split == "Train" else 1):
                n = int(rng.integers(5, 30))
                t = np.sort(rng.integers(0, 45_000, n))
                y = rng.integers(0, 34, n)
                y[y == 240] = 0
                path = folder / f"{k:05d}.bin"
                write_nmnist_bin(path, rng.integers(0, 34, n), y, t, rng.integers(0, 2, n))
                files.setdefault(split, []).append((path, d))
    return files


def test_tonic_nmnist_frames_hold_every_event_where_it_belongs(tmp_path):
    files = _tree(tmp_path, np.random.default_rng(0))
    s = load_dataset("tonic:NMNIST", root=tmp_path, val_fraction=0.0, dt_ms=10.0)
    assert s.info.kind == "timeseries" and s.info.input_shape[1] == 2 * 34 * 34
    assert (len(s.train), len(s.test)) == (20, 10) and s.info.num_classes == 10
    assert s.info.name == "tonic:NMNIST" and "tonic.datasets.NMNIST" in s.info.source
    assert s.info.modality == "events"
    # tonic walks the digit folders in sorted order: sample i of train is files["Train"][i]
    for split, key in ((s.train, "Train"), (s.test, "Test")):
        assert split.y.tolist() == [d for _, d in files[key]]
        for i, (path, _) in enumerate(files[key]):
            ev = read_nmnist_bin(path)
            x = split.x[i, : int(split.lengths[i])].numpy().reshape(-1, 2, 34, 34)
            # counts summed over time = a histogram of (polarity, y, x), independent of tonic
            want = np.zeros((2, 34, 34))
            np.add.at(want, (ev.p, ev.y, ev.x), 1)
            np.testing.assert_array_equal(x.sum(0), want)
            # frames are 10 ms windows from the first event on (tonic's ToFrame convention)
            per_frame = np.bincount((ev.t - ev.t.min()) // 10_000, minlength=x.shape[0])
            np.testing.assert_array_equal(x.reshape(x.shape[0], -1).sum(1), per_frame[: x.shape[0]])


def test_tonic_source_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="tonic has no dataset 'NoSuchSet'"):
        load_dataset("tonic:NoSuchSet", root=tmp_path)
    with pytest.raises(ValueError, match="no files in .*NMNIST.*data.download: true"):
        load_dataset("tonic:NMNIST", root=tmp_path)


def test_any_tonic_dataset_objects_convert(tmp_path):
    import tonic

    from snnbench.data import finalize
    from snnbench.data.tonic_source import _offline, raw_from_tonic

    _tree(tmp_path, np.random.default_rng(1))
    # tonic's own class would download a set with fewer than 10,000 files; the offline
    # subclass (the one tonic:<Name> uses) reads the small tree as it is
    nmnist = _offline(tonic.datasets.NMNIST)
    train, test = (nmnist(save_to=str(tmp_path), train=t) for t in (True, False))
    raw = raw_from_tonic(train, test, n_time_bins=4, max_samples=5, name="mine")
    s = finalize(raw, val_fraction=0.0)
    assert s.train.x.shape == (5, 4, 2 * 34 * 34) and len(s.test) == 5
    # tonic's n_time_bins slicing ends at the last timestamp, exclusive: events at t_max drop out
    want = [int((ev.t < ev.t.max()).sum()) for ev in (read_nmnist_bin(train.data[i]) for i in range(5))]
    assert [int(s.train.x[i].sum()) for i in range(5)] == want
    with pytest.raises(ValueError, match="has a transform already"):
        raw_from_tonic(nmnist(str(tmp_path), transform=lambda e: e), test)
