"""FSDD from a folder: official split, log-mel features, content-keyed cache."""

from __future__ import annotations

import shutil
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbench.data import load_dataset, log_mel_spectrogram, num_frames, read_wav
from snnbench.data.fsdd import find_recordings, list_recordings, official_test_mask

# the development copy of the data, passed explicitly: $SNNBENCH_DATA, else ../shared/data
# beside the repository (snnbench itself never looks there); tests skip when absent
DEV_DATA = Path(os.environ.get("SNNBENCH_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FSDD = DEV_DATA / "fsdd"
pytestmark = pytest.mark.skipif(
    not (FSDD / "recordings").is_dir(), reason=f"FSDD recordings not present at {FSDD}"
)
SUBSET = [f"{d}_{s}_{i}.wav" for d in (0, 7) for s in ("george", "jackson") for i in (0, 3, 5, 6, 40)]


def test_official_split_of_the_full_folder():
    recs = list_recordings(find_recordings(FSDD))
    assert len(recs) == 3000
    mask = official_test_mask(recs)
    assert int(mask.sum()) == 300 and int((~mask).sum()) == 2700
    digits = np.array([r[1] for r in recs])
    assert np.bincount(digits[mask]).tolist() == [30] * 10
    assert all(r[3] <= 4 for r, m in zip(recs, mask) if m)


@pytest.fixture()
def small(tmp_path, monkeypatch):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for name in SUBSET:
        shutil.copy(FSDD / "recordings" / name, rec / name)
    (rec / "notes.txt").write_text("ignored")
    monkeypatch.setenv("SNNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "fsdd"


def test_small_folder_split_features_and_lengths(small):
    s = load_dataset("fsdd", root=small, val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (12, 8)
    assert s.info.kind == "timeseries" and s.info.num_classes == 10
    assert sorted(set(s.train.y.tolist())) == [0, 7] and torch.bincount(s.test.y).tolist()[::7] == [4, 4]
    # train recordings in (digit, speaker, index) order; lengths follow the framing rule
    train_names = sorted((n for n in SUBSET if int(n[:-4].split("_")[2]) >= 5),
                         key=lambda n: (n[0], n.split("_")[1], int(n[:-4].split("_")[2])))
    raws = [read_wav(small / "recordings" / n) for n in train_names]
    assert s.train.lengths.tolist() == [num_frames(len(w), sr) for w, sr in raws]
    assert s.info.input_shape[1] == 40
    feats = [log_mel_spectrogram(w, sr, 40).double() for w, sr in raws]
    allf = torch.cat(feats)
    mean, std = allf.mean(0), allf.std(0, unbiased=False)
    i = 3
    n = int(s.train.lengths[i])
    np.testing.assert_allclose(s.train.x[i, :n].numpy(), ((feats[i] - mean) / std).numpy(), rtol=1e-4, atol=1e-4)
    assert torch.all(s.train.x[i, n:] == 0)
    # a root pointing at recordings/ itself or at its grandparent works too
    t = load_dataset("fsdd", root=small / "recordings", val_fraction=0.0)
    assert torch.equal(t.test.x, s.test.x)


def test_cache_is_reused_recomputed_when_corrupt_and_keyed_by_content(small, tmp_path):
    a = load_dataset("fsdd", root=small, val_fraction=0.0)
    files = list((tmp_path / "cache").glob("fsdd-logmel-*.npz"))
    assert len(files) == 1
    files[0].write_bytes(b"PK\x03\x04 garbage, not a zip")  # corrupt cache file
    b = load_dataset("fsdd", root=small, val_fraction=0.0)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    with np.load(files[0]) as z:  # rewritten with valid content
        assert z["features"].shape[1] == 40 and len(z["lengths"]) == len(SUBSET)
    # a cache file whose content disagrees with the recordings is not trusted either
    with np.load(files[0]) as z:
        np.savez(files[0].with_suffix(""), features=z["features"][:-1], lengths=z["lengths"], names=z["names"])
    c = load_dataset("fsdd", root=small, val_fraction=0.0)
    assert torch.equal(a.train.x, c.train.x)
    # changing one recording's bytes gives a new key, hence a second cache file
    shutil.copy(FSDD / "recordings" / "0_george_1.wav", small / "recordings" / "0_george_0.wav")
    d = load_dataset("fsdd", root=small, val_fraction=0.0)
    assert len(list((tmp_path / "cache").glob("fsdd-logmel-*.npz"))) == 2
    assert not torch.equal(d.test.x, a.test.x)


def test_waveform_features_and_missing_folder(small, tmp_path):
    s = load_dataset("fsdd", root=small, val_fraction=0.0, features="waveform")
    w, _ = read_wav(small / "recordings" / "0_george_5.wav")
    assert s.info.input_shape[1] == 1 and int(s.train.lengths[0]) == len(w)
    with pytest.raises(ValueError, match="features must be one of"):
        load_dataset("fsdd", root=small, features="mfcc")
    with pytest.raises(ValueError, match=r"no FSDD recordings.*empty.*github.com/Jakobovski"):
        load_dataset("fsdd", root=tmp_path / "empty")
